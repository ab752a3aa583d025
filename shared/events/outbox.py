"""Outbox entries: domain events (`shared.events.catalogue`) written on an item (`outbox`) in the
same write as the change.

`functions/outbox` (the table stream's dispatcher) publishes a new entry to the event bus once the
write has landed, so no event exists without its write and a crash only delays it.

The events travel as one JSON string: the stream filter reads only the entry's `id`, and a nested
map would cost a typed DynamoDB value per field of every event on every write (the webhook's hot
path writes one per status change).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from shared.events.catalogue import Event, read


def outbox_entry(*events: Event) -> dict[str, Any]:
    """Events of one type, published from the table's stream once this write lands."""
    if not events:
        raise ValueError("an outbox entry holds at least one event")
    name = events[0].name
    if any(event.name != name for event in events):
        raise ValueError("an outbox entry holds events of one type")
    return {"id": uuid.uuid4().hex, "detail_type": name,
            "events": "[" + ",".join(event.model_dump_json() for event in events) + "]"}


def outbox_events(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The event details of an entry (written as a JSON string, or before that as a list), each
    read through its catalogue class and given back as it is published (JSON values)."""
    events = entry.get("events") or []
    details = json.loads(events) if isinstance(events, str) else events
    return [read(str(entry["detail_type"]), detail).model_dump(mode="json") for detail in details]
