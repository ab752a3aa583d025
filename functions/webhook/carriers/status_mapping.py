"""Carrier status tables: each carrier's section of `status_maps.json`, read once per process and
validated on the way in, and the helpers every carrier's `status` uses.

The rules of each carrier (which of code, detail and message decides) are written beside its
tables in the JSON file, under `_rule`, and in its module's `status`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from shared.shipments.statuses import TrackingStatus

STATUS_MAPS_PATH = Path(__file__).resolve().parent.parent / "status_maps.json"

Table = Mapping[str, TrackingStatus]


@cache
def _status_maps() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(STATUS_MAPS_PATH.read_text(encoding="utf-8"))
    return raw


def section(carrier: str) -> dict[str, Any]:
    """The carrier's part of the file (its tables and notes)."""
    found: dict[str, Any] = _status_maps()[carrier]
    return found


def table(entries: Mapping[str, str], key: Callable[[str], str] = str) -> Table:
    return {key(code): TrackingStatus(status) for code, status in entries.items()}


def statuses(names: Iterable[str]) -> frozenset[TrackingStatus]:
    return frozenset(TrackingStatus(name) for name in names)


def normalise_message(message: str) -> str:
    return " ".join(message.split()).casefold()


def combined_code(code: str | None, detail: str | None) -> str | None:
    """The raw code as stored on an update: `status/detail`, or whichever part exists."""
    if code and detail:
        return f"{code}/{detail}"
    return code or detail or None


def split_code(code: str) -> tuple[str, str | None]:
    """A stored `status/detail` code in its parts."""
    head, _, tail = code.partition("/")
    return head, tail or None


def or_unknown(status: TrackingStatus | None) -> TrackingStatus:
    """Codes a carrier's tables do not list give `unknown` (recorded, never shown over a known status)."""
    return status or TrackingStatus.unknown
