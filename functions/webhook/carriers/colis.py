"""Our own `colis` format (carriers/README.md): one event, or a batch `{"events": [...]}` whose
events are read one by one so that a bad event does not hold back the others."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Annotated, Any, NamedTuple

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from functions.webhook.carriers import payload
from functions.webhook.carriers.model import EventFailure, InvalidPayload, ParsedDelivery
from functions.webhook.carriers.status_mapping import Table, or_unknown, section, table
from functions.webhook.signatures import SignedRequest, timestamped
from shared.shipments.statuses import CanonicalUpdate, TrackingStatus

# Bounds the work of one request: API Gateway gives a webhook 29 s.
MAX_BATCH_EVENTS = 500
SIGNATURE_HEADER = "Colis-Signature"


def verify(request: SignedRequest) -> bool:
    """`t=<unix>,v1=<hex>`: HMAC-SHA256 of `<t>.<body>`, within the time tolerance."""
    return timestamped(request, SIGNATURE_HEADER)


class Tables(NamedTuple):
    canonical: Table
    aliases: Table
    carrier_codes_from: tuple[str, ...]


@cache
def tables() -> Tables:
    raw = section("colis")
    return Tables(canonical={name: TrackingStatus(name) for name in raw["canonical"]}, aliases=table(raw["aliases"]),
                  carrier_codes_from=tuple(raw["carrier_codes_from"]))


def status(code: str | None, detail: str | None = None, message: str | None = None) -> TrackingStatus | None:
    """A canonical status, an alias, or another carrier's code as our parsers store it (tried in
    the order the JSON gives)."""
    if not code:
        return None
    maps = tables()
    return maps.canonical.get(code) or maps.aliases.get(code) or _other_carriers_code(code, maps.carrier_codes_from)


def _other_carriers_code(code: str, carriers: tuple[str, ...]) -> TrackingStatus | None:
    from functions.webhook.carriers import carrier_module  # the registry imports this module

    for carrier in carriers:
        found = carrier_module(carrier).recognise(code)
        if found is not None:
            return found
    return None


def _iso_8601(value: Any) -> Any:
    # pydantic alone would also take epoch numbers and guess their unit.
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time string")
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError("is not an ISO 8601 date-time") from None


IsoTime = Annotated[datetime, BeforeValidator(_iso_8601)]


class ColisEvent(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    event_id: str = Field(min_length=1, max_length=256)
    carrier: str = Field(min_length=1, max_length=64)
    tracking_number: str = Field(min_length=1, max_length=128)
    status: str = Field(min_length=1, max_length=128)
    occurred_at: IsoTime
    # Free text, kept for the merchant; the public page shows `city`, `region`, `country` only.
    location: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, max_length=100)
    message: str | None = None  # cut to 1,000 characters on the canonical update, never refused
    estimated_delivery: IsoTime | None = None


def parse(body: dict[str, Any]) -> ParsedDelivery:
    if "events" in body:
        return _parse_batch(body["events"]).model_copy(update={"batch": True})
    update = read_event(body)
    return ParsedDelivery(updates=[update]) if update else ParsedDelivery.ignore()


def _parse_batch(events: Any) -> ParsedDelivery:
    if not isinstance(events, list) or not events:
        raise InvalidPayload("events must be a non-empty list of events")
    if len(events) > MAX_BATCH_EVENTS:
        raise InvalidPayload(f"a batch holds at most {MAX_BATCH_EVENTS} events, got {len(events)}")
    updates: list[CanonicalUpdate] = []
    failures: list[EventFailure] = []
    for index, event in enumerate(events):
        try:
            update = read_event(event)
        except InvalidPayload as error:
            failures.append(EventFailure(index, error.detail))
            continue
        if update:
            updates.append(update)
    # Every event without a tracking number: nothing to apply, nothing failed (200, records nothing).
    return ParsedDelivery(updates=updates, failures=failures, ignored=not updates and not failures)


def read_event(event: Any) -> CanonicalUpdate | None:
    """The event's update; None for an event without a tracking number (DESIGN.md §1.1: answered
    200, recorded nowhere: a parcel announced before its label has a number)."""
    if not isinstance(event, dict):
        raise InvalidPayload("an event must be an object")
    number = event.get("tracking_number")
    without_number = number is None or (isinstance(number, str) and not number.strip())
    try:
        # Without a number the rest must still be a valid event: `{}` is a failure, not an announcement.
        parsed = ColisEvent.model_validate({**event, "tracking_number": "-"} if without_number else event)
    except ValidationError as error:
        raise InvalidPayload(payload.describe(error)) from None
    if without_number:
        return None
    return payload.update(
        tracking_number=parsed.tracking_number,
        status=or_unknown(status(parsed.status)),
        carrier_code=parsed.status,
        carrier_message=parsed.message,
        occurred_at=parsed.occurred_at,
        location=parsed.location or payload.place(parsed.city, parsed.region, parsed.country),
        city=parsed.city, region=parsed.region, country=parsed.country,
        carrier_event_id=parsed.event_id,
        carrier=parsed.carrier,
        estimated_delivery=parsed.estimated_delivery,
    )


def recognise(code: str) -> TrackingStatus | None:
    """A stored `carrier_code` of ours: a canonical status or an alias."""
    return tables().canonical.get(code) or tables().aliases.get(code)
