"""Reading typed fields out of untrusted carrier payloads, failing with `InvalidPayload`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from pydantic import ValidationError

from functions.webhook.carriers.model import InvalidPayload
from shared.platform import clock
from shared.shipments.statuses import CanonicalUpdate
from shared.values.times import OutOfRange, not_ahead_of, utc_instant

# An estimated delivery further ahead than this is no estimate (a hostile or broken value).
ESTIMATE_HORIZON = timedelta(days=366)


def obj(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidPayload(f"{name} must be an object")
    return value


def optional_obj(value: Any, name: str) -> dict[str, Any]:
    return {} if value is None else obj(value, name)


def objects(value: Any, name: str) -> list[dict[str, Any]]:
    """A list of objects; a missing list is empty."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidPayload(f"{name} must be a list")
    return [obj(item, f"{name}[{index}]") for index, item in enumerate(value)]


def text(value: Any, name: str) -> str:
    """A required non-blank string (numbers are accepted as their text: ids, tracking numbers)."""
    found = optional_text(value, name)
    if found is None:
        raise InvalidPayload(f"{name} is missing")
    return found


def optional_text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidPayload(f"{name} must be a string")
    stripped = str(value).strip()
    return stripped or None


def iso_time(value: Any, name: str) -> datetime:
    """ISO 8601 time; without offset it is UTC (DESIGN.md §1.1); one that is no real instant
    (year 1 or 9999 pushed past the calendar by its offset, before 1970) is refused too."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidPayload(f"{name} is missing or not an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidPayload(f"{name} is not an ISO 8601 time: {value[:40]!r}") from None
    try:
        return utc_instant(moment)
    except OutOfRange as error:
        raise InvalidPayload(f"{name} {error}: {value[:40]!r}") from None


def optional_iso_time(value: Any, name: str = "estimated_delivery") -> datetime | None:
    """A time the update may lack (an estimate): absent is None; present, it must be readable and
    real, like any other time (DESIGN.md §1.1: never a 500, never a time out of range)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return iso_time(value, name)


def epoch_ms_time(value: Any, name: str) -> datetime:
    """Milliseconds since the epoch (Sendcloud)."""
    return _epoch(value, name, 1000, "milliseconds")


def epoch_seconds_time(value: Any, name: str) -> datetime:
    return _epoch(value, name, 1, "seconds")


def _epoch(value: Any, name: str, per_second: int, unit: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidPayload(f"{name} must be {unit} since the epoch")
    try:
        return utc_instant(datetime.fromtimestamp(value / per_second, tz=UTC))
    except (OverflowError, OSError, ValueError):
        raise InvalidPayload(f"{name} is out of range: {value}") from None


class Latest(NamedTuple):
    at: datetime
    item: dict[str, Any]


def latest(items: list[dict[str, Any]], time_of: Callable[[int, dict[str, Any]], datetime]) -> Latest | None:
    """The newest item of a history by its time; on a tie the later one in the list. Every
    time is read, so a malformed one anywhere rejects the payload."""
    found: Latest | None = None
    for index, item in enumerate(items):
        moment = time_of(index, item)
        if found is None or moment >= found.at:
            found = Latest(moment, item)
    return found


def place(*parts: Any) -> str | None:
    """A short place text like 'Eindhoven, NL' from city/state/country parts, never a street."""
    kept = [str(part).strip() for part in parts if isinstance(part, str) and part.strip()]
    return ", ".join(kept) or None


def place_fields(city: Any, region: Any, country: Any) -> dict[str, str | None]:
    """`city`, `region`, `country` of an update (what the public page may show) and `location`,
    their text: only from fields a carrier gives apart, never its free-text location."""
    parts = {name: str(value).strip()[:100] if isinstance(value, str) and value.strip() else None
             for name, value in (("city", city), ("region", region), ("country", country))}
    return {**parts, "location": place(*parts.values())}


def update(**fields: Any) -> CanonicalUpdate:
    """The canonical update of a payload, its times checked against the product clock: an event
    more than a day ahead, or an estimate more than a year ahead, makes the update invalid (it
    would otherwise outrank every real event of the parcel)."""
    try:
        made = CanonicalUpdate(**fields)
    except ValidationError as error:
        raise InvalidPayload(describe(error)) from None
    now = clock.now()
    try:
        not_ahead_of(made.occurred_at, now)
    except OutOfRange as error:
        raise InvalidPayload(f"occurred_at {error}") from None
    if made.estimated_delivery is not None and made.estimated_delivery > now + ESTIMATE_HORIZON:
        raise InvalidPayload("estimated_delivery is more than a year ahead of now")
    return made


def describe(error: ValidationError) -> str:
    """A one-line detail naming each bad field, without echoing input values."""
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'body'}: {item['msg']}"
        for item in error.errors(include_url=False, include_input=False)
    )
