"""Invoking handlers in this process, as Lambda would: JSON in, JSON out, a context object."""

from __future__ import annotations

import importlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.environment import ProcessEnvironment
from local.functions import FunctionSpec

log = logging.getLogger("local.invoker")

Handler = Callable[[Any, Any], Any]


@dataclass
class LambdaContext:
    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    identity: Any = None
    client_context: Any = None
    _started: float = field(default_factory=time.monotonic)

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/[$LATEST]{self.aws_request_id[:8]}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


class Invoker:
    def __init__(self, own_environments: dict[str, dict[str, str]], environment: ProcessEnvironment) -> None:
        self._own = own_environments
        self._environment = environment
        self._handlers: dict[str, Handler] = {}
        self._import_lock = threading.Lock()

    def invoke(self, function: FunctionSpec, event: Any) -> Any:
        """Runs the handler; raises whatever it raises (callers decide what a failure means)."""
        payload = json.loads(json.dumps(event))  # Lambda hands over a fresh deserialised copy
        context = LambdaContext(function.name, function.arn, function.memory, function.timeout)
        own = self._own.get(function.logical_id, {})
        started = time.monotonic()
        with self._environment.swapped(own):
            handler = self._handler(function)
            result = handler(payload, context)
        elapsed = time.monotonic() - started
        if elapsed > function.timeout:
            log.warning("%s ran %.1f s, beyond its %d s timeout: Lambda would have stopped it",
                        function.logical_id, elapsed, function.timeout)
        return json.loads(json.dumps(result))  # a result Lambda could not serialise fails here too

    def _handler(self, function: FunctionSpec) -> Handler:
        handler = self._handlers.get(function.logical_id)
        if handler is None:
            with self._import_lock:
                module = importlib.import_module(function.module)
                handler = getattr(module, function.attribute)
                self._handlers[function.logical_id] = handler
        return handler
