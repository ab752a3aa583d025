"""Sendcloud `parcel_status_changed` (carriers/README.md). The parcel carries the recipient's
name, address, phone and email: only the tracking number, status and carrier are read.

Sendcloud says nothing of where a scan happened: the parcel's `city` and `country` are the
recipient's address, so an update has no location (reading them put every scan at the
destination city, issue 17)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from functions.webhook.carriers import payload
from functions.webhook.carriers.model import ParsedDelivery
from functions.webhook.carriers.status_mapping import Table, normalise_message, or_unknown, section, table
from functions.webhook.signatures import SignedRequest, hex_body_signature
from shared.shipments.statuses import TrackingStatus

TRACKING_ACTION = "parcel_status_changed"
SIGNATURE_HEADER = "Sendcloud-Signature"


def verify(request: SignedRequest) -> bool:
    """Hex HMAC-SHA256 of the body."""
    return hex_body_signature(request, SIGNATURE_HEADER)


class Tables(NamedTuple):
    ids: Table
    messages: Table


@cache
def tables() -> Tables:
    raw = section("sendcloud")
    return Tables(ids=table(raw["ids"]), messages=table(raw["messages"], key=normalise_message))


def status(status_id: str | None, detail: str | None = None, message: str | None = None) -> TrackingStatus | None:
    """The status message wins when listed (ids are reused across carriers), else the id."""
    by_message = tables().messages.get(normalise_message(message or ""))
    return by_message or tables().ids.get(status_id or "")


def recognise(code: str) -> TrackingStatus | None:
    """A stored `carrier_code` (the status id)."""
    return tables().ids.get(code)


def parse(body: dict[str, Any]) -> ParsedDelivery:
    if body.get("action") != TRACKING_ACTION:
        return ParsedDelivery.ignore()
    parcel = payload.obj(body.get("parcel"), "parcel")
    number = payload.optional_text(parcel.get("tracking_number"), "parcel.tracking_number")
    if number is None:
        # Sendcloud announces a parcel before its label has a number ("Being announced", 1001):
        # nothing to record yet, and a 400 would only make it deliver the same thing ten times.
        return ParsedDelivery.ignore()
    current = payload.obj(parcel.get("status"), "parcel.status")
    status_id = payload.optional_text(current.get("id"), "parcel.status.id")
    message = payload.optional_text(current.get("message"), "parcel.status.message")
    carrier = payload.optional_obj(parcel.get("carrier"), "parcel.carrier")
    return ParsedDelivery(
        updates=[
            payload.update(
                tracking_number=number,
                status=or_unknown(status(status_id, message=message)),
                carrier_code=status_id,
                carrier_message=message,
                occurred_at=_occurred_at(body),
                carrier=payload.optional_text(carrier.get("code"), "parcel.carrier.code"),
            )
        ]
    )


def _occurred_at(body: dict[str, Any]) -> datetime:
    changed = body.get("carrier_status_change_timestamp")
    if changed is not None:
        return payload.epoch_ms_time(changed, "carrier_status_change_timestamp")
    return payload.epoch_ms_time(body.get("timestamp"), "timestamp")
