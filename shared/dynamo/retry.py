"""One retry policy for the data layer: capped exponential backoff with full jitter.

Used for what DynamoDB hands back unfinished (unprocessed batch items) and for optimistic
re-read-and-write loops that lost a race (`ChangedMeanwhile`)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from shared.errors import ChangedMeanwhile

T = TypeVar("T")

BASE_DELAY_S = 0.05
MAX_DELAY_S = 1.0


def backoff(attempt: int, *, base: float = BASE_DELAY_S, cap: float = MAX_DELAY_S) -> float:
    """Seconds to wait before attempt `attempt + 1` (full jitter, AWS architecture blog)."""
    return random.uniform(0, min(cap, base * 2 ** attempt))  # noqa: S311 - jitter, not a secret


def attempts(count: int) -> Iterator[int]:
    """0, 1, ... count-1, sleeping with `backoff` between them (not before the first)."""
    for attempt in range(count):
        if attempt:
            time.sleep(backoff(attempt - 1))
        yield attempt


def retry_changed(operation: Callable[[], T], *, tries: int = 8) -> T:
    """Runs `operation` (which re-reads what it changes) until it does not lose a race;
    after `tries` lost races the last `ChangedMeanwhile` goes to the caller."""
    last: ChangedMeanwhile | None = None
    for _ in attempts(tries):
        try:
            return operation()
        except ChangedMeanwhile as lost:
            last = lost
    assert last is not None
    raise last


def poll(probe: Callable[[], T | None], *, seconds: float, first_pause: float = 0.02, max_pause: float = 0.5) -> T | None:
    """Calls `probe` until it answers (not None), pausing a little longer each time; None once
    `seconds` have passed (waiting for another writer to finish, e.g. to release a lease)."""
    deadline = time.monotonic() + seconds
    pause = first_pause
    while True:
        answer = probe()
        if answer is not None:
            return answer
        if time.monotonic() > deadline:
            return None
        time.sleep(pause)
        pause = min(pause * 2, max_pause)
