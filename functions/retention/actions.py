"""The retention actions on one shipment and what hangs on it: redact, archive, delete.

Each is idempotent by construction (it reads the current state and changes only what is still to
change, with versioned or conditional writes) so a timer handled twice, by TTL's stream and by the
schedule, or retried after a crash, does its work once. Writes are single-item requests, never
transactions: these run in bulk (PLATFORM_NOTES: moto copies the table per transaction).
Logs and metrics carry ids and counts only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from shared.dynamo import keys, writes
from shared.errors import ChangedMeanwhile, NotFound, Refused
from shared.events.outbox import outbox_entry
from shared.notifications.store import NotificationRepository
from shared.orders.model import Order, OrderActivity
from shared.orders.store import OrderRepository
from shared.platform import aws
from shared.platform.observability import count, logger
from shared.retention.redaction import REDACTED, redact_activity, redact_event, redact_order, redact_shipment
from shared.retention.timers import TimerRepository
from shared.shipments.statuses import TrackingStatus
from shared.shipments.store import Shipment, ShipmentRepository, derive

# functions/shipments/service.py publishes the same event for the merchant's own archive.
SHIPMENT_STATUS_CHANGED = "ShipmentStatusChanged"
# DESIGN.md §1.6: only these are deleted at the date; every other status counts as in transit.
RESOLVED = frozenset({TrackingStatus.delivered, TrackingStatus.archived, TrackingStatus.exception,
                      TrackingStatus.cancelled, TrackingStatus.deleted})
MAX_ATTEMPTS = 5  # re-reads when a versioned write loses to a concurrent change
_BATCH_WRITE_LIMIT = 25


class Outcome(StrEnum):
    done = "done"  # the action is complete (or there was nothing left to do)
    postponed = "postponed"  # not yet: the shipment is still in transit past its deletion date


@dataclass(frozen=True)
class Repositories:
    shipments: ShipmentRepository
    orders: OrderRepository
    notifications: NotificationRepository
    timers: TimerRepository

    @classmethod
    def default(cls, table: Any | None = None) -> Repositories:
        table = table if table is not None else aws.table()
        return cls(ShipmentRepository(table), OrderRepository(table), NotificationRepository(table),
                   TimerRepository(table))

    @property
    def table(self) -> Any:
        return self.shipments.table


def _find_shipment(repos: Repositories, merchant_id: str, shipment_id: str) -> Shipment | None:
    try:
        return repos.shipments.get(merchant_id, shipment_id, consistent=True)
    except NotFound:
        return None


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


def _save_redacted_shipment(repos: Repositories, merchant_id: str, shipment: Shipment | None,
                            now: datetime) -> Shipment | None:
    for _ in range(MAX_ATTEMPTS):
        if shipment is None:
            return None
        changed = redact_shipment(shipment, now)
        if changed == shipment:
            return shipment  # already redacted: never written again, never un-redacted
        changed.version, changed.updated_at = shipment.version + 1, now
        try:
            # A full put: `name_search` is recomputed from the redacted recipient.
            repos.shipments.save(merchant_id, changed, shipment.version)
        except Refused:  # a carrier update landed meanwhile: redact the newer version
            shipment = _find_shipment(repos, merchant_id, shipment.id)
            continue
        count("ShipmentsRedacted")
        logger.info("shipment redacted", extra={"merchant_id": merchant_id, "shipment_id": shipment.id})
        return changed
    raise Refused("The shipment kept changing while being redacted; retry.")


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
    _redact_activity(repos, merchant_id, order_id)
    _redact_refund_notes(repos, merchant_id, order_id)
    redacted = repos.notifications.redact_order_recipients(merchant_id, order_id)
    if redacted:
        count("NotificationRecordsRedacted", redacted)
    # Its fingerprint was computed from the address that is going (shared/customers.py says so).
    repos.table.delete_item(Key=keys.address_entry(merchant_id, order_id))
    return _save_redacted_order(repos, merchant_id, order, now)


def _save_redacted_order(repos: Repositories, merchant_id: str, order: Order | None, now: datetime) -> Order | None:
    for _ in range(MAX_ATTEMPTS):
        if order is None:
            return None
        changed = redact_order(order, now)
        if changed == order:
            return order
        changed.version, changed.updated_at = order.version + 1, now
        try:
            repos.orders.save(merchant_id, changed, [])
        except ChangedMeanwhile:
            order = repos.orders.find(merchant_id, order.id, consistent=True)
            continue  # the order changed meanwhile: redact the newer version
        count("OrdersRedacted")
        logger.info("order redacted", extra={"merchant_id": merchant_id, "order_id": order.id})
        return changed
    raise Refused("The order kept changing while being redacted; retry.")


def _redact_activity(repos: Repositories, merchant_id: str, order_id: str) -> None:
    request: dict[str, Any] = {"KeyConditionExpression": Key(keys.PK).eq(keys.order_partition(merchant_id, order_id))
                               & Key(keys.SK).begins_with(keys.ACTIVITY_PREFIX)}
    for item in _query_all(repos.table, request):
        entry = OrderActivity.model_validate(keys.strip_keys(item))
        changed = redact_activity(entry)
        if changed == entry:
            continue
        fields = {name: getattr(changed, name) for name in ("text", "changes", "details")
                  if getattr(changed, name) is not None}
        writes.update(repos.table, {keys.PK: item[keys.PK], keys.SK: item[keys.SK]},
                      "SET " + ", ".join(f"#{name} = :{name}" for name in fields),
                      names={f"#{name}": name for name in fields}, values={f":{name}": v for name, v in fields.items()})


def _redact_refund_notes(repos: Repositories, merchant_id: str, order_id: str) -> None:
    """A refund's note is the merchant's free text about the customer."""
    request: dict[str, Any] = {"KeyConditionExpression": Key(keys.PK).eq(keys.order_partition(merchant_id, order_id))
                               & Key(keys.SK).begins_with(keys.REFUND_PREFIX)}
    for item in _query_all(repos.table, request):
        if item.get("note") not in (None, REDACTED):
            writes.update(repos.table, {keys.PK: item[keys.PK], keys.SK: item[keys.SK]}, "SET note = :redacted",
                          condition=writes.ITEM_EXISTS, rule="refund_exists", values={":redacted": REDACTED})


# --- archive --------------------------------------------------------------------------------------
def archive_if_unconfirmed(repos: Repositories, merchant_id: str, shipment_id: str, now: datetime) -> Outcome:
    """No delivery confirmation by now → `archived`, with the same versioned write and event as the
    merchant's own archive. Delivered shipments and those with a merchant status are left alone."""
    for _ in range(MAX_ATTEMPTS):
        shipment = _find_shipment(repos, merchant_id, shipment_id)
        if shipment is None or shipment.status is TrackingStatus.delivered or shipment.merchant_status is not None:
            return Outcome.done
        changed = shipment.model_copy(deep=True)
        changed.merchant_status = TrackingStatus.archived
        changed.status = derive(changed)
        changed.updated_at, changed.version = now, shipment.version + 1
        event = outbox_entry(SHIPMENT_STATUS_CHANGED, [{
            "merchant_id": merchant_id, "shipment_id": shipment_id, "order_id": shipment.order_id,
            "previous_status": shipment.status.value, "status": changed.status.value, "action": "archive"}])
        try:
            repos.shipments.save(merchant_id, changed, shipment.version, event)
        except Refused:
            continue
        count("ShipmentsArchived")
        logger.info("shipment archived", extra={"merchant_id": merchant_id, "shipment_id": shipment_id})
        return Outcome.done
    raise Refused("The shipment kept changing while being archived; retry.")


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
        deleted += _delete_tracking_numbers(repos, merchant_id, shipment)
    deleted += _delete_partition(repos, merchant_id, shipment_id)
    if shipment is not None:
        count("ShipmentsDeleted")
        logger.info("shipment deleted", extra={"merchant_id": merchant_id, "shipment_id": shipment_id})
    if deleted:
        count("RetentionItemsDeleted", deleted)
    return Outcome.done


def _delete_tracking_numbers(repos: Repositories, merchant_id: str, shipment: Shipment) -> int:
    deleted = 0
    for parcel in shipment.parcels:
        try:
            # Only while it still names this shipment (never another one's number).
            repos.table.delete_item(Key=keys.tracking_number(parcel.tracking_number, merchant_id),
                                    ConditionExpression="shipment_id = :id",
                                    ExpressionAttributeValues={":id": shipment.id})
            deleted += 1
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
    return deleted


def _delete_partition(repos: Repositories, merchant_id: str, shipment_id: str) -> int:
    """Every item of the shipment's partition, the shipment item last: until it is gone, a retry
    finds the shipment and finishes the job."""
    partition = keys.shipment_partition(merchant_id, shipment_id)
    request = {"KeyConditionExpression": Key(keys.PK).eq(partition), "ProjectionExpression": "#pk, #sk",
               "ExpressionAttributeNames": {"#pk": keys.PK, "#sk": keys.SK}, "ConsistentRead": True}
    item_keys = [{keys.PK: i[keys.PK], keys.SK: i[keys.SK]} for i in _query_all(repos.table, request)]
    shipment_key = keys.shipment(merchant_id, shipment_id)
    others = [k for k in item_keys if k != shipment_key]
    client = repos.table.meta.client
    for start in range(0, len(others), _BATCH_WRITE_LIMIT):
        _batch_delete(client, repos.table.name, others[start:start + _BATCH_WRITE_LIMIT])
    if shipment_key in item_keys:
        repos.table.delete_item(Key=shipment_key)
    return len(item_keys)


def _batch_delete(client: Any, table_name: str, item_keys: list[dict[str, str]]) -> None:
    request = {table_name: [{"DeleteRequest": {"Key": k}} for k in item_keys]}
    for attempt in range(8):
        request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
        if not request:
            return
        time.sleep(min(0.05 * 2 ** attempt, 2.0))  # throttled: back off before the rest
    raise RuntimeError("DynamoDB kept throttling the deletion; it will be retried")


def _query_all(table: Any, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    while True:
        response = table.query(**request)
        yield from response.get("Items", [])
        if "LastEvaluatedKey" not in response:
            return
        request = {**request, "ExclusiveStartKey": response["LastEvaluatedKey"]}

