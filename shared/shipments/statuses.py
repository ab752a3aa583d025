"""Canonical tracking statuses (DESIGN.md §3), how a shipment's status derives from its parcels,
and the canonical update every carrier payload is turned into (DESIGN.md §1.1)."""


import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.values.times import utc_instant


class TrackingStatus(StrEnum):
    pre_transit = "pre_transit"
    in_transit = "in_transit"
    out_for_delivery = "out_for_delivery"
    delayed = "delayed"
    available_for_pickup = "available_for_pickup"
    failed_attempt = "failed_attempt"
    delivered = "delivered"
    exception = "exception"
    returned_to_sender = "returned_to_sender"
    cancelled = "cancelled"
    unknown = "unknown"
    # Set by the merchant only, never by a carrier.
    archived = "archived"
    deleted = "deleted"


MERCHANT_STATUSES: frozenset[TrackingStatus] = frozenset(
    {TrackingStatus.cancelled, TrackingStatus.archived, TrackingStatus.deleted}
)
CARRIER_STATUSES: frozenset[TrackingStatus] = frozenset(TrackingStatus) - {
    TrackingStatus.archived,
    TrackingStatus.deleted,
}

# Any parcel in one of these makes the shipment take it, first one listed winning.
PARCEL_OVERRIDES: tuple[TrackingStatus, ...] = (
    TrackingStatus.exception,
    TrackingStatus.returned_to_sender,
    TrackingStatus.cancelled,
)

# Otherwise the shipment is as far as its least advanced parcel.
PROGRESS_RANK: dict[TrackingStatus, int] = {
    status: rank
    for rank, status in enumerate(
        (
            TrackingStatus.unknown,
            TrackingStatus.pre_transit,
            TrackingStatus.delayed,
            TrackingStatus.in_transit,
            TrackingStatus.failed_attempt,
            TrackingStatus.out_for_delivery,
            TrackingStatus.available_for_pickup,
            TrackingStatus.delivered,
        )
    )
}


def derive_shipment_status(
    parcel_statuses: Sequence[TrackingStatus], merchant_status: TrackingStatus | None
) -> TrackingStatus:
    """The shipment's status from its parcels' statuses, unless the merchant closed it.

    `merchant_status` is what the merchant set (`cancelled`, `archived`, `deleted`) or None.
    A shipment without parcels is `pre_transit`, the status of a new shipment.
    """
    if merchant_status is not None:
        if merchant_status not in MERCHANT_STATUSES:
            raise ValueError(f"{merchant_status} is not a merchant status")
        return merchant_status
    statuses = [TrackingStatus(status) for status in parcel_statuses]
    for status in PARCEL_OVERRIDES:
        if status in statuses:
            return status
    if not statuses:
        return TrackingStatus.pre_transit
    unranked = [status for status in statuses if status not in PROGRESS_RANK]
    if unranked:
        raise ValueError(f"{unranked[0]} is not a parcel status")
    return min(statuses, key=PROGRESS_RANK.__getitem__)


def is_known(status: TrackingStatus) -> bool:
    """Whether the status says something: an `unknown` update never replaces a known status."""
    return status is not TrackingStatus.unknown


def as_utc(moment: datetime) -> datetime:
    """Carriers send times without offset meaning UTC (DESIGN.md §1.1)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# What one update keeps of a carrier's texts: a parcel's shipment item holds the latest of each per
# parcel (up to 50 parcels) within DynamoDB's 400 KB item limit.
MAX_CARRIER_MESSAGE = 1000
MAX_LOCATION = 200
MAX_CODE = 128


class CanonicalUpdate(BaseModel):
    """One carrier status for one parcel, holding no personal data."""

    model_config = ConfigDict(frozen=True)

    tracking_number: str = Field(min_length=1, max_length=128)
    status: TrackingStatus
    carrier_code: str | None = None
    carrier_message: str | None = None
    occurred_at: datetime
    location: str | None = None
    carrier_event_id: str | None = Field(default=None, min_length=1, max_length=256)
    carrier: str | None = None
    estimated_delivery: datetime | None = None
    # City, region and country apart, when the carrier gives them (never a street or postal code).
    city: str | None = Field(default=None, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, max_length=100)
    # The webhook format (and so the status vocabulary) the update came in.
    source: str | None = None

    @field_validator("tracking_number")
    @classmethod
    def _strip_tracking_number(cls, value: str) -> str:
        stripped = value.strip()
        if not stripped:
            raise ValueError("tracking number is blank")
        return stripped

    @field_validator("status")
    @classmethod
    def _carrier_status_only(cls, value: TrackingStatus) -> TrackingStatus:
        if value not in CARRIER_STATUSES:
            raise ValueError(f"{value} is set by the merchant, never by a carrier")
        return value

    @field_validator("occurred_at", "estimated_delivery")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        # In range as well: an offset can push year 1 or 9999 past the calendar (OverflowError).
        return None if value is None else utc_instant(value)

    @field_validator("carrier_message", mode="before")
    @classmethod
    def _cut_message(cls, value: object) -> object:
        # Free text of any length from a signed carrier: kept, cut, never refused (DESIGN.md §1.1).
        return value[:MAX_CARRIER_MESSAGE] if isinstance(value, str) else value

    @field_validator("location", mode="before")
    @classmethod
    def _cut_location(cls, value: object) -> object:
        return value[:MAX_LOCATION] if isinstance(value, str) else value

    @field_validator("carrier_code", "carrier", mode="before")
    @classmethod
    def _cut_code(cls, value: object) -> object:
        return value[:MAX_CODE] if isinstance(value, str) else value

    def dedup_key(self) -> str:
        """Same carrier event id, or without one same tracking number + status + time: a duplicate."""
        if self.carrier_event_id is not None:
            return self.carrier_event_id
        fingerprint = "\x1f".join((self.tracking_number, self.status.value, self.occurred_at.isoformat()))
        return hashlib.sha256(fingerprint.encode("utf-8")).hexdigest()
