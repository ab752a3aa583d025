"""AfterShip `tracking_update` webhooks (carriers/README.md)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from functions.webhook.carriers import payload
from functions.webhook.carriers.model import ParsedDelivery
from functions.webhook.carriers.payload import Latest
from functions.webhook.carriers.status_mapping import Table, or_unknown, section, table
from functions.webhook.signatures import SignedRequest, base64_body_signature
from shared.shipments.statuses import TrackingStatus

TRACKING_EVENT = "tracking_update"
SIGNATURE_HEADER = "aftership-hmac-sha256"


def verify(request: SignedRequest) -> bool:
    """Base64 HMAC-SHA256 of the body."""
    return base64_body_signature(request, SIGNATURE_HEADER)


class Tables(NamedTuple):
    tags: Table
    subtags: Table


@cache
def tables() -> Tables:
    raw = section("aftership")
    return Tables(tags=table(raw["tags"]), subtags=table(raw["subtags"]))


def status(tag: str | None, subtag: str | None = None, message: str | None = None) -> TrackingStatus | None:
    """The subtag wins when listed, else the tag."""
    return tables().subtags.get(subtag or "") or tables().tags.get(tag or "")


def recognise(code: str) -> TrackingStatus | None:
    """A stored `carrier_code` (the subtag, else the tag)."""
    return status(code, code)


def parse(body: dict[str, Any]) -> ParsedDelivery:
    if body.get("event") != TRACKING_EVENT:
        return ParsedDelivery.ignore()
    tracking = payload.obj(body.get("msg"), "msg")
    checkpoints = payload.objects(tracking.get("checkpoints"), "msg.checkpoints")
    newest = payload.latest(checkpoints, _checkpoint_time)
    tag = payload.optional_text(tracking.get("tag"), "msg.tag")
    subtag = payload.optional_text(tracking.get("subtag"), "msg.subtag")
    number = payload.optional_text(tracking.get("tracking_number"), "msg.tracking_number")
    if number is None:
    # DESIGN.md §1.1: an update without a tracking number answers 200 and records nothing.
        return ParsedDelivery.ignore()
    update = payload.update(
        tracking_number=number,
        status=or_unknown(status(tag, subtag)),
        carrier_code=subtag or tag,
        carrier_message=_message(newest),
        occurred_at=newest.at if newest else _without_checkpoints(body, tracking),
        **_place(newest),
        carrier_event_id=payload.optional_text(body.get("event_id"), "event_id"),
        carrier=payload.optional_text(tracking.get("slug"), "msg.slug"),
        estimated_delivery=payload.optional_iso_time(tracking.get("expected_delivery")),
    )
    return ParsedDelivery(updates=[update])


def _checkpoint_time(index: int, checkpoint: dict[str, Any]) -> datetime:
    return payload.iso_time(checkpoint.get("checkpoint_time"), f"msg.checkpoints[{index}].checkpoint_time")


def _message(newest: Latest | None) -> str | None:
    if newest is None:
        return None
    return payload.optional_text(newest.item.get("message"), "msg.checkpoints[].message")


def _place(newest: Latest | None) -> dict[str, str | None]:
    """City, state and country fields only: the free-text `location` may hold a street or a
    postal code."""
    checkpoint = newest.item if newest is not None else {}
    country = checkpoint.get("country_iso3") or checkpoint.get("country_region") or checkpoint.get("country_name")
    return payload.place_fields(checkpoint.get("city"), checkpoint.get("state"), country)


def _without_checkpoints(body: dict[str, Any], tracking: dict[str, Any]) -> datetime:
    """A tracking without checkpoints yet (Pending, Expired): when AfterShip last updated it,
    else when the webhook was sent."""
    if tracking.get("updated_at") is not None:
        return payload.iso_time(tracking["updated_at"], "msg.updated_at")
    return payload.epoch_seconds_time(body.get("ts"), "ts")
