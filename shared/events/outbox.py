"""Outbox entries: domain events written on an item (`outbox`) in the same write as the change.

`functions/outbox` (the table stream's dispatcher) publishes a new entry to the event bus once the
write has landed, so no event exists without its write and a crash only delays it. Any domain
(shipments, exports, ...) uses this; `shared.shipments` re-exports it for older imports.

The events travel as one JSON string: the stream filter reads only the entry's `id`, and a nested
map would cost a typed DynamoDB value per field of every event on every write (the webhook's hot
path writes one per status change).
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any


def outbox_entry(detail_type: str, details: list[dict[str, Any]]) -> dict[str, Any]:
    """Events published from the table's stream once this write lands (see functions/outbox)."""
    return {"id": uuid.uuid4().hex, "detail_type": detail_type,
            "events": json.dumps(details, separators=(",", ":"), default=json_value)}


def outbox_events(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of an entry, whether written as a JSON string or (before that) as a list."""
    events = entry.get("events") or []
    return list(json.loads(events) if isinstance(events, str) else events)


def json_value(value: Any) -> Any:
    # Numbers come back from DynamoDB as Decimal; events carry them as JSON numbers.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)
