"""Sendcloud `parcel_status_changed` (carriers/README.md). The parcel carries the recipient's
name, address, phone and email: only the tracking number, status, city and country are read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from functions.webhook.carriers import payload
from functions.webhook.carriers.model import ParsedDelivery
from functions.webhook.carriers.status_mapping import map_status

TRACKING_ACTION = "parcel_status_changed"


def parse(body: dict[str, Any]) -> ParsedDelivery:
    if body.get("action") != TRACKING_ACTION:
        return ParsedDelivery.ignore()
    parcel = payload.obj(body.get("parcel"), "parcel")
    status = payload.obj(parcel.get("status"), "parcel.status")
    status_id = payload.optional_text(status.get("id"), "parcel.status.id")
    message = payload.optional_text(status.get("message"), "parcel.status.message")
    country = payload.optional_obj(parcel.get("country"), "parcel.country")
    carrier = payload.optional_obj(parcel.get("carrier"), "parcel.carrier")
    return ParsedDelivery(
        updates=[
            payload.update(
                tracking_number=payload.text(parcel.get("tracking_number"), "parcel.tracking_number"),
                status=map_status("sendcloud", status_id, message=message),
                carrier_code=status_id,
                carrier_message=message,
                occurred_at=_occurred_at(body),
                **payload.place_fields(parcel.get("city"), None, country.get("iso_2")),
                carrier=payload.optional_text(carrier.get("code"), "parcel.carrier.code"),
            )
        ]
    )


def _occurred_at(body: dict[str, Any]) -> datetime:
    changed = body.get("carrier_status_change_timestamp")
    if changed is not None:
        return payload.epoch_ms_time(changed, "carrier_status_change_timestamp")
    return payload.epoch_ms_time(body.get("timestamp"), "timestamp")
