"""Shipments, their parcels and tracking events: the models and the rules on them (no storage)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from shared.events.catalogue import MerchantAction, ShipmentStatusChanged
from shared.shipments.statuses import TrackingStatus, derive_shipment_status
from shared.values.models import Address, Amount, Measure, OptionalText, ShortText, WebUrl, empty_list
from shared.values.money import currency_code, has_valid_precision, in_precision

_TRACKING_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_.]{0,63}$")
MAX_PARCELS = 50


class Package(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: ShortText
    size_unit: Literal["cm", "in"]
    length: Measure
    width: Measure
    height: Measure
    weight_unit: Literal["kg", "lb", "g", "oz"]
    weight: Measure
    contents: ShortText
    description: OptionalText = None
    value: Amount
    currency: str

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str, info: ValidationInfo) -> str:
        return currency_code(value, info)


class Fees(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shipping: Amount | None = None
    provincial_tax: Amount | None = None
    federal_tax: Amount | None = None
    postage: Amount | None = None
    insurance: Amount | None = None


def valid_tracking_number(value: str) -> str:
    value = value.strip()
    if not _TRACKING_NUMBER.match(value):
        raise ValueError("tracking_number must be 1-64 letters, digits, '-', '_' or '.'")
    return value


class ParcelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tracking_number: str
    tracking_url: WebUrl | None = None
    weight: Measure | None = None

    @field_validator("tracking_number")
    @classmethod
    def _number(cls, value: str) -> str:
        return valid_tracking_number(value)


class ShipmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: Annotated[str | None, Field(default=None, max_length=64)] = None
    store: OptionalText = None
    batch_id: Annotated[str | None, Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_\-.]+$")] = None
    recipient: Address
    return_address: Address
    package: Package
    insurance_amount: Amount | None = None
    signature_confirmation: bool = False
    postage_type: ShortText
    carrier: ShortText
    parcels: list[ParcelIn] = Field(min_length=1, max_length=MAX_PARCELS)
    ship_date: date | None = None
    fees: Fees = Field(default_factory=Fees)

    @model_validator(mode="after")
    def _amounts_in_currency_precision(self) -> ShipmentIn:
        currency = self.package.currency
        amounts = {"package.value": self.package.value, "insurance_amount": self.insurance_amount,
                    **{f"fees.{k}": v for k, v in self.fees.model_dump().items()}}
        for field, amount in amounts.items():
            if amount is not None and not has_valid_precision(amount, currency):
                raise ValueError(f"{field} has more decimals than {currency} allows")
        # Amounts are written in the currency's precision ("20" EUR answers "20.00"), as orders' are.
        self.package.value = in_precision(self.package.value, currency)
        if self.insurance_amount is not None:
            self.insurance_amount = in_precision(self.insurance_amount, currency)
        for name, fee in self.fees:
            if fee is not None:
                setattr(self.fees, name, in_precision(fee, currency))
        numbers = [p.tracking_number for p in self.parcels]
        if len(set(numbers)) != len(numbers):
            raise ValueError("each parcel needs its own tracking number")
        return self


class Place(BaseModel):
    """Where a carrier event happened, no finer than a city: what the public page may show."""

    city: str | None = None
    region: str | None = None
    country: str | None = None

    def text(self) -> str | None:
        return ", ".join(part for part in (self.city, self.region, self.country) if part) or None


class Parcel(BaseModel):
    id: str
    index: int
    tracking_number: str
    tracking_url: str | None = None
    # The merchant-scoped public page (the slug of its creation time: a former slug redirects).
    public_tracking_url: str | None = None
    weight: Measure | None = None
    status: TrackingStatus = TrackingStatus.pre_transit
    last_event_at: datetime | None = None
    carrier_code: str | None = None
    carrier_message: str | None = None
    location: str | None = None
    place: Place | None = None
    # Time of the update the status comes from: a later update must be newer to replace it.
    status_at: datetime | None = Field(default=None, exclude=True)
    # Digests of the latest updates applied to this parcel: a repeat is recognised on the read
    # the update needs anyway, and costs no write (see shared/tracking.py).
    recent_updates: list[str] = Field(default_factory=empty_list, exclude=True)


class Shipment(ShipmentIn):
    model_config = ConfigDict(extra="ignore")
    id: str
    status: TrackingStatus
    created_at: datetime
    updated_at: datetime | None = None
    redacted_at: datetime | None = None
    estimated_delivery: datetime | None = None
    # A stored shipment's parcels replace the request's (ids, statuses): pydantic redefines the
    # field, mypy sees an incompatible override of ShipmentIn.parcels.
    parcels: list[Parcel]  # type: ignore[assignment]
    merchant_status: TrackingStatus | None = Field(default=None, exclude=True)
    version: int = Field(default=0, exclude=True)

    def parcel_by_number(self, number: str) -> Parcel | None:
        return next((p for p in self.parcels if p.tracking_number == number), None)


class TrackingEvent(BaseModel):
    parcel_id: str
    tracking_number: str
    status: TrackingStatus
    carrier_code: str | None = None
    carrier_message: str | None = None
    occurred_at: datetime
    received_at: datetime
    location: str | None = None
    # City, region and country of `location`, when the carrier gave them apart (public page).
    place: Place | None = None
    # The vocabulary `carrier_code` belongs to: the webhook format it came in (sendcloud, easypost,
    # aftership, shippo, colis).
    source: str | None = None


class TrackingNumberEntry(BaseModel):
    merchant_id: str
    shipment_id: str
    parcel_id: str
    tracking_number: str
    created_at: datetime


def derive(shipment: Shipment) -> TrackingStatus:
    return derive_shipment_status([p.status for p in shipment.parcels], shipment.merchant_status)


def with_merchant_status(merchant_id: str, shipment: Shipment, target: TrackingStatus, action: MerchantAction,
                         now: datetime) -> tuple[Shipment, ShipmentStatusChanged]:
    """The shipment as the merchant's `action` leaves it (its next version), and the event saying so."""
    changed = shipment.model_copy(deep=True)
    changed.merchant_status = target
    changed.status = derive(changed)
    changed.updated_at = now
    changed.version = shipment.version + 1
    event = ShipmentStatusChanged(merchant_id=merchant_id, shipment_id=shipment.id, order_id=shipment.order_id,
                                  previous_status=shipment.status, status=changed.status, action=action)
    return changed, event
