"""The retention actions on one shipment and what hangs on it: redact, archive, delete.

Each is idempotent by construction (it reads the current state and changes only what is still to
change, with versioned or conditional writes) so a timer handled twice, by TTL's stream and by the
schedule, or retried after a crash, does its work once. Writes are single-item requests, never
transactions: these run in bulk (PLATFORM_NOTES: moto copies the table per transaction).
Logs and metrics carry ids and counts only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.customers.store import CustomerRepository
from shared.dynamo.retry import retry_changed
from shared.errors import ChangedMeanwhile, NotFound, Refused
from shared.events.outbox import outbox_entry
from shared.notifications.store import NotificationRepository
from shared.orders.model import Order
from shared.orders.store import OrderRepository
from shared.platform import aws
from shared.platform.observability import count, logger
from shared.retention.redaction import redact_activity, redact_event, redact_order, redact_shipment
from shared.retention.store import RetentionStore, TimerRepository
from shared.shipments.model import Shipment, with_merchant_status
from shared.shipments.statuses import TrackingStatus
from shared.shipments.store import ShipmentRepository

# functions/shipments/service.py publishes the same event for the merchant's own archive.
# DESIGN.md §1.6: only these are deleted at the date; every other status counts as in transit.
RESOLVED = frozenset({TrackingStatus.delivered, TrackingStatus.archived, TrackingStatus.exception,
                      TrackingStatus.cancelled, TrackingStatus.deleted})
MAX_ATTEMPTS = 5  # re-reads when a versioned write loses to a concurrent change


class Outcome(StrEnum):
    done = "done"  # the action is complete (or there was nothing left to do)
    postponed = "postponed"  # not yet: the shipment is still in transit past its deletion date


@dataclass(frozen=True)
class Repositories:
    shipments: ShipmentRepository
    orders: OrderRepository
    notifications: NotificationRepository
    timers: TimerRepository
    customers: CustomerRepository
    retention: RetentionStore

    @classmethod
    def default(cls, table: Any | None = None) -> Repositories:
        table = table if table is not None else aws.table()
        return cls(ShipmentRepository(table), OrderRepository(table), NotificationRepository(table),
                   TimerRepository(table), CustomerRepository(table), RetentionStore(table))


def _find_shipment(repos: Repositories, merchant_id: str, shipment_id: str) -> Shipment | None:
    try:
        return repos.shipments.get(merchant_id, shipment_id, consistent=True)
    except NotFound:
        return None


def _save_shipment(repos: Repositories, merchant_id: str, changed: Shipment, expected_version: int,
                   outbox: dict[str, Any] | None = None) -> None:
    """The versioned shipment write; its refusal is the version check, named ChangedMeanwhile so
    that `retry_changed` re-reads and redoes the action on the newer version."""
    try:
        repos.shipments.save(merchant_id, changed, expected_version, outbox)
    except Refused as refused:
        raise ChangedMeanwhile(refused.detail) from refused


# --- redact ---------------------------------------------------------------------------------------
def redact_shipment_data(repos: Repositories, merchant_id: str, shipment_id: str, now: datetime,
                         order_id: str | None = None) -> Shipment | None:
    """The recipient of the shipment, the order it fulfils, its activity log and notification records.
    The shipment is written last: a crash before it leaves the timer due, and the retry redoes the rest."""
    shipment = _find_shipment(repos, merchant_id, shipment_id)
    redact_dependents(repos, merchant_id, shipment_id, shipment.order_id if shipment else order_id, now)
    if shipment is None:
        return None
    return _save_redacted_shipment(repos, merchant_id, shipment, now)


def redact_dependents(repos: Repositories, merchant_id: str, shipment_id: str, order_id: str | None,
                      now: datetime) -> None:
    """What holds the recipient's data besides the shipment item: its tracking history (carrier
    messages and locations), its notification records and the order it fulfils."""
    events = _redact_events(repos, merchant_id, shipment_id)
    if events:
        count("TrackingEventsRedacted", events)
    redacted = repos.notifications.redact_shipment_recipients(merchant_id, shipment_id)
    if redacted:
        count("NotificationRecordsRedacted", redacted)
    if order_id:
        redact_order_data(repos, merchant_id, order_id, now)


def _redact_events(repos: Repositories, merchant_id: str, shipment_id: str) -> int:
    """Every stored event of the shipment: its carrier message `redacted`, its location cut to the
    city. Each event is rewritten only while it still holds something to redact (idempotent)."""
    redacted = 0
    for item_key, event in repos.shipments.event_items(merchant_id, shipment_id):
        changed = redact_event(event)
        if changed != event:
            repos.shipments.replace_event(item_key, changed)
            redacted += 1
    return redacted


def _save_redacted_shipment(repos: Repositories, merchant_id: str, first_read: Shipment,
                            now: datetime) -> Shipment | None:
    reads = iter([first_read])

    def redact() -> Shipment | None:  # a carrier update landed meanwhile: redact the newer version
        shipment = next(reads, None) or _find_shipment(repos, merchant_id, first_read.id)
        if shipment is None:
            return None
        changed = redact_shipment(shipment, now)
        if changed == shipment:
            return shipment  # already redacted: never written again, never un-redacted
        changed.version, changed.updated_at = shipment.version + 1, now
        # A full put: `name_search` is recomputed from the redacted recipient.
        _save_shipment(repos, merchant_id, changed, shipment.version)
        count("ShipmentsRedacted")
        logger.info("shipment redacted", extra={"merchant_id": merchant_id, "shipment_id": shipment.id})
        return changed

    return retry_changed(redact, tries=MAX_ATTEMPTS)


def redact_order_data(repos: Repositories, merchant_id: str, order_id: str, now: datetime) -> Order | None:
    """The order's addresses and email, address changes in its log, its emails' recipient, and its
    entry in the duplicate-address index. None when there is no such order.

    The order item is written last and marks the whole as done: an order whose data is already
    redacted is left as it is (a later edit that brought new data makes it due again)."""
    order = repos.orders.find(merchant_id, order_id, consistent=True)
    if order is None:
        return None
    if redact_order(order, now) == order:
        return order
    repos.retention.rewrite_activity(merchant_id, order_id, redact_activity)
    repos.retention.redact_refund_notes(merchant_id, order_id)
    redacted = repos.notifications.redact_order_recipients(merchant_id, order_id)
    if redacted:
        count("NotificationRecordsRedacted", redacted)
    # Its fingerprint was computed from the address that is going (shared.customers.rules says so).
    repos.customers.delete_address_entry(merchant_id, order_id)
    return _save_redacted_order(repos, merchant_id, order, now)


def _save_redacted_order(repos: Repositories, merchant_id: str, first_read: Order, now: datetime) -> Order | None:
    reads = iter([first_read])

    def redact() -> Order | None:  # the order changed meanwhile: redact the newer version
        order = next(reads, None) or repos.orders.find(merchant_id, first_read.id, consistent=True)
        if order is None:
            return None
        changed = redact_order(order, now)
        if changed == order:
            return order
        changed.version, changed.updated_at = order.version + 1, now
        repos.orders.save(merchant_id, changed, [], previous=order)  # its search entries forget what goes
        count("OrdersRedacted")
        logger.info("order redacted", extra={"merchant_id": merchant_id, "order_id": order.id})
        return changed

    return retry_changed(redact, tries=MAX_ATTEMPTS)


# --- archive --------------------------------------------------------------------------------------
def archive_if_unconfirmed(repos: Repositories, merchant_id: str, shipment_id: str, now: datetime) -> Outcome:
    """No delivery confirmation by now → `archived`, with the same versioned write and event as the
    merchant's own archive. Delivered shipments and those with a merchant status are left alone."""
    def archive() -> Outcome:  # re-read on every try: a concurrent change is archived in its newer version
        shipment = _find_shipment(repos, merchant_id, shipment_id)
        if shipment is None or shipment.status is TrackingStatus.delivered or shipment.merchant_status is not None:
            return Outcome.done
        changed, event = with_merchant_status(merchant_id, shipment, TrackingStatus.archived, "archive", now)
        _save_shipment(repos, merchant_id, changed, shipment.version, outbox_entry(event))
        count("ShipmentsArchived")
        logger.info("shipment archived", extra={"merchant_id": merchant_id, "shipment_id": shipment_id})
        return Outcome.done

    return retry_changed(archive, tries=MAX_ATTEMPTS)


# --- delete ---------------------------------------------------------------------------------------
def delete_if_resolved(repos: Repositories, merchant_id: str, shipment_id: str, now: datetime,
                       order_id: str | None = None) -> Outcome:
    """A resolved shipment goes with everything under it: events, notification records, timers and
    its tracking-number items. Still in transit → postponed (checked again at the next run)."""
    shipment = _find_shipment(repos, merchant_id, shipment_id)
    if shipment is not None and shipment.status not in RESOLVED:
        return Outcome.postponed
    # Deleting never leaves more personal data behind than redaction would: the order the shipment
    # fulfils is redacted first (the REDACT timer goes with the partition, and so do the emails).
    order_id = shipment.order_id if shipment is not None else order_id
    if order_id:
        redact_order_data(repos, merchant_id, order_id, now)
    deleted = 0
    if shipment is not None:
        deleted += repos.retention.delete_tracking_numbers(merchant_id, shipment_id,
                                                           [parcel.tracking_number for parcel in shipment.parcels])
    deleted += repos.retention.delete_shipment_partition(merchant_id, shipment_id)
    if shipment is not None:
        count("ShipmentsDeleted")
        logger.info("shipment deleted", extra={"merchant_id": merchant_id, "shipment_id": shipment_id})
    if deleted:
        count("RetentionItemsDeleted", deleted)
    return Outcome.done
