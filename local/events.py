"""EventBridge rules that target functions: moto matches events and delivers them to a private SQS
queue per rule; a feed invokes the function with each event, asynchronously as Lambda would."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from local.async_invoke import AsyncQueueFeed
from local.functions import FunctionSpec, function_by_arn
from local.invoker import Invoker
from local.moto_server import Aws
from local.resources import STACK_NAME, LocalResource

RULE_EVENT_TYPES = ("EventBridgeRule", "CloudWatchEvent")


@dataclass(frozen=True)
class RuleTarget:
    name: str
    function: FunctionSpec
    pattern: dict[str, Any]
    bus: str
    input: str | None = None
    input_path: str | None = None


def rule_targets(functions: dict[str, FunctionSpec], resources: dict[str, LocalResource]) -> list[RuleTarget]:
    targets = []
    for function in functions.values():
        for source in function.events_of(*RULE_EVENT_TYPES):
            props = source.properties
            if "Pattern" not in props:
                continue
            targets.append(RuleTarget(
                name=props.get("RuleName") or f"{STACK_NAME}-{function.logical_id}-{source.name}"[:64],
                function=function, pattern=props["Pattern"], bus=_bus_name(props.get("EventBusName")),
                input=props.get("Input"), input_path=props.get("InputPath")))
    for resource in resources.values():
        if resource.kind == "AWS::Events::Rule" and resource.properties.get("EventPattern"):
            targets += _rule_resource_targets(resource, functions)
    return targets


def _rule_resource_targets(resource: LocalResource, functions: dict[str, FunctionSpec]) -> list[RuleTarget]:
    props = resource.properties
    targets = []
    for target in props.get("Targets") or []:
        function = function_by_arn(functions, target.get("Arn"))
        if function is not None:
            pattern = props["EventPattern"]
            targets.append(RuleTarget(
                name=props.get("Name") or f"{STACK_NAME}-{resource.logical_id}-{target.get('Id', 'target')}"[:64],
                function=function, pattern=json.loads(pattern) if isinstance(pattern, str) else pattern,
                bus=_bus_name(props.get("EventBusName")), input=target.get("Input"),
                input_path=target.get("InputPath")))
    return targets


def _bus_name(value: Any) -> str:
    if not value:
        return "default"
    return str(value).split("event-bus/", 1)[-1]


def _delivered_event(target: RuleTarget, account_id: str) -> Any:
    def convert(event: dict[str, Any]) -> list[Any]:
        event.setdefault("account", account_id)  # moto leaves it out
        if target.input is not None:
            return [json.loads(target.input)]
        if target.input_path:
            selected: Any = event
            for part in target.input_path.removeprefix("$").strip(".").split("."):
                selected = selected.get(part) if part and isinstance(selected, dict) else selected
            return [selected]
        return [event]
    return convert


def start_rule_feeds(targets: list[RuleTarget], invoker: Invoker, aws: Aws,
                     stop: threading.Event) -> list[AsyncQueueFeed]:
    feeds = []
    events, sqs = aws.client("events"), aws.client("sqs")
    for target in targets:
        queue_url = sqs.create_queue(QueueName=f"{STACK_NAME}-rule-{target.name}"[:80])["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=target.name, EventBusName=target.bus, EventPattern=json.dumps(target.pattern),
                        State="ENABLED")
        events.put_targets(Rule=target.name, EventBusName=target.bus, Targets=[{"Id": "local", "Arn": queue_arn}])
        feed = AsyncQueueFeed(f"rule:{target.name}", invoker, aws, target.function, queue_url,
                              _delivered_event(target, aws.account_id), stop)
        feeds.append(feed)
    return feeds

