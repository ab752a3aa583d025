"""Every domain event Colis publishes: its name (the EventBridge `detail-type`, the class name,
written nowhere else) and its payload (the `detail`). Publishers build these models and put them
in an outbox entry (`shared.events.outbox`); consumers read what they receive through `parse` or
the event's own class.

Payloads carry ids, statuses, amounts and times: never personal data (no name, address, email,
note or free text), because the bus, its rules' dead-letter queues and the logs hold them.

A new event: a class here (its name must be new), a publisher that builds it, and, where a function
consumes it, an `EventPattern` rule in template.yaml naming it (tests/unit/test_event_catalogue.py
holds the template and this module to each other).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, PlainSerializer

from shared.errors import Malformed
from shared.platform import clock
from shared.shipments.statuses import TrackingStatus

SOURCE = "colis"

# Times travel as the product's ISO 8601 text (UTC, `Z`, milliseconds); amounts as plain decimal text.
Instant = Annotated[datetime, PlainSerializer(clock.isoformat, return_type=str, when_used="json")]
DecimalText = Annotated[Decimal, PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json")]


class Event(BaseModel):
    """A domain event's payload; `name` is its class name."""

    # Built on first use: a function pays only for the events it handles, and not at import.
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)
    name: ClassVar[str]
    merchant_id: str

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.__name__ in CATALOGUE:
            raise TypeError(f"event {cls.__name__} is defined twice")
        cls.name = cls.__name__
        CATALOGUE[cls.__name__] = cls


CATALOGUE: dict[str, type[Event]] = {}
E = TypeVar("E", bound=Event)


# --- shipments --------------------------------------------------------------------------------
class ShipmentCreated(Event):
    """A shipment was created (by the API or an order's tracking number); `order_id` links it."""

    shipment_id: str
    parcel_count: int | None = None
    order_id: str | None = None
    created_at: Instant | None = None


class ShipmentTrackingUpdated(Event):
    """A carrier update moved a parcel's status (the shipment's may have moved with it)."""

    shipment_id: str
    parcel_id: str | None = None
    previous_parcel_status: TrackingStatus | None = None
    parcel_status: TrackingStatus
    previous_shipment_status: TrackingStatus | None = None
    shipment_status: TrackingStatus
    occurred_at: Instant | None = None
    parcel_count: int | None = None


MerchantAction = Literal["void_label", "archive", "delete"]


class ShipmentStatusChanged(Event):
    """The merchant (or retention on its behalf) set a merchant status: voided, archived, deleted."""

    shipment_id: str
    order_id: str | None = None
    previous_status: TrackingStatus | None = None
    status: TrackingStatus
    action: MerchantAction


# --- orders and refunds -----------------------------------------------------------------------
class OrderCreated(Event):
    """An order was imported (its status is `paid` for platform orders, `open` for external ones)."""

    order_id: str
    order_number: str | None = None
    customer_id: str | None = None
    status: str
    payment_mode: str
    currency: str
    total: DecimalText
    created_at: Instant


class OrderCancelled(Event):
    order_id: str
    notify_customer: bool = False
    currency: str | None = None
    source: str | None = None
    cancelled_at: Instant | None = None
    refund_id: str | None = None
    refund_total: DecimalText | None = None


class RefundIssued(Event):
    """Money went back to the customer (no note, no reason text)."""

    order_id: str
    refund_id: str
    total: DecimalText
    currency: str
    fee_returned: DecimalText
    kind: str
    created_at: Instant


# --- customers, exports -----------------------------------------------------------------------
class CustomerMerged(Event):
    """`absorbed_id` was merged into `master_id`: its orders are relinked in the background."""

    master_id: str
    absorbed_id: str


class CustomerErased(Event):
    """The customer (and the records merged into it) was erased on request, with their orders and
    those orders' shipments (DESIGN.md §1.6)."""

    customer_id: str
    absorbed_ids: list[str] = []
    erased_at: Instant


class CustomerImportEnded(Event):
    """A customer CSV import ended, `done` or `failed`, with its row counts."""

    import_id: str
    status: str  # done or failed
    # Counts are those of the finished run (None: a job that failed before counting rows).
    rows_processed: int | None = None
    created: int | None = None
    updated: int | None = None
    unchanged: int | None = None
    skipped: int | None = None
    error_count: int | None = None
    warning_count: int | None = None
    finished_at: Instant


class ExportRequested(Event):
    export_id: str


class ExportFinished(Event):
    """An export job ended: its file is ready to download, or it failed (the job says why)."""

    export_id: str
    export_type: str
    format: str
    status: str  # ready or failed
    row_count: int | None = None
    finished_at: Instant


# --- merchants' webhook endpoints ------------------------------------------------------------
class WebhookEndpointAutoDisabled(Event):
    """An endpoint failing without a break since `failing_since` was disabled (the merchant is
    emailed once per disablement)."""

    endpoint_id: str
    failing_since: Instant
    disabled_at: Instant


def event_type(name: str) -> type[Event]:
    """The class of the event named `name`; an unknown name is `Malformed`."""
    found = CATALOGUE.get(name)
    if found is None:
        raise Malformed(f"Unknown event type {name!r}.")
    return found


def read(name: str, detail: Mapping[str, Any]) -> Event:
    """The payload `detail` of the event named `name`, validated by its class."""
    return event_type(name).model_validate(detail)


def parse(bus_event: Mapping[str, Any]) -> Event:
    """The event an EventBridge delivery (`detail-type`, `detail`) carries."""
    return read(str(bus_event.get("detail-type")), bus_event.get("detail") or {})


def parse_as(kind: type[E], bus_event: Mapping[str, Any]) -> E:
    """The payload of a delivery that can only be a `kind` (its rule names that one type)."""
    return kind.model_validate(bus_event.get("detail") or {})
