"""Instants read from outside (carrier payloads, list filters): in UTC and within a range nothing
real falls outside, so that no hostile time becomes an OverflowError (a 500) or an event that
outranks the real ones.

`datetime` itself spans years 1 to 9999, but `0001-01-01T00:00:00+14:00` is before year 1 once in
UTC and `9999-12-31T23:59:59-14:00` after 9999: converting either raises OverflowError, and so does
adding a day to 9999-12-31.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)  # carriers count from the Unix epoch
LATEST = datetime(3000, 1, 1, tzinfo=UTC)  # exclusive
# A carrier event may be this far ahead of the product clock (clock skew, a local time sent
# without its offset, which is read as UTC: up to 14 h); beyond it, it would outrank real events.
EVENT_AHEAD_TOLERANCE = timedelta(hours=24)


class OutOfRange(ValueError):
    """A time that is not a real instant for us (a ValueError, so pydantic reports it as a field)."""


def utc_instant(moment: datetime) -> datetime:
    """`moment` in UTC (without offset it is UTC), refused outside [EARLIEST, LATEST)."""
    try:
        instant = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise OutOfRange("is outside the range of dates") from None
    if not EARLIEST <= instant < LATEST:
        raise OutOfRange(f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
    return instant


def not_ahead_of(instant: datetime, now: datetime) -> datetime:
    """An event time no more than EVENT_AHEAD_TOLERANCE ahead of the product clock's `now`."""
    if instant > now + EVENT_AHEAD_TOLERANCE:
        raise OutOfRange("is more than 24 hours ahead of now")
    return instant
