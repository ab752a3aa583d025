"""What the fixture handlers were invoked with (they run in the test's own process)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

_calls: dict[str, list[Any]] = {}
_lock = threading.Lock()


def record(name: str, event: Any) -> None:
    with _lock:
        _calls.setdefault(name, []).append(event)


def calls(name: str) -> list[Any]:
    with _lock:
        return list(_calls.get(name, []))


def wait_for(name: str, found: Callable[[list[Any]], Any], timeout: float = 10.0) -> Any:
    """Polls until `found(calls)` is truthy and returns it; fails the test on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = found(calls(name))
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"{name}: nothing matching after {timeout} s; calls: {calls(name)!r}"[:2000])
