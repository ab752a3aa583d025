"""The order store: orders, their activity log, number and tag entries, in the order's partition.

Every change of an order is a write conditioned on the order's `version` (the kernel's
`VERSION_CHANGED` rule, so a lost race is a `ChangedMeanwhile`); the activity entries of that change
are keyed by the version it creates, so the log is in the order the changes happened. The model and
its pure rules are in `shared.orders.model`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key

from shared.dynamo import batch, keys, writes
from shared.dynamo.paging import decode_cursor, query_all, query_page
from shared.dynamo.retry import retry_changed
from shared.dynamo.table import TableStore
from shared.dynamo.transactions import Transaction, stage_within
from shared.dynamo.writes import ITEM_IS_NEW, VERSION_CHANGED
from shared.errors import Malformed, NotFound
from shared.orders.model import Order, OrderActivity, now_ms
from shared.platform import clock
from shared.values.models import without_nulls
from shared.values.money import RECORDED
from shared.values.search_terms import distinct_terms, lookup_piece, name_terms, select_matches, whole_terms

ORDER_EXISTS = "order_exists"
NUMBER_TAKEN = "order_number_taken"
IMPORT_KEY_TAKEN = "import_key_taken"
IMPORT_KEY_HOURS = 24  # a storefront's retries of one import come within hours, not days
MAX_TAGS_IN_IMPORT = 60  # above this, tag entries are written right after the import transaction
RELINK_TRIES = 10
SEARCH_READ_BUDGET = 2_000  # search entries read per list request before it answers with a cursor
REDACTED = "redacted"  # what retention and erasure leave in a field (shared.retention.redaction)
Item = dict[str, Any]


@dataclass(frozen=True)
class ImportKeyRecord:
    """What an `Idempotency-Key` of an order import stands for: the order it created, and the
    fingerprint of the body that created it (the same key with another body is refused)."""
    order_id: str
    fingerprint: str


def order_to_item(merchant_id: str, order: Order, outbox: Mapping[str, Any] | None = None) -> Item:
    data = without_nulls(order.model_dump(mode="json"))
    created = clock.isoformat(order.created_at)
    data.update(merchant_id=merchant_id, created_at=created, updated_at=clock.isoformat(order.updated_at),
                version=order.version)
    if order.pending_refund_id:
        data["pending_refund_id"] = order.pending_refund_id
    position = keys.sortable(created, order.id)
    item: Item = {**keys.order(merchant_id, order.id), **data,
                  **keys.index_entry(keys.GSI1, keys.orders_of_merchant(merchant_id), position),
                  **keys.index_entry(keys.GSI2, keys.orders_by_status(merchant_id, order.status.value), position),
                  **keys.index_entry(keys.GSI3, keys.orders_by_customer(merchant_id, order.customer_id), position)}
    if outbox:
        item["outbox"] = dict(outbox)
    return item


def order_from_item(item: Mapping[str, Any]) -> Order:
    data = keys.strip_keys(dict(item))
    data.pop("outbox", None)
    data["version"] = int(data.get("version", 1))
    return Order.model_validate(data, context=RECORDED)


def search_terms(order: Order) -> list[str]:
    """What `q` finds an order by (API.md): its order number, the words of its customer's name and
    the customer's email; values already redacted are not terms."""
    def given(value: str | None) -> str | None:
        return value if value and value != REDACTED else None

    customer = order.customer
    return distinct_terms([*whole_terms(order.order_number),
                           *name_terms(given(customer.first_name), given(customer.last_name)),
                           *whole_terms(given(customer.email))])


def search_items(merchant_id: str, order: Order) -> list[Item]:
    return [{**keys.order_search_entry(merchant_id, term, order.id), "order_id": order.id, "term": term}
            for term in search_terms(order)]


def search_changes(merchant_id: str, before: Order, after: Order) -> tuple[list[Item], list[dict[str, str]]]:
    """(entries to put, keys to delete) moving an order's search entries from before to after."""
    old, new = search_terms(before), search_terms(after)
    puts = [item for item in search_items(merchant_id, after) if item["term"] not in old]
    deletes = [keys.order_search_entry(merchant_id, term, after.id) for term in old if term not in new]
    return puts, deletes


def _activity_from_item(item: Mapping[str, Any]) -> OrderActivity:
    return OrderActivity.model_validate(keys.strip_keys(dict(item)))


def status_is(status: str) -> ConditionBase:
    return Attr("status").eq(status)


def has_tag(tag: str) -> ConditionBase:
    return Attr("tags").contains(tag)


class OrderRepository(TableStore):
    # --- reads ------------------------------------------------------------------------------------
    def find(self, merchant_id: str, order_id: str, *, consistent: bool = False) -> Order | None:
        item = self._table.get_item(Key=keys.order(merchant_id, order_id), ConsistentRead=consistent).get("Item")
        return order_from_item(item) if item else None

    def get(self, merchant_id: str, order_id: str, *, consistent: bool = False) -> Order:
        order = self.find(merchant_id, order_id, consistent=consistent)
        if order is None:
            raise NotFound(f"Order {order_id} does not exist.")
        return order

    def id_for_number(self, merchant_id: str, number: str) -> str | None:
        item = self._table.get_item(Key=keys.order_number(merchant_id, number), ConsistentRead=True).get("Item")
        return str(item["order_id"]) if item else None

    def order_ids_for_customer(self, merchant_id: str, customer_id: str) -> Iterator[str]:
        """Every order linked to the customer (customer merges relink them in batches)."""
        items = query_all(self._table, IndexName=keys.GSI3.name, ProjectionExpression="id",
                          KeyConditionExpression=Key(keys.GSI3.pk).eq(keys.orders_by_customer(merchant_id,
                                                                                              customer_id)))
        return (str(item["id"]) for item in items)

    def activity_page(self, merchant_id: str, order_id: str, *, limit: int,
                      cursor: str | None) -> tuple[list[OrderActivity], str | None]:
        partition = keys.order_partition(merchant_id, order_id)
        if cursor:
            _check_cursor(merchant_id, cursor, keys.PK, partition)
        page = query_page(self._table, merchant_id, key_condition=_activity_condition(partition), limit=limit,
                          cursor=cursor, newest_first=False)
        return [_activity_from_item(i) for i in page.items], page.next_cursor

    def activity(self, merchant_id: str, order_id: str) -> Iterator[OrderActivity]:
        """The whole log, oldest first (privacy export, retention)."""
        items = query_all(self._table, KeyConditionExpression=_activity_condition(
            keys.order_partition(merchant_id, order_id)))
        return (_activity_from_item(i) for i in items)

    def notes(self, merchant_id: str, order_id: str) -> list[OrderActivity]:
        return [entry for entry in self.activity(merchant_id, order_id) if entry.type == "note"]

    def import_key_record(self, merchant_id: str, idempotency_key: str) -> ImportKeyRecord | None:
        item = self._table.get_item(Key=_import_key(merchant_id, idempotency_key), ConsistentRead=True).get("Item")
        if not item or int(item.get(keys.TTL, 0)) <= clock.epoch_seconds():
            return None  # never used, or expired (TTL deletes it later)
        return ImportKeyRecord(order_id=str(item["order_id"]), fingerprint=str(item["fingerprint"]))

    # --- lists ------------------------------------------------------------------------------------
    def page(self, merchant_id: str, *, index: keys.Index, partition: str, limit: int, cursor: str | None,
             filter_expression: ConditionBase | None = None) -> tuple[list[Order], str | None]:
        """Newest first within one index partition of order items."""
        if cursor:
            _check_cursor(merchant_id, cursor, index.pk, partition)
        page = query_page(self._table, merchant_id, key_condition=Key(index.pk).eq(partition), index=index,
                          limit=limit, cursor=cursor, filter_expression=filter_expression)
        return [order_from_item(i) for i in page.items], page.next_cursor

    def page_by_tag(self, merchant_id: str, tag: str, *, limit: int,
                    cursor: str | None) -> tuple[list[Order], str | None]:
        """Tag entries (one item per order and tag) newest first, then their orders."""
        partition = keys.orders_by_tag(merchant_id, tag)
        if cursor:
            _check_cursor(merchant_id, cursor, keys.GSI1.pk, partition)
        page = query_page(self._table, merchant_id, key_condition=Key(keys.GSI1.pk).eq(partition),
                          index=keys.GSI1, limit=limit, cursor=cursor)
        order_ids = [str(i["order_id"]) for i in page.items]
        found = {order.id: order for order in map(order_from_item, batch.get(
            self._table, [keys.order(merchant_id, order_id) for order_id in order_ids]))}
        return [found[order_id] for order_id in order_ids if order_id in found], page.next_cursor

    def search_page(self, merchant_id: str, pieces: list[str], *, limit: int, cursor: str | None,
                    accept: Callable[[Order], bool] | None = None) -> tuple[list[Order], str | None]:
        """Orders matching every piece of a query (`shared.values.search_terms`), in the order of the
        matched term: one Query of the search entries by the longest piece, then their orders in one
        batch per page; an entry whose order no longer has its term (it lags) is skipped, and an
        order with several matching terms shows once."""
        piece = lookup_piece(pieces)
        found: dict[str, Order] = {}

        def select(entries: list[Item]) -> list[Item]:
            ids = {str(entry["order_id"]) for entry in entries}
            orders = {order.id: order for order in map(order_from_item, batch.get(
                self._table, [keys.order(merchant_id, order_id) for order_id in ids]))}
            chosen = select_matches(entries, orders, id_attribute="order_id", pieces=pieces, terms_of=search_terms,
                                    accept=accept)
            found.update((order.id, order) for _, order in chosen)
            return [entry for entry, _ in chosen]

        page = query_page(self._table, merchant_id, limit=limit, cursor=cursor, newest_first=False, select=select,
                          read_budget=SEARCH_READ_BUDGET,
                          key_condition=Key(keys.PK).eq(keys.order_search_partition(merchant_id))
                          & Key(keys.SK).begins_with(piece))
        return [found[str(entry["order_id"])] for entry in page.items], page.next_cursor

    def index_search(self, merchant_id: str, orders: Iterable[Order]) -> int:
        """Writes every search entry of the orders (idempotent puts, in batches; `colis index-search`
        backfills orders imported before search existed). The number of entries."""
        return batch.put_all(self._table, (item for order in orders for item in search_items(merchant_id, order)))

    def iterate(self, merchant_id: str) -> Iterator[Order]:
        """Every order of the merchant, oldest first."""
        items = query_all(self._table, IndexName=keys.GSI1.name, ScanIndexForward=True,
                          KeyConditionExpression=Key(keys.GSI1.pk).eq(keys.orders_of_merchant(merchant_id)))
        return (order_from_item(item) for item in items)

    # --- writes -----------------------------------------------------------------------------------
    def create(self, merchant_id: str, order: Order, created: OrderActivity, *,
               import_key: tuple[str, ImportKeyRecord] | None = None, alongside: Iterable[Item] = (),
               outbox: Mapping[str, Any] | None = None) -> None:
        """The order, its number's unique entry, its first log entry, its tags and the items of other
        domains that come with it (`alongside`: the refund ledger, an address entry), all at once,
        with its `outbox` entry (`OrderCreated`) on the order item.
        Refused with `NUMBER_TAKEN` or `IMPORT_KEY_TAKEN` (the key's live record)."""
        tx = Transaction(self._table)
        tx.put(order_to_item(merchant_id, order, outbox), condition=ITEM_IS_NEW, rule=ORDER_EXISTS)
        if order.order_number:
            self._stage_number(tx, merchant_id, order.order_number, order.id)
        self._stage_activity(tx, merchant_id, order.id, order.version, [created])
        for item in alongside:
            tx.put(item)
        if import_key is not None:
            self._stage_import_key(tx, merchant_id, *import_key)
        for item in search_items(merchant_id, order):
            tx.put(item)
        tags = self._tag_items(merchant_id, order)
        for item in tags[:MAX_TAGS_IN_IMPORT]:
            tx.put(item)
        tx.commit()
        # Tag entries that did not fit in the transaction: idempotent plain puts.
        batch.write(self._table, puts=tags[MAX_TAGS_IN_IMPORT:])

    def save(self, merchant_id: str, changed: Order, entries: Iterable[OrderActivity], *,
             outbox: Mapping[str, Any] | None = None, renumbered_from: str | None = None,
             alongside: Iterable[Item] = (), previous: Order | None = None) -> None:
        """`changed` (version n + 1) if the stored order is still at version n, with its log entries;
        `renumbered_from` moves the number's unique entry (refused with `NUMBER_TAKEN`). A change
        of what search finds the order by (its number, its customer's name or email: an edit, a
        redaction) passes the order it was made from as `previous`, and the search entries move in
        the same transaction."""
        entries = list(entries)
        alongside = list(alongside)
        search_puts, search_deletes = search_changes(merchant_id, previous, changed) if previous else ([], [])
        if not entries and renumbered_from is None and not alongside and not search_puts and not search_deletes:
            # one item: a conditional put costs half
            writes.put(self._table, order_to_item(merchant_id, changed, outbox), **_version_check(changed))
            return
        tx = Transaction(self._table)
        self.stage_save(tx, merchant_id, changed, entries, outbox=outbox)
        if renumbered_from is not None and changed.order_number:
            self._stage_number(tx, merchant_id, changed.order_number, changed.id)
            if renumbered_from:
                tx.delete(keys.order_number(merchant_id, renumbered_from), condition="order_id = :id",
                          values={":id": changed.id}, rule=VERSION_CHANGED)
        for item in alongside:
            tx.put(item)
        left_puts, left_deletes = stage_within(tx, puts=search_puts, deletes=search_deletes)
        tx.commit()
        if left_puts or left_deletes:  # only a change far larger than any edit: right after, idempotent
            batch.write(self._table, puts=left_puts, deletes=left_deletes)

    def stage_save(self, tx: Transaction, merchant_id: str, changed: Order, entries: Iterable[OrderActivity], *,
                   outbox: Mapping[str, Any] | None = None) -> None:
        """`save` as part of a larger transaction (a refund settling on the order)."""
        tx.put(order_to_item(merchant_id, changed, outbox), **_version_check(changed))
        self._stage_activity(tx, merchant_id, changed.id, changed.version, entries)

    def add_note(self, merchant_id: str, order: Order, note: OrderActivity) -> None:
        """A note lives beside the order: only the version moves, to order the log."""
        tx = Transaction(self._table)
        tx.update(keys.order(merchant_id, order.id), "SET version = :next", condition="version = :expected",
                  values={":next": order.version + 1, ":expected": order.version}, rule=VERSION_CHANGED)
        self._stage_activity(tx, merchant_id, order.id, order.version + 1, [note])
        tx.commit()

    def relink_customer(self, merchant_id: str, order_id: str, from_customer_id: str, to_customer_id: str) -> bool:
        """Point the order at `to` if it still points at `from` (customer merge). Idempotent: True
        when the order now points at `to`, False when it points at someone else or does not exist."""
        def relink() -> bool:
            order = self.find(merchant_id, order_id, consistent=True)
            if order is None or order.customer_id not in (from_customer_id, to_customer_id):
                return False
            if order.customer_id == to_customer_id:
                return True
            changed = order.revised()
            changed.updated_at, changed.customer_id = order.updated_at, to_customer_id
            entry = OrderActivity(type="customer_relinked", at=now_ms(),
                                  details={"from_customer_id": from_customer_id, "to_customer_id": to_customer_id})
            self.save(merchant_id, changed, [entry])
            return True
        return retry_changed(relink, tries=RELINK_TRIES)

    # --- the pieces of a transaction --------------------------------------------------------------
    def _stage_activity(self, tx: Transaction, merchant_id: str, order_id: str, version: int,
                        entries: Iterable[OrderActivity]) -> None:
        for position, entry in enumerate(entries):
            tx.put({**keys.order_activity(merchant_id, order_id, version, position),
                    **without_nulls(entry.model_dump(mode="json")), "at": clock.isoformat(entry.at)})

    def _stage_number(self, tx: Transaction, merchant_id: str, number: str, order_id: str) -> None:
        tx.put({**keys.order_number(merchant_id, number), "order_id": order_id, "order_number": number},
               condition=ITEM_IS_NEW, rule=NUMBER_TAKEN)

    def _stage_import_key(self, tx: Transaction, merchant_id: str, idempotency_key: str,
                          record: ImportKeyRecord) -> None:
        """The key's record, written with the order; a live record of the key refuses it."""
        now = clock.epoch_seconds()
        tx.put({**_import_key(merchant_id, idempotency_key), "order_id": record.order_id,
                "fingerprint": record.fingerprint, keys.TTL: now + IMPORT_KEY_HOURS * 3600},
               condition="attribute_not_exists(pk) OR #ttl <= :now", values={":now": now}, names={"#ttl": keys.TTL},
               rule=IMPORT_KEY_TAKEN)

    @staticmethod
    def _tag_items(merchant_id: str, order: Order) -> list[Item]:
        position = keys.sortable(clock.isoformat(order.created_at), order.id)
        return [{**keys.order_tag(merchant_id, order.id, tag),
                 **keys.index_entry(keys.GSI1, keys.orders_by_tag(merchant_id, tag), position),
                 "order_id": order.id, "tag": tag}
                for tag in order.tags]


def _version_check(changed: Order) -> dict[str, Any]:
    """The stored order is still the version `changed` was made from."""
    return {"condition": "version = :expected", "values": {":expected": changed.version - 1}, "rule": VERSION_CHANGED}


def _activity_condition(partition: str) -> ConditionBase:
    return Key(keys.PK).eq(partition) & Key(keys.SK).begins_with(keys.ACTIVITY_PREFIX)


def _import_key(merchant_id: str, idempotency_key: str) -> dict[str, str]:
    return keys.idempotency_record(keys.order_import_idempotency_scope(merchant_id), idempotency_key)


def _check_cursor(merchant_id: str, cursor: str, attribute: str, partition: str) -> None:
    """A cursor of another list (or another order) would make DynamoDB fail: 400 instead."""
    position = decode_cursor(merchant_id, cursor)
    if position.get(attribute) != partition:
        raise Malformed("The cursor does not belong to this list.")
