"""Shippo `track_updated` webhooks (carriers/README.md)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from functions.webhook.carriers import payload
from functions.webhook.carriers.model import ParsedDelivery
from functions.webhook.carriers.status_mapping import Table, combined_code, or_unknown, section, split_code, table
from functions.webhook.signatures import SignedRequest, same_secret, timestamped
from shared.shipments.statuses import TrackingStatus

TRACKING_EVENT = "track_updated"
SIGNATURE_HEADER = "Shippo-Auth-Signature"
TOKEN_QUERY_PARAMETER = "token"  # noqa: S105 - the parameter's name, not a secret


def verify(request: SignedRequest) -> bool:
    """Shippo signs nothing by default: the merchant puts the secret in the URL as `?token=`.
    Its optional HMAC header is accepted too."""
    token = request.query.get(TOKEN_QUERY_PARAMETER)
    if isinstance(token, str) and same_secret(request.secret, token):
        return True
    return timestamped(request, SIGNATURE_HEADER)


class Tables(NamedTuple):
    status: Table
    substatus: Table


@cache
def tables() -> Tables:
    raw = section("shippo")
    return Tables(status=table(raw["status"]), substatus=table(raw["substatus"]))


def status(code: str | None, substatus: str | None = None, message: str | None = None) -> TrackingStatus | None:
    """The `status/substatus` pair when listed, else the status."""
    by_pair = tables().substatus.get(f"{code}/{substatus}") if code and substatus else None
    return by_pair or tables().status.get(code or "")


def recognise(code: str) -> TrackingStatus | None:
    """A stored `carrier_code` (`status/substatus` or the status)."""
    return status(*split_code(code))


def parse(body: dict[str, Any]) -> ParsedDelivery:
    if body.get("event") != TRACKING_EVENT:
        return ParsedDelivery.ignore()
    track = payload.obj(body.get("data"), "data")
    number = payload.optional_text(track.get("tracking_number"), "data.tracking_number")
    if number is None:
    # DESIGN.md §1.1: an update without a tracking number answers 200 and records nothing.
        return ParsedDelivery.ignore()
    current = payload.obj(track.get("tracking_status"), "data.tracking_status")
    code = payload.optional_text(current.get("status"), "data.tracking_status.status")
    substatus = _substatus_code(current)
    where = payload.optional_obj(current.get("location"), "data.tracking_status.location")
    update = payload.update(
        tracking_number=number,
        status=or_unknown(status(code, substatus)),
        carrier_code=combined_code(code, substatus),
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
