"""The outbox: domain events written on an item (`outbox`) inside the same write as the change,
published from the table's stream. A crash between the write and the publish only delays the
event (the stream retries), and no event exists without its write. Each event is read through its
catalogue class (`shared.events.catalogue`) on the way out: what reaches the bus is a payload the
consumers' classes read."""

from __future__ import annotations

import json
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from shared.dynamo.retry import attempts
from shared.events.catalogue import SOURCE
from shared.events.outbox import outbox_events
from shared.platform import aws
from shared.platform.observability import count

PUT_ATTEMPTS = 3  # refused entries are put again by themselves before the record fails
_deserializer = TypeDeserializer()


def _plain(image: dict[str, Any] | None) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in (image or {}).items()}


def pending_events(record: dict[str, Any]) -> tuple[str, list[dict[str, Any]]] | None:
    """The events a stream record carries, when its write added a new outbox entry."""
    change = record.get("dynamodb", {})
    new_outbox = _plain(change.get("NewImage")).get("outbox")
    if not new_outbox:
        return None
    old_outbox = _plain(change.get("OldImage")).get("outbox") or {}
    if old_outbox.get("id") == new_outbox.get("id"):
        return None
    return str(new_outbox["detail_type"]), outbox_events(new_outbox)


def publish(detail_type: str, events: list[dict[str, Any]], bus_name: str) -> None:
    if not events:
        return
    entries = [{"Source": SOURCE, "DetailType": detail_type, "EventBusName": bus_name,
                "Detail": json.dumps(event, separators=(",", ":"))} for event in events]
    for start in range(0, len(entries), 10):
        _put(entries[start:start + 10], detail_type)
    count(f"{detail_type}Published", len(entries))


def _put(entries: list[dict[str, Any]], detail_type: str) -> None:
    """PutEvents, then again with only the entries it refused: the stream's retry would put the
    accepted ones a second time."""
    pending = entries
    for _ in attempts(PUT_ATTEMPTS):
        response = aws.client("events").put_events(Entries=pending)
        if not response.get("FailedEntryCount"):
            return
        pending = [entry for entry, result in zip(pending, response["Entries"], strict=True) if result.get("ErrorCode")]
    raise RuntimeError(f"EventBridge refused {len(pending)} {detail_type} event(s)")
