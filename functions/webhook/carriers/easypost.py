"""EasyPost `tracker.updated` / `tracker.created` events (carriers/README.md)."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from functions.webhook.carriers import payload
from functions.webhook.carriers.model import ParsedDelivery
from functions.webhook.carriers.payload import Latest
from functions.webhook.carriers.status_mapping import (
    Table,
    combined_code,
    or_unknown,
    section,
    split_code,
    statuses,
    table,
)
from functions.webhook.signatures import SignedRequest, hmac_sha256, same
from shared.shipments.statuses import TrackingStatus

TRACKING_EVENTS = frozenset({"tracker.updated", "tracker.created"})
SIGNATURE_HEADER = "X-Hmac-Signature"
SIGNATURE_PREFIX = "hmac-sha256-hex="


def verify(request: SignedRequest) -> bool:
    """`hmac-sha256-hex=<hex HMAC-SHA256 of the body>` under the NFKD-normalised secret."""
    given = request.header(SIGNATURE_HEADER)
    if given is None or not given.startswith(SIGNATURE_PREFIX):
        return False
    # EasyPost's client libraries normalise the secret so that visually equal secrets match.
    key = unicodedata.normalize("NFKD", request.secret).encode("utf-8")
    expected = hmac_sha256(key, request.raw_body).hex()
    return same(expected, given[len(SIGNATURE_PREFIX) :].strip().lower())


class Tables(NamedTuple):
    status: Table
    detail: Table
    broad: frozenset[TrackingStatus]
    pairs: Table
    broad_codes: frozenset[str]


@cache
def tables() -> Tables:
    raw = section("easypost")
    return Tables(status=table(raw["status"]), detail=table(raw["status_detail"]),
                  broad=statuses(raw["broad_statuses"]), pairs=table(raw["status_pairs"]),
                  broad_codes=frozenset(raw["broad_codes"]))


def status(code: str | None, detail: str | None = None, message: str | None = None) -> TrackingStatus | None:
    """A listed status/detail pair; else the status, refined by the detail where the status is broad
    (or unknown, or a raw code listed as broad: `failure`) and the detail is not."""
    maps = tables()
    if code and detail and (paired := maps.pairs.get(f"{code}/{detail}")) is not None:
        return paired
    base = maps.status.get(code or "")
    refined = maps.detail.get(detail or "")
    if refined is None:
        return base
    if base is None or base is TrackingStatus.unknown:
        return refined
    if (base in maps.broad or code in maps.broad_codes) and refined not in maps.broad:
        return refined
    return base


def recognise(code: str) -> TrackingStatus | None:
    """A stored `carrier_code` (`status/detail`, the status, or the detail alone)."""
    head, tail = split_code(code)
    if head in tables().status:
        return status(head, tail)
    return status(None, code)


def parse(body: dict[str, Any]) -> ParsedDelivery:
    if body.get("description") not in TRACKING_EVENTS:
        return ParsedDelivery.ignore()
    tracker = payload.obj(body.get("result"), "result")
    details = payload.objects(tracker.get("tracking_details"), "result.tracking_details")
    newest = payload.latest(details, _detail_time)
    code = payload.optional_text(tracker.get("status"), "result.status")
    detail = payload.optional_text(tracker.get("status_detail"), "result.status_detail")
    number = payload.optional_text(tracker.get("tracking_code"), "result.tracking_code")
    if number is None:
    # DESIGN.md §1.1: an update without a tracking number answers 200 and records nothing.
        return ParsedDelivery.ignore()
    update = payload.update(
        tracking_number=number,
        status=or_unknown(status(code, detail)),
        carrier_code=combined_code(code, detail),
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
