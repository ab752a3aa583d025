"""Shippo `track_updated` webhooks (carriers/README.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from functions.webhook.carriers import payload
from functions.webhook.carriers.model import ParsedDelivery
from functions.webhook.carriers.status_mapping import combined_code, map_status

TRACKING_EVENT = "track_updated"


def parse(body: dict[str, Any]) -> ParsedDelivery:
    if body.get("event") != TRACKING_EVENT:
        return ParsedDelivery.ignore()
    track = payload.obj(body.get("data"), "data")
    current = payload.obj(track.get("tracking_status"), "data.tracking_status")
    status = payload.optional_text(current.get("status"), "data.tracking_status.status")
    substatus = _substatus_code(current)
    where = payload.optional_obj(current.get("location"), "data.tracking_status.location")
    update = payload.update(
        tracking_number=payload.text(track.get("tracking_number"), "data.tracking_number"),
        status=map_status("shippo", status, substatus),
        carrier_code=combined_code(status, substatus),
        carrier_message=payload.optional_text(current.get("status_details"), "data.tracking_status.status_details"),
        occurred_at=_status_date(current),
        **payload.place_fields(where.get("city"), where.get("state"), where.get("country")),
        carrier=payload.optional_text(track.get("carrier"), "data.carrier"),
        estimated_delivery=payload.optional_iso_time(track.get("eta")),
    )
    return ParsedDelivery(updates=[update])


def _substatus_code(current: dict[str, Any]) -> str | None:
    substatus = payload.optional_obj(current.get("substatus"), "data.tracking_status.substatus")
    return payload.optional_text(substatus.get("code"), "data.tracking_status.substatus.code")


def _status_date(current: dict[str, Any]) -> datetime:
    if current.get("status_date") is not None:
        return payload.iso_time(current["status_date"], "data.tracking_status.status_date")
    return payload.iso_time(current.get("object_updated"), "data.tracking_status.status_date")
