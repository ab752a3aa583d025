"""The product clock: every time rule (signature windows, TTL, retention, link expiry,
`created_at`) reads it, so tests and the local stack can travel in time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

_lock = threading.Lock()
_offset = timedelta(0)
_fixed: datetime | None = None


def now() -> datetime:
    """Current product time, timezone-aware UTC."""
    with _lock:
        if _fixed is not None:
            return _fixed + _offset
        return datetime.now(UTC) + _offset


def epoch_seconds(moment: datetime | None = None) -> int:
    return int((moment or now()).timestamp())


def advance(delta: timedelta) -> datetime:
    global _offset
    with _lock:
        _offset += delta
    return now()


def set_offset(delta: timedelta) -> None:
    global _offset
    with _lock:
        _offset = delta


def use_fixed(moment: datetime) -> None:
    """Freeze the clock at `moment` (tests); `advance` still moves it."""
    global _fixed, _offset
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    with _lock:
        _fixed = moment
        _offset = timedelta(0)


def reset() -> None:
    global _fixed, _offset
    with _lock:
        _fixed = None
        _offset = timedelta(0)


def isoformat(moment: datetime) -> str:
    """ISO 8601 UTC with a `Z`, millisecond precision: sortable as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
