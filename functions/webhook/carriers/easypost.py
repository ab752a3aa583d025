"""EasyPost `tracker.updated` / `tracker.created` events (carriers/README.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from functions.webhook.carriers import payload
from functions.webhook.carriers.model import ParsedDelivery
from functions.webhook.carriers.payload import Latest
from functions.webhook.carriers.status_mapping import combined_code, map_status

TRACKING_EVENTS = frozenset({"tracker.updated", "tracker.created"})


def parse(body: dict[str, Any]) -> ParsedDelivery:
    if body.get("description") not in TRACKING_EVENTS:
        return ParsedDelivery.ignore()
    tracker = payload.obj(body.get("result"), "result")
    details = payload.objects(tracker.get("tracking_details"), "result.tracking_details")
    newest = payload.latest(details, _detail_time)
    status = payload.optional_text(tracker.get("status"), "result.status")
    detail = payload.optional_text(tracker.get("status_detail"), "result.status_detail")
    update = payload.update(
        tracking_number=payload.text(tracker.get("tracking_code"), "result.tracking_code"),
        status=map_status("easypost", status, detail),
        carrier_code=combined_code(status, detail),
        carrier_message=_message(newest),
        occurred_at=newest.at if newest else _updated_at(body, tracker),
        **_place(newest),
        carrier_event_id=payload.optional_text(body.get("id"), "id"),
        carrier=payload.optional_text(tracker.get("carrier"), "result.carrier"),
        estimated_delivery=payload.optional_iso_time(tracker.get("est_delivery_date")),
    )
    return ParsedDelivery(updates=[update])


def _detail_time(index: int, detail: dict[str, Any]) -> datetime:
    return payload.iso_time(detail.get("datetime"), f"result.tracking_details[{index}].datetime")


def _message(newest: Latest | None) -> str | None:
    if newest is None:
        return None
    return payload.optional_text(newest.item.get("message"), "tracking_details[].message")


def _place(newest: Latest | None) -> dict[str, str | None]:
    if newest is None:
        return payload.place_fields(None, None, None)
    where = payload.optional_obj(newest.item.get("tracking_location"), "tracking_location")
    return payload.place_fields(where.get("city"), where.get("state"), where.get("country"))


def _updated_at(body: dict[str, Any], tracker: dict[str, Any]) -> datetime:
    if tracker.get("updated_at") is not None:
        return payload.iso_time(tracker["updated_at"], "result.updated_at")
    return payload.iso_time(body.get("updated_at"), "updated_at")
