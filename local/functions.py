"""The template's functions as the local stack runs them: handler module, resolved environment,
resolved event sources."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.dynamic_references import resolve_dynamic_references
from local.intrinsics import NO_VALUE, Resolver, Unresolvable
from local.moto_server import Aws
from local.template import FUNCTION_TYPE, Template

log = logging.getLogger("local.functions")

DEFAULT_ASYNC_RETRIES = 2  # Lambda's default for asynchronous invocations


@dataclass(frozen=True)
class EventSource:
    name: str
    kind: str
    properties: dict[str, Any]


@dataclass
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    module: str
    attribute: str
    timeout: int
    memory: int
    environment: dict[str, str]
    events: list[EventSource] = field(default_factory=list)
    async_retries: int = DEFAULT_ASYNC_RETRIES
    # ReservedConcurrentExecutions: events of a function that has it run that many at once, as in
    # Lambda; the others run one at a time (the local stack's order stays predictable).
    concurrency: int = 1
    async_failure_destination: str | None = None
    dead_letter_queue: str | None = None

    def events_of(self, *kinds: str) -> list[EventSource]:
        return [event for event in self.events if event.kind in kinds]


def handler_module(handler: str, code_uri: Any, template_dir: Path, project_root: Path) -> tuple[str, str]:
    """`functions/x/handler.lambda_handler` (relative to CodeUri) -> (`functions.x.handler`, `lambda_handler`)."""
    module_path, _, attribute = handler.rpartition(".")
    code_dir = (template_dir / code_uri).resolve() if isinstance(code_uri, str) else template_dir
    try:
        prefix = code_dir.relative_to(project_root.resolve()).parts
    except ValueError:
        prefix = ()  # template outside the project (test fixtures): the handler path is from the root
    return ".".join([*prefix, *module_path.split("/")]), attribute


def _environment(variables: dict[str, Any], resolver: Resolver, aws: Aws, logical_id: str) -> dict[str, str]:
    environment: dict[str, str] = {}
    for key, raw in variables.items():
        try:
            value = resolver.resolve(raw)
        except Unresolvable as missing:
            log.warning("%s: environment variable %s left unset (%s)", logical_id, key, missing)
            continue
        if value is NO_VALUE:
            continue
        value = resolve_dynamic_references(value, aws)
        environment[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return environment


def _events(raw_events: dict[str, Any], resolver: Resolver, logical_id: str) -> list[EventSource]:
    events = []
    for name, event in raw_events.items():
        try:
            properties = resolver.resolve(event.get("Properties") or {})
        except Unresolvable as missing:
            log.warning("%s: event %s ignored (%s)", logical_id, name, missing)
            continue
        events.append(EventSource(name=name, kind=event.get("Type", ""), properties=properties))
    return events


def _destination(config: dict[str, Any] | None, key: str) -> str | None:
    value = (config or {}).get(key)
    return value if isinstance(value, str) else None


def load_functions(template: Template, resolver: Resolver, aws: Aws, project_root: Path) -> dict[str, FunctionSpec]:
    functions: dict[str, FunctionSpec] = {}
    for logical_id, resource in template.of_type(FUNCTION_TYPE).items():
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            continue
        props = template.function_properties(logical_id)
        if "Handler" not in props or props.get("PackageType") == "Image" or "InlineCode" in props:
            log.warning("%s: not a handler the local stack can import; skipped", logical_id)
            continue
        module, attribute = handler_module(props["Handler"], props.get("CodeUri", "."), template.directory,
                                           project_root)
        invoke_config = resolver.resolve(props.get("EventInvokeConfig") or {})
        on_failure = ((invoke_config.get("DestinationConfig") or {}).get("OnFailure")) or {}
        functions[logical_id] = FunctionSpec(
            logical_id=logical_id,
            name=resolver.ref(logical_id),
            arn=resolver.get_att(logical_id, "Arn"),
            module=module,
            attribute=attribute,
            timeout=int(props.get("Timeout", 3)),
            memory=int(props.get("MemorySize", 128)),
            environment=_environment((props.get("Environment") or {}).get("Variables") or {}, resolver, aws,
                                     logical_id),
            events=_events(props.get("Events") or {}, resolver, logical_id),
            async_retries=int(invoke_config.get("MaximumRetryAttempts", DEFAULT_ASYNC_RETRIES)),
            concurrency=max(1, int(resolver.resolve(props.get("ReservedConcurrentExecutions") or 1))),
            async_failure_destination=_destination(on_failure, "Destination"),
            dead_letter_queue=_destination(resolver.resolve(props.get("DeadLetterQueue") or {}), "TargetArn"),
        )
    return functions


def function_by_arn(functions: dict[str, FunctionSpec], arn: Any) -> FunctionSpec | None:
    return next((function for function in functions.values() if arn in (function.arn, function.name)), None)
