"""Shipments in the table: a shipment item (its fields in one JSON `doc`), one item per tracking
number and the tracking history, read and written through the DynamoDB kernel (orphan updates:
`shared.shipments.orphans`)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key

from shared.dynamo import keys, writes
from shared.dynamo.paging import decode_cursor, query_all, query_limited, query_page
from shared.dynamo.table import TableStore
from shared.dynamo.transactions import Requirement, Transaction, TransactionRefused, refused_by
from shared.errors import Malformed, NotFound, Refused
from shared.platform import clock
from shared.shipments.model import Parcel, Shipment, TrackingEvent, TrackingNumberEntry
from shared.values.models import without_nulls
from shared.values.money import RECORDED
from shared.values.search_terms import fold

# Rules of the conditional writes (named in `Refused.rule`).
TRACKING_NUMBER_TAKEN = "tracking_number_taken:"
SHIPMENT_EXISTS = "shipment_exists"
EVENT_RECORDED = "event_recorded"
EVENT_GONE = "event_gone"
_VERSION_IS = "#version = :expected"
_VERSION = {"#version": "version"}


def _iso(moment: datetime) -> str:
    return clock.isoformat(moment)


# Top-level attributes are only what a key, an index, a list filter or a write condition reads;
# the rest of the shipment is one JSON string (`doc`). Every write replaces the whole shipment, so
# a typed DynamoDB value per field and per leaf of an address, package or parcel would only cost
# serialising, parsing and storing it on every tracking update.
_ATTRIBUTE_FIELDS = ("status", "order_id", "batch_id")


def shipment_to_item(merchant_id: str, shipment: Shipment, outbox: dict[str, Any] | None = None) -> dict[str, Any]:
    data = shipment.model_dump(mode="json", exclude={"parcels"})
    # recent_updates travel as one string: a list would cost one value per digest.
    data["parcels"] = [{**p.model_dump(mode="json"), "status_at": _iso(p.status_at) if p.status_at else None,
                        "recent_updates": " ".join(p.recent_updates) or None} for p in shipment.parcels]
    created = _iso(shipment.created_at)
    data["created_at"] = created
    data["merchant_status"] = shipment.merchant_status.value if shipment.merchant_status else None
    attributes = {name: data.pop(name) for name in _ATTRIBUTE_FIELDS}
    name = shipment.recipient.display_name()
    attributes["name_search"] = searchable_name(name) if name else None
    attributes["doc"] = _document(data)
    attributes["version"] = shipment.version
    item = {**keys.shipment(merchant_id, shipment.id), **without_nulls(attributes),
            **keys.index_entry(keys.GSI1, keys.shipment_created_month(merchant_id, shipment.created_at),
                               keys.sortable(created, shipment.id)),
            **keys.index_entry(keys.GSI2, keys.shipment_status_partition(merchant_id, shipment.status.value),
                               keys.sortable(created, shipment.id))}
    if shipment.batch_id:
        item.update(keys.index_entry(keys.GSI3, keys.shipment_batch_partition(merchant_id, shipment.batch_id),
                                     keys.sortable(created, shipment.id)))
    if outbox:
        item["outbox"] = outbox
    return item


def _document(data: dict[str, Any]) -> str:
    return json.dumps(without_nulls(data), separators=(",", ":"), ensure_ascii=False)


def _with_document(item: dict[str, Any]) -> dict[str, Any]:
    """The item's domain fields: its attributes and what its `doc` holds (items written before
    `doc` hold every field as an attribute or nested map)."""
    data = keys.strip_keys(item)
    if "doc" in data:
        data.update(json.loads(data.pop("doc")))
    return data


def event_from_item(item: dict[str, Any]) -> TrackingEvent:
    return TrackingEvent.model_validate(_with_document(item))


def shipment_from_item(item: dict[str, Any]) -> Shipment:
    data = _with_document(item)
    parcels = [Parcel.model_validate({**p, "recent_updates": (p.get("recent_updates") or "").split()})
               for p in data.pop("parcels", [])]
    return Shipment.model_validate({**data, "parcels": parcels}, context=RECORDED)


class ShipmentRepository(TableStore):
    def create(self, merchant_id: str, shipment: Shipment, outbox: dict[str, Any],
               also: Sequence[dict[str, Any]] = (), *, tx: Transaction | None = None) -> None:
        """Shipment and its tracking-number items in one transaction: a number taken → `Refused`
        (rule `tracking_number_taken:<number>`). `also`: more items written with them (the
        retention timers), unconditionally; `tx`: a transaction that already holds another
        domain's part of the same write (the order a shipment ships), committed with them."""
        tx = tx if tx is not None else Transaction(self._table)
        tx.put(shipment_to_item(merchant_id, shipment, outbox), condition=writes.ITEM_IS_NEW, rule=SHIPMENT_EXISTS)
        for parcel in shipment.parcels:
            entry = TrackingNumberEntry(merchant_id=merchant_id, shipment_id=shipment.id, parcel_id=parcel.id,
                                        tracking_number=parcel.tracking_number, created_at=shipment.created_at)
            tx.put({**keys.tracking_number(parcel.tracking_number, merchant_id), **entry.model_dump(mode="json")},
                   condition=writes.ITEM_IS_NEW, rule=TRACKING_NUMBER_TAKEN + parcel.tracking_number)
        for item in also:
            tx.put(item)
        try:
            tx.commit()
        except TransactionRefused as refused:
            taken = sorted(r.removeprefix(TRACKING_NUMBER_TAKEN) for r in refused.rules
                           if r.startswith(TRACKING_NUMBER_TAKEN))
            if not taken:
                raise
            raise Refused(f"Tracking number {taken[0]} is already used by another shipment.",
                          rule=TRACKING_NUMBER_TAKEN + taken[0]) from refused

    def get(self, merchant_id: str, shipment_id: str, *, consistent: bool = False) -> Shipment:
        item = self._table.get_item(Key=keys.shipment(merchant_id, shipment_id), ConsistentRead=consistent).get("Item")
        if not item:
            raise NotFound(f"Shipment {shipment_id} does not exist.")
        return shipment_from_item(item)

    def exists(self, merchant_id: str, shipment_id: str) -> bool:
        key = keys.shipment(merchant_id, shipment_id)
        return "Item" in self._table.get_item(Key=key, ProjectionExpression=keys.PK, ConsistentRead=True)

    def find_by_tracking_number(self, merchant_id: str, number: str) -> TrackingNumberEntry | None:
        item = self._table.get_item(Key=keys.tracking_number(number, merchant_id)).get("Item")
        return TrackingNumberEntry.model_validate(keys.strip_keys(item)) if item else None

    def save(self, merchant_id: str, shipment: Shipment, expected_version: int,
             outbox: dict[str, Any] | None = None) -> None:
        """Replace the shipment if nobody changed it since `expected_version` (else `ChangedMeanwhile`)."""
        writes.put(self._table, shipment_to_item(merchant_id, shipment, outbox), condition=_VERSION_IS,
                   rule=writes.VERSION_CHANGED, names=_VERSION, values={":expected": expected_version},
                   detail="The shipment changed meanwhile; retry.")

    def stage_save(self, tx: Transaction, merchant_id: str, shipment: Shipment, expected_version: int,
                   outbox: dict[str, Any] | None = None) -> None:
        """`save` as part of a larger transaction (a shipment linked to an order with the order)."""
        tx.put(shipment_to_item(merchant_id, shipment, outbox), condition=_VERSION_IS, rule=writes.VERSION_CHANGED,
               names=_VERSION, values={":expected": expected_version})

    def save_with_event(self, merchant_id: str, shipment: Shipment, expected_version: int,
                        outbox: dict[str, Any] | None, event: TrackingEvent, dedup_key: str,
                        requirement: Requirement | None = None) -> bool:
        """The changed shipment and the history event that changed it, in one transaction: both
        land or neither. `ChangedMeanwhile` when the shipment changed since `expected_version`;
        False, with nothing written, when the event is already recorded; `TransactionRefused`
        naming its rule when `requirement` does not hold."""
        tx = Transaction(self._table).require(requirement)
        tx.put(shipment_to_item(merchant_id, shipment, outbox), condition=_VERSION_IS, rule=writes.VERSION_CHANGED,
               names=_VERSION, values={":expected": expected_version})
        tx.put(event_item(merchant_id, shipment.id, event, dedup_key), condition=writes.ITEM_IS_NEW,
               rule=EVENT_RECORDED)
        try:
            tx.commit()
        except TransactionRefused as refused:  # the version held (else ChangedMeanwhile)
            if requirement is not None and refused_by(refused, requirement.rule):
                raise
            return False  # the event is the one refused
        return True

    def events(self, merchant_id: str, shipment_id: str) -> list[TrackingEvent]:
        condition = (Key(keys.PK).eq(keys.shipment_partition(merchant_id, shipment_id))
                     & Key(keys.SK).begins_with(keys.EVENT_PREFIX))
        return [event_from_item(item)
                for item in query_all(self._table, KeyConditionExpression=condition, ScanIndexForward=False)]

    def event_items(self, merchant_id: str, shipment_id: str) -> Iterator[tuple[dict[str, str], TrackingEvent]]:
        """(key, event) of every stored event of the shipment, for rewriting them (retention)."""
        condition = (Key(keys.PK).eq(keys.shipment_partition(merchant_id, shipment_id))
                     & Key(keys.SK).begins_with(keys.EVENT_PREFIX))
        for item in query_all(self._table, KeyConditionExpression=condition, ConsistentRead=True):
            yield keys.key(item[keys.PK], item[keys.SK]), event_from_item(item)

    def replace_event(self, item_key: dict[str, str], event: TrackingEvent) -> None:
        """The event's stored fields replaced while the event still exists (else `Refused`, rule `event_gone`)."""
        writes.update(self._table, item_key, "SET doc = :doc", condition=writes.ITEM_EXISTS, rule=EVENT_GONE,
                      values={":doc": _document(event.model_dump(mode="json"))})

    def events_page(self, merchant_id: str, shipment_id: str, limit: int,
                    cursor: str | None) -> tuple[list[TrackingEvent], str | None]:
        """One page of the tracking history, newest first."""
        partition = keys.shipment_partition(merchant_id, shipment_id)
        if cursor and decode_cursor(merchant_id, cursor).get(keys.PK) != partition:
            raise Malformed("The cursor is not valid.")  # another shipment's history
        page = query_page(self._table, merchant_id, limit=limit, cursor=cursor,
                          key_condition=Key(keys.PK).eq(partition) & Key(keys.SK).begins_with(keys.EVENT_PREFIX))
        return [event_from_item(item) for item in page.items], page.next_cursor

    def record_event(self, merchant_id: str, shipment_id: str, event: TrackingEvent, dedup_key: str,
                     requirement: Requirement | None = None) -> bool:
        """The event, once per dedup key (a conditional put; with `requirement`, a transaction):
        False when it was already there."""
        item = event_item(merchant_id, shipment_id, event, dedup_key)
        if requirement is None:
            return writes.put_new(self._table, item, rule=EVENT_RECORDED)
        try:
            Transaction(self._table).put(item, condition=writes.ITEM_IS_NEW, rule=EVENT_RECORDED) \
                .require(requirement).commit()
        except TransactionRefused as refused:
            if refused_by(refused, requirement.rule):
                raise
            return False
        return True

    # --- lists ---------------------------------------------------------------------------------
    def page_by_index(self, merchant_id: str, index: keys.Index, partition: str, *, limit: int,
                      cursor_position: dict[str, Any] | None, lower: str | None, upper: str | None,
                      filter_expression: ConditionBase | None = None) -> tuple[list[Shipment], dict[str, Any] | None]:
        """Newest first within one of the merchant's index partitions, bounded by sortable
        created-at strings; the position after the last one when more may follow."""
        items, position = query_limited(self._table, limit=limit, start=cursor_position, index=index,
                                        key_condition=_partition_range(index, partition, lower, upper),
                                        newest_first=True, filter_expression=filter_expression)
        return [shipment_from_item(i) for i in items], position

    def iterate_by_index(self, index: keys.Index, partition: str, *, lower: str | None, upper: str | None,
                         filter_expression: ConditionBase | None = None) -> Iterator[Shipment]:
        """Oldest first, every shipment of one index partition within the bounds."""
        request: dict[str, Any] = {"IndexName": index.name, "ScanIndexForward": True,
                                   "KeyConditionExpression": _partition_range(index, partition, lower, upper)}
        if filter_expression is not None:
            request["FilterExpression"] = filter_expression
        return (shipment_from_item(item) for item in query_all(self._table, **request))

    def refresh_name_search(self, merchant_id: str, oldest: datetime) -> int:
        """Rewrites `name_search` where it is not what `searchable_name` makes of the recipient
        (shipments written before names were folded for accents), month by month back to `oldest`,
        never a scan. A shipment written meanwhile is left alone: its write set the attribute.
        Idempotent; the number of shipments rewritten."""
        rewritten = 0
        for partition in month_partitions(merchant_id, clock.now(), oldest):
            items = query_all(self._table, IndexName=keys.GSI1.name,
                              KeyConditionExpression=Key(keys.GSI1.pk).eq(partition))
            for item in items:
                name = shipment_from_item(item).recipient.display_name()
                wanted = searchable_name(name) if name else None
                if item.get("name_search") == wanted:
                    continue
                expression = "SET name_search = :name" if wanted else "REMOVE name_search"
                values: dict[str, Any] = {":expected": item.get("version", 0)}
                if wanted:
                    values[":name"] = wanted
                rewritten += writes.applied(partial(writes.update, self._table, keys.key(item[keys.PK], item[keys.SK]),
                                                    expression, condition=_VERSION_IS, names=_VERSION, values=values,
                                                    rule=writes.VERSION_CHANGED))
        return rewritten


def event_item(merchant_id: str, shipment_id: str, event: TrackingEvent, dedup_key: str) -> dict[str, Any]:
    # One JSON string, as the shipment's `doc`: nothing reads a history event's fields in place.
    return {**keys.tracking_event(merchant_id, shipment_id, _iso(event.occurred_at), dedup_key),
            "doc": _document(event.model_dump(mode="json"))}


def _partition_range(index: keys.Index, partition: str, lower: str | None, upper: str | None) -> ConditionBase:
    condition: ConditionBase = Key(index.pk).eq(partition)
    if lower and upper:
        return condition & Key(index.sk).between(lower, upper)
    if lower:
        return condition & Key(index.sk).gte(lower)
    if upper:
        return condition & Key(index.sk).lte(upper)
    return condition


def month_partitions(merchant_id: str, newest: datetime, oldest: datetime) -> list[str]:
    """Created-month buckets from `newest` back to `oldest`, newest first."""
    year, month = newest.year, newest.month
    partitions = []
    while (year, month) >= (oldest.year, oldest.month):
        partitions.append(keys.shipment_created_month(merchant_id, datetime(year, month, 1)))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return partitions


def searchable_name(name: str) -> str:
    """The recipient's name as `q` reads it: folded (case and accents ignored, see
    `shared.values.search_terms`), its words one space apart."""
    return " ".join(fold(name).split())


def name_contains(fragment: str) -> ConditionBase:
    """A part of the recipient's name, whatever its case and accents (`lea` finds Léa)."""
    return Attr("name_search").contains(searchable_name(fragment))


def status_in(statuses: list[str]) -> ConditionBase:
    return Attr("status").is_in(statuses)


def order_is(order_id: str) -> ConditionBase:
    return Attr("order_id").eq(order_id)


def batch_is(batch_id: str) -> ConditionBase:
    return Attr("batch_id").eq(batch_id)
