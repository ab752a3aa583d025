"""Starting and stopping the whole local stack: `start_stack(...)` returns a handle with `.stop()`."""

from __future__ import annotations

import importlib
import logging
import os
import secrets
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.admin import CLOCK_DRIVEN_SCHEDULES, LocalRoutes
from local.docs import ApiDocs
from local.environment import ProcessEnvironment, base_environment, split_environments, with_local_values
from local.events import RULE_EVENT_TYPES, rule_targets, start_rule_feeds
from local.functions import FunctionSpec, load_functions
from local.gateway import Gateway, GatewayServer
from local.intrinsics import Resolver
from local.invoker import Invoker
from local.moto_server import Aws, MotoServer, start_moto
from local.notifications import start_notification_feeds
from local.outbox import Outbox
from local.pollers import Poller
from local.queues import queue_pollers
from local.resources import STACK_NAME, create_resources
from local.routes import build_routes
from local.schedules import Schedules, find_schedules
from local.seed import seed_merchants, write_state
from local.ses_feedback import start_ses_feedback
from local.streams import stream_pollers
from local.template import Template
from local.ttl import ServiceDeletions, TtlSweeper, ttl_tables
from local.usage_plans import UsagePlanGate

log = logging.getLogger("local.stack")

_EMULATED_EVENTS = {"Api", "DynamoDB", "SQS", "S3", "SNS", "Schedule", "ScheduleV2", *RULE_EVENT_TYPES}


@dataclass
class Stack:
    environment: ProcessEnvironment
    clock: Any  # shared.clock: the product clock
    outbox: Outbox
    stop_event: threading.Event = field(default_factory=threading.Event)
    api_url: str = ""
    aws_endpoint_url: str = ""
    state: dict[str, Any] = field(default_factory=dict)
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    usage_plan_ids: list[str] = field(default_factory=list)
    aws: Aws | None = None
    schedules: Schedules | None = None
    ttl: TtlSweeper | None = None
    _pollers: list[Poller] = field(default_factory=list)
    _gateway: GatewayServer | None = None
    _moto: MotoServer | None = None

    def stop(self) -> None:
        """Stops the HTTP server, the pollers and moto, and puts the process environment back."""
        if self.stop_event.is_set():
            return
        self.stop_event.set()
        if self._gateway is not None:
            self._gateway.stop()
        for poller in self._pollers:
            poller.join(timeout=5)
        if self._moto is not None and self._moto.startup_error is None:
            self._moto.stop()
        self.environment.restore()
        self.clock.reset()
        aws_module = sys.modules.get("shared.platform.aws")
        if aws_module is not None:
            aws_module.reset_clients()  # cached clients point at the moto that just stopped


def _parameters(template: Template) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, spec in template.parameters.items():
        if "Default" in spec:
            value: Any = spec["Default"]
        elif spec.get("NoEcho"):
            value = secrets.token_hex(24)
        else:
            log.warning("parameter %s has no default; using 'local'", name)
            value = "local"
        values[name] = str(value).split(",") if spec.get("Type") == "CommaDelimitedList" else str(value)
    return values


def _pseudo_parameters(aws: Aws) -> dict[str, Any]:
    return {
        "AWS::Region": aws.region, "AWS::AccountId": aws.account_id, "AWS::StackName": STACK_NAME,
        "AWS::StackId": f"arn:aws:cloudformation:{aws.region}:{aws.account_id}:stack/{STACK_NAME}/local",
        "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::NotificationARNs": [],
    }


def _importable(project_root: Path) -> None:
    if str(project_root) not in sys.path:
        sys.path.insert(0, str(project_root))


def _warn_unemulated(functions: dict[str, FunctionSpec]) -> None:
    for function in functions.values():
        for source in function.events:
            if source.kind not in _EMULATED_EVENTS:
                log.warning("%s: %s events are not emulated locally (%s)", function.logical_id, source.kind,
                            source.name)


def _verify_senders(aws: Aws, environments: dict[str, dict[str, str]]) -> None:
    for address in {env["SENDER_EMAIL"] for env in environments.values() if env.get("SENDER_EMAIL")}:
        aws.client("ses").verify_email_identity(EmailAddress=address)


def _wire(stack: Stack, template: Template, aws: Aws, project_root: Path, background_schedules: bool,
          ttl_interval: float) -> Gateway:
    """Everything between moto and the functions; returns the gateway to serve."""
    resolver = Resolver(template.body, _parameters(template), _pseudo_parameters(aws))
    resources = create_resources(template, resolver, aws)
    stack.usage_plan_ids = [r.ref for r in resources.values() if r.kind == "AWS::ApiGateway::UsagePlan"]
    functions = stack.functions = load_functions(template, resolver, aws, project_root)
    _warn_unemulated(functions)
    environments = with_local_values({name: f.environment for name, f in functions.items()}, stack.api_url)
    shared, own = split_environments(environments)
    stack.environment.apply(shared)
    _verify_senders(aws, environments)
    invoker = Invoker(own, stack.environment)
    stop = stack.stop_event
    deletions = ServiceDeletions()
    stack.ttl = TtlSweeper(aws, ttl_tables(resources), deletions, stack.clock.now, stop, ttl_interval)
    stack.schedules = Schedules(find_schedules(functions, resources), invoker, aws, stack.clock.now)
    ses_feedback, sns_feeds = start_ses_feedback(template.resources, resources, functions, invoker, aws, stop,
                                                 resolver.resolve, stack.clock.now)
    stack.outbox.listen(ses_feedback.on_send)
    stack._pollers += [
        stack.ttl,
        *stream_pollers(functions, invoker, aws, deletions, stop),
        *queue_pollers(functions, invoker, aws, stop),
        *start_rule_feeds(rule_targets(functions, resources), invoker, aws, stop),
        *start_notification_feeds(functions, invoker, aws, stop),
        *sns_feeds,
        *(stack.schedules.timers(stop) if background_schedules else []),
    ]
    for poller in stack._pollers:
        poller.start()
    docs = ApiDocs(project_root / "openapi.json", stack.api_url)
    local_routes = LocalRoutes(stack.clock, stack.ttl.sweep, stack.schedules, stack.outbox, docs,
                               after_clock_move=CLOCK_DRIVEN_SCHEDULES)
    return Gateway(build_routes(template, resolver, functions), invoker, local_routes, UsagePlanGate(aws))


def start_stack(template_path: str | Path = "template.yaml", api_port: int = 3000, moto_port: int = 5000,
                state_file: str | Path | None = "local-stack.json", seed: bool = True, *,
                project_root: str | Path | None = None, background_schedules: bool = True,
                ttl_interval: float = 5.0) -> Stack:
    """Starts moto, creates the template's resources, serves the API and runs the asynchronous
    paths; seeds demo merchants when `seed`; writes `state_file` (if given) once all is ready."""
    root = Path(project_root or Path.cwd()).resolve()
    _importable(root)
    template = Template.load(template_path)
    state_path = Path(state_file) if state_file else None
    if state_path is not None:
        state_path.unlink(missing_ok=True)  # a stale file must not look like a ready stack
    clock = importlib.import_module("shared.platform.clock")
    stack = Stack(environment=ProcessEnvironment(), clock=clock, outbox=Outbox(clock.now))
    try:
        stack._gateway = GatewayServer(api_port)
        stack.api_url = stack._gateway.url
        stack._moto, stack.aws = start_moto(moto_port, stack.outbox.middleware)
        stack.aws_endpoint_url = stack.aws.endpoint_url
        stack.environment.apply(base_environment(stack.aws_endpoint_url))
        gateway = _wire(stack, template, stack.aws, root, background_schedules, ttl_interval)
        stack._gateway.serve(gateway)
        # what the `colis` CLI needs to work against this stack (--table, --secret-prefix, --usage-plan-id)
        stack.state = {"api_url": stack.api_url, "aws_endpoint_url": stack.aws_endpoint_url,
                       "table_name": os.environ.get("TABLE_NAME"),
                       "connection_secret_prefix": os.environ.get("CONNECTION_SECRET_PREFIX"),
                       "usage_plan_id": (stack.usage_plan_ids or [None])[0]}
        if seed:
            stack.state.update(seed_merchants(stack.api_url, stack.usage_plan_ids))
        if state_path is not None:
            write_state(state_path, stack.state)
    except BaseException:
        stack.stop()
        raise
    return stack
