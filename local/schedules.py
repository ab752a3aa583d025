"""Scheduled functions: listed and run on demand by `/_local/schedules`, and run in the background
on their `rate(...)` expressions (cron expressions run on demand only)."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from local.async_invoke import invoke_async
from local.functions import FunctionSpec, function_by_arn
from local.invoker import Invoker
from local.moto_server import Aws
from local.pollers import Poller
from local.resources import LocalResource, truthy

_RATE = re.compile(r"rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Schedule:
    name: str
    function: FunctionSpec
    expression: str | None
    input: str | None
    by_scheduler: bool  # EventBridge Scheduler (ScheduleV2) rather than a scheduled EventBridge rule
    enabled: bool = True


def find_schedules(functions: dict[str, FunctionSpec], resources: dict[str, LocalResource]) -> dict[str, Schedule]:
    found: dict[str, Schedule] = {}
    for function in functions.values():
        for source in function.events_of("Schedule", "ScheduleV2"):
            props = source.properties
            v2 = source.kind == "ScheduleV2"
            enabled = props.get("State", "ENABLED") != "DISABLED" if v2 else truthy(props.get("Enabled", True))
            name = props.get("Name") or source.name
            found[name] = Schedule(name, function, props.get("ScheduleExpression" if v2 else "Schedule"),
                                   props.get("Input"), v2, enabled)
    for resource in resources.values():
        found.update(_resource_schedules(resource, functions))
    return found


def _resource_schedules(resource: LocalResource, functions: dict[str, FunctionSpec]) -> dict[str, Schedule]:
    props = resource.properties
    name = props.get("Name") or resource.logical_id
    if resource.kind == "AWS::Scheduler::Schedule":
        target = props.get("Target") or {}
        function = function_by_arn(functions, target.get("Arn"))
        if function is not None:
            return {name: Schedule(name, function, props.get("ScheduleExpression"), target.get("Input"), True,
                                   props.get("State", "ENABLED") != "DISABLED")}
    if resource.kind == "AWS::Events::Rule" and props.get("ScheduleExpression"):
        for target in props.get("Targets") or []:
            function = function_by_arn(functions, target.get("Arn"))
            if function is not None:
                return {name: Schedule(name, function, props["ScheduleExpression"], target.get("Input"), False,
                                       props.get("State", "ENABLED") != "DISABLED")}
    return {}


def rate_seconds(expression: str | None) -> int | None:
    match = _RATE.fullmatch((expression or "").strip())
    if not match:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


class Schedules:
    def __init__(self, schedules: dict[str, Schedule], invoker: Invoker, aws: Aws,
                 now: Callable[[], datetime]) -> None:
        self._schedules = schedules
        self._invoker, self._aws = invoker, aws
        self._now = now

    def names(self) -> list[str]:
        return sorted(self._schedules)

    def __contains__(self, name: str) -> bool:
        return name in self._schedules

    def run(self, name: str) -> Any:
        """Runs one schedule now and returns the function's result; raises what it raises."""
        schedule = self._schedules[name]
        return self._invoker.invoke(schedule.function, self.event(schedule))

    def fire(self, schedule: Schedule, stop: threading.Event) -> None:
        """What the scheduler does: an asynchronous invocation, with Lambda's retries."""
        invoke_async(self._invoker, self._aws, schedule.function, self.event(schedule), stop)

    def event(self, schedule: Schedule) -> Any:
        if schedule.input is not None:
            return json.loads(schedule.input)
        region, account = self._aws.region, self._aws.account_id
        if schedule.by_scheduler:
            source, resource, detail = "aws.scheduler", f"arn:aws:scheduler:{region}:{account}:schedule/default/{schedule.name}", "{}"
        else:
            source, resource, detail = "aws.events", f"arn:aws:events:{region}:{account}:rule/{schedule.name}", {}
        return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": source,
                "account": account, "time": self._now().strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region,
                "resources": [resource], "detail": detail}

    def timers(self, stop: threading.Event) -> list[Poller]:
        timers: list[Poller] = []
        for schedule in self._schedules.values():
            seconds = rate_seconds(schedule.expression)
            if schedule.enabled and seconds:
                timers.append(_RateTimer(self, schedule, seconds, stop))
        return timers


class _RateTimer(Poller):
    def __init__(self, schedules: Schedules, schedule: Schedule, seconds: int, stop: threading.Event) -> None:
        super().__init__(f"schedule:{schedule.name}", stop, interval=seconds)
        self._schedules, self._schedule = schedules, schedule
        self._armed = False

    def poll_once(self) -> bool:
        if self._armed:  # a rate schedule first fires one period after it is created
            self._schedules.fire(self._schedule, self.stop_event)
        self._armed = True
        return False
