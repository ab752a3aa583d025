"""Query and TTL for the local engine at the cost of what they read, not of the table.

moto 5.2.5 answers every Query by sorting every item of the table (`Table.all_items`), then, for a
global secondary index, sorting the matches again and walking them from the first to skip the pages
before `ExclusiveStartKey`. With 10,000 shipments (some 60,000 items) that is a second or more per
Query, and the engine serves one request at a time. The TTL emulation had to Scan the whole table
for expired items, page after page (each page sorting the table again).

Here each table keeps, beside moto's items:
- per global secondary index (one HASH, one RANGE attribute), its partitions as lists sorted by
  (index sort key, table hash key, table range key): moto's own order for an index;
- the items that carry a numeric TTL attribute, sorted by it.
They are brought up to date after every write (PutItem, UpdateItem, DeleteItem, BatchWriteItem,
TransactWriteItems: whatever they did, cancelled or not, the touched keys are read again from the
table), built in full the first time a table is read through them, and again whenever the table
object is replaced (moto's own transaction rollback restores a copy) or its indexes change.

A Query then hands moto's own `Table.query` only the candidates it can return: the queried
partition's items from just after `ExclusiveStartKey`, within the sort-key condition, as many as
the `Limit` (plus the one that tells moto there is more) and the 1 MB page allow. moto still does
everything else with them, as before (the key checks, order, `ScanIndexForward`, the limit, the
page size, `LastEvaluatedKey`, `ScannedCount`, projection, `FilterExpression`), so the answer is
moto's; only the items it looks at change. Queries this does not know how to narrow (legacy
`QueryFilter`, local secondary indexes, multi-attribute keys) go to moto unchanged.

The local stack serves one engine request at a time (`moto_server._one_request_at_a_time`); the
indexes also have their own lock, for in-process moto used from several threads.
"""

from __future__ import annotations

import bisect
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from moto.core.utils import utcnow
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, GlobalSecondaryIndex, StreamRecord, Table
from moto.dynamodb.models.utilities import dynamo_json_dump
from moto.moto_api._internal import mock_random

SortKey = tuple[Any, ...]
Typed = tuple[str, Any]  # (DynamoDB type, value as moto keeps it): a key value that compares across types
TableKey = tuple[Typed, Typed | None]
MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's (and moto's) item size limit
_lock = threading.RLock()
_narrowed = threading.local()  # the candidates `Table.all_items` hands moto's query, for one call
_bypass = threading.local()


def _cast(value: DynamoType | None) -> Any:
    if value is None:
        return None
    return value.value if value.type == "S" else value.cast_value  # a string's cast value is itself


def _typed(value: DynamoType) -> Typed:
    return value.type, value.value


def _table_key(item: Item) -> TableKey:
    return _typed(item.hash_key), (None if item.range_key is None else _typed(item.range_key))


def _order(item: Item) -> tuple[Any, Any]:
    """The table key's part of an index sort key: moto orders by the values (`DynamoType.__lt__`)."""
    return _cast(item.hash_key), _cast(item.range_key)


@dataclass
class _Partition:
    """One index partition: sort keys and items in the index's order."""

    keys: list[SortKey] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)

    def add(self, sort_key: SortKey, item: Item) -> None:
        at = bisect.bisect_left(self.keys, sort_key)
        self.keys.insert(at, sort_key)
        self.items.insert(at, item)

    def remove(self, sort_key: SortKey) -> None:
        at = bisect.bisect_left(self.keys, sort_key)
        if at < len(self.keys) and self.keys[at] == sort_key:
            del self.keys[at]
            del self.items[at]


@dataclass
class _GlobalIndex:
    hash_attr: str
    range_attr: str
    partitions: dict[Any, _Partition] = field(default_factory=dict)
    entries: dict[TableKey, tuple[Any, SortKey]] = field(default_factory=dict)  # what is indexed now, per item

    def entry(self, item: Item) -> tuple[Any, SortKey] | None:
        """(partition, sort key) of the item in this index; None when it lacks a key attribute
        (DynamoDB leaves such items out of the index)."""
        hash_value, range_value = item.attrs.get(self.hash_attr), item.attrs.get(self.range_attr)
        if not hash_value or not range_value:
            return None
        return (hash_value.type, _cast(hash_value)), (_cast(range_value), *_order(item))

    def reconcile(self, key: TableKey, item: Item | None) -> None:
        old = self.entries.pop(key, None)
        if old is not None:
            partition = self.partitions[old[0]]
            partition.remove(old[1])
            if not partition.keys:
                del self.partitions[old[0]]
        new = self.entry(item) if item is not None else None
        if new is not None:
            self.entries[key] = new
            self.partitions.setdefault(new[0], _Partition()).add(new[1], item)  # type: ignore[arg-type]


@dataclass
class _TtlOrder:
    """Items with a numeric TTL attribute, soonest first: (epoch, table hash key, table range key)."""

    attribute: str
    keys: list[tuple[Decimal, Typed, Typed | None]] = field(default_factory=list)
    entries: dict[TableKey, tuple[Decimal, Typed, Typed | None]] = field(default_factory=dict)

    def reconcile(self, key: TableKey, item: Item | None) -> None:
        old = self.entries.pop(key, None)
        if old is not None:
            at = bisect.bisect_left(self.keys, old)
            if at < len(self.keys) and self.keys[at] == old:
                del self.keys[at]
        value = item.attrs.get(self.attribute) if item is not None else None
        if value is not None and value.type == "N":
            entry = (_cast(value), *key)
            self.entries[key] = entry
            bisect.insort(self.keys, entry)


class TableIndexes:
    def __init__(self, table: Table) -> None:
        self.signature = _signature(table)
        self.globals: dict[str, _GlobalIndex] = {}
        for index in table.global_indexes or []:
            hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
            ranges = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
            if len(hashes) == 1 and len(ranges) == 1:  # other shapes are left to moto
                self.globals[index.name] = _GlobalIndex(hashes[0], ranges[0])
        self.ttl: _TtlOrder | None = None
        for item in _every_item(table):
            self.reconcile(_table_key(item), item)

    def reconcile(self, key: TableKey, item: Item | None) -> None:
        for index in self.globals.values():
            index.reconcile(key, item)
        if self.ttl is not None:
            self.ttl.reconcile(key, item)

    def ttl_order(self, table: Table, attribute: str) -> _TtlOrder:
        if self.ttl is None or self.ttl.attribute != attribute:
            self.ttl = _TtlOrder(attribute)
            for item in _every_item(table):
                self.ttl.reconcile(_table_key(item), item)
        return self.ttl


def _signature(table: Table) -> tuple[Any, ...]:
    return tuple((index.name, tuple((k["AttributeName"], k["KeyType"]) for k in index.schema))
                 for index in table.global_indexes or [])


def _every_item(table: Table) -> Iterator[Item]:
    for partition in list(table.items.values()):
        if isinstance(partition, Item):
            yield partition
        else:
            yield from list(partition.values())


_registry: weakref.WeakKeyDictionary[Table, TableIndexes] = weakref.WeakKeyDictionary()


def indexes_of(table: Table) -> TableIndexes:
    """The table's indexes, built now if the table is new to them (or its indexes changed)."""
    with _lock:
        indexes = _registry.get(table)
        if indexes is None or indexes.signature != _signature(table):
            indexes = _registry[table] = TableIndexes(table)
        return indexes


def _touch(backend: DynamoDBBackend, table_name: str, attributes: dict[str, Any] | None) -> None:
    """Reads the item of `attributes`' key again into the table's indexes (if they exist yet)."""
    table = backend.tables.get(table_name)
    if table is None or not isinstance(attributes, dict) or table.hash_key_attr not in attributes:
        return
    with _lock:
        indexes = _registry.get(table)
        if indexes is None:
            return  # built from the table when first read
        hash_value = DynamoType(attributes[table.hash_key_attr])
        range_value = None
        if table.range_key_attr is not None:
            if table.range_key_attr not in attributes:
                return
            range_value = DynamoType(attributes[table.range_key_attr])
        indexes.reconcile((_typed(hash_value), None if range_value is None else _typed(range_value)),
                          _get(table, hash_value, range_value))


# --- the writes --------------------------------------------------------------------------------
def _after_put(put: Callable[..., Any]) -> Callable[..., Any]:
    def put_item(backend: DynamoDBBackend, table_name: str, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return put(backend, table_name, item_attrs, *args, **kwargs)
        finally:
            _touch(backend, table_name, item_attrs)
    return put_item


def _after_keyed(write: Callable[..., Any]) -> Callable[..., Any]:
    def keyed(backend: DynamoDBBackend, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return write(backend, table_name, key, *args, **kwargs)
        finally:
            _touch(backend, table_name, key)
    return keyed


def _after_transaction(transact: Callable[..., Any]) -> Callable[..., Any]:
    def transact_write_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> Any:
        try:
            return transact(backend, transact_items)
        finally:
            for entry in transact_items if isinstance(transact_items, list) else []:
                operation = next(iter(entry.values()), None) if isinstance(entry, dict) else None
                if isinstance(operation, dict):
                    _touch(backend, operation.get("TableName", ""), operation.get("Item", operation.get("Key")))
    return transact_write_items


# --- the query ---------------------------------------------------------------------------------
def _bounds(comparison: str | None, values: list[DynamoType]) -> tuple[Any, bool, Any, bool] | None:
    """(low, low included, high, high included) of the sort-key condition; None: no bound known."""
    if comparison is None:
        return (None, True, None, True)
    cast = [_cast(v) for v in values]
    if comparison == "EQ":
        return (cast[0], True, cast[0], True)
    if comparison == "LT":
        return (None, True, cast[0], False)
    if comparison == "LE":
        return (None, True, cast[0], True)
    if comparison == "GT":
        return (cast[0], False, None, True)
    if comparison == "GE":
        return (cast[0], True, None, True)
    if comparison == "BETWEEN":
        return (cast[0], True, cast[1], True)
    if comparison == "BEGINS_WITH":
        prefix = cast[0]
        if isinstance(prefix, str) and prefix and ord(prefix[-1]) < 0x10FFFF:
            return (prefix, True, prefix[:-1] + chr(ord(prefix[-1]) + 1), False)
        return (prefix, True, None, True)
    return None


def _window(keys: list[SortKey], bounds: tuple[Any, bool, Any, bool]) -> tuple[int, int]:
    low, low_included, high, high_included = bounds
    first = 0 if low is None else (bisect.bisect_left(keys, low, key=_head) if low_included
                                   else bisect.bisect_right(keys, low, key=_head))
    last = len(keys) if high is None else (bisect.bisect_right(keys, high, key=_head) if high_included
                                           else bisect.bisect_left(keys, high, key=_head))
    return first, max(first, last)


def _head(sort_key: SortKey) -> Any:
    return sort_key[0]


def _start_key(exclusive_start_key: dict[str, Any] | None, attributes: list[str]) -> SortKey | bool | None:
    """The sort key of `ExclusiveStartKey` (None without one; False when it lacks an attribute)."""
    if not exclusive_start_key:
        return None
    try:
        return tuple(_cast(DynamoType(exclusive_start_key[name])) if name else None for name in attributes)
    except (KeyError, TypeError, IndexError, AttributeError):
        return False


def _candidates(keys: list[SortKey], items: list[Item], comparison: str | None, values: list[DynamoType],
                range_attr: str, start: SortKey | None, forward: bool, limit: int | None) -> list[Item] | None:
    """The partition's items moto's loop would look at, in query order. moto walks the partition from
    the start key and checks the limit and the page size before the sort-key condition, so an item
    that fails the condition can end the page too: the one right after the matches when they fill
    the limit, or one too big for the page. Items before the first match cannot (the page is empty
    then), nor can items after the matches while the page has room for the largest item."""
    bounds = _bounds(comparison, values)
    if bounds is None:
        return None
    first, last = _window(keys, bounds)
    if forward:
        begin = first if start is None else max(first, bisect.bisect_right(keys, start))
        positions: Iterable[int] = range(begin, len(keys))
    else:
        end = last if start is None else min(last, bisect.bisect_left(keys, start))
        positions = range(end - 1, -1, -1)
    chosen: list[Item] = []
    matched = size = 0
    for at in positions:
        item = items[at]
        inside = first <= at < last
        if not inside and size + MAX_ITEM_BYTES <= RESULT_SIZE_LIMIT and (limit is None or matched < limit):
            break  # past the matches, and nothing after them can end the page
        if limit is not None and matched == limit:
            chosen.append(item)  # ends the page: moto's LastEvaluatedKey is the match before it
            break
        item_size = item.size()
        if size + item_size > RESULT_SIZE_LIMIT:
            chosen.append(item)
            break
        if inside and _matches(item, range_attr, comparison, values):
            chosen.append(item)
            matched += 1
            size += item_size
    return chosen


def _matches(item: Item, range_attr: str, comparison: str | None, values: list[DynamoType]) -> bool:
    if comparison is None:
        return True
    value = item.attrs.get(range_attr)
    return bool(value) and value.compare(comparison, values)  # type: ignore[union-attr]


def _narrow(table: Table, hash_key: DynamoType | None, comparison: str | None, values: list[DynamoType],
            limit: int | None, exclusive_start_key: dict[str, Any] | None, forward: bool, index_name: str | None,
            hash_conditions: list[tuple[str, DynamoType]] | None,
            range_conditions: list[tuple[str, str, list[DynamoType]]] | None) -> list[Item] | None:
    if range_conditions and len(range_conditions) > 1:
        return None
    if index_name is None:
        if hash_key is None or table.range_key_attr is None:
            return None
        if range_conditions and range_conditions[0][0] != table.range_key_attr:
            return None
        partition = table.items.get(hash_key)
        if not isinstance(partition, dict):
            return [] if partition is None else None
        ordered = sorted(partition.values(), key=lambda item: _cast(item.range_key))
        keys = [(_cast(item.range_key),) for item in ordered]
        start = _start_key(exclusive_start_key, [table.range_key_attr])
        if start is False:
            return None
        return _candidates(keys, ordered, comparison, values, table.range_key_attr, start, forward, limit)
    index = indexes_of(table).globals.get(index_name)
    if index is None or not any(i.name == index_name and isinstance(i, GlobalSecondaryIndex)
                                for i in table.global_indexes or []):
        return None
    if not hash_conditions or len(hash_conditions) != 1 or hash_conditions[0][0] != index.hash_attr:
        return None
    if range_conditions and range_conditions[0][0] != index.range_attr:
        return None
    wanted = hash_conditions[0][1]
    found = index.partitions.get((wanted.type, _cast(wanted)))
    if found is None:
        return []
    start = _start_key(exclusive_start_key, [index.range_attr, table.hash_key_attr, table.range_key_attr])
    if start is False:
        return None
    return _candidates(found.keys, found.items, comparison, values, index.range_attr, start, forward, limit)


def _narrowed_query(query: Callable[..., Any]) -> Callable[..., Any]:
    def narrowed(table: Table, hash_key: DynamoType | None, range_comparison: str | None,
                 range_objs: list[DynamoType], limit: int, exclusive_start_key: dict[str, Any],
                 scan_index_forward: bool, projection_expressions: Any, index_name: str | None = None,
                 consistent_read: bool = False, filter_expression: Any = None,
                 hash_key_conditions: list[tuple[str, DynamoType]] | None = None,
                 range_key_conditions: list[tuple[str, str, list[DynamoType]]] | None = None,
                 **filter_kwargs: Any) -> Any:
        candidates = None
        if not filter_kwargs and not getattr(_bypass, "on", False):
            with _lock:
                candidates = _narrow(table, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                                     scan_index_forward is not False, index_name, hash_key_conditions,
                                     range_key_conditions)
        arguments = (table, hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
                     projection_expressions, index_name, consistent_read, filter_expression)
        named = {"hash_key_conditions": hash_key_conditions, "range_key_conditions": range_key_conditions,
                 **filter_kwargs}
        if candidates is None:
            return query(*arguments, **named)
        _narrowed.table, _narrowed.items = table, candidates
        try:
            return query(*arguments, **named)
        finally:
            _narrowed.table = _narrowed.items = None
    narrowed.narrowed_by_local_indexes = True  # type: ignore[attr-defined]
    return narrowed


def _narrowable_items(all_items: Callable[[Table], list[Item]]) -> Callable[[Table], list[Item]]:
    def items(table: Table) -> list[Item]:
        if getattr(_narrowed, "table", None) is table:
            return list(_narrowed.items)
        return all_items(table)
    return items


# --- TTL -----------------------------------------------------------------------------------------
def expire(backend: DynamoDBBackend, table_name: str, attribute: str, floor: int, now: int,
           on_delete: Callable[[dict[str, Any]], None]) -> int:
    """Deletes every item of the table whose TTL attribute (epoch seconds) is within [floor, now],
    as DeleteItem would (stream records included); `on_delete` hears each key (in the wire format)
    just before its item goes. Returns how many. The caller holds the engine (one request at a time)."""
    table = backend.tables.get(table_name)
    if table is None:
        return 0
    with _lock:
        indexes = indexes_of(table)
        order = indexes.ttl_order(table, attribute)
        first = bisect.bisect_left(order.keys, (Decimal(floor),))
        last = bisect.bisect_right(order.keys, (Decimal(now), _Top(), _Top()))
        due = order.keys[first:last]
        deleted = 0
        for _, hash_key, range_key in due:
            item = _get(table, DynamoType(dict([hash_key])), None if range_key is None else DynamoType(dict([range_key])))
            if item is None:
                continue
            on_delete(_wire_key(table, item))
            _delete(table, item)
            indexes.reconcile((hash_key, range_key), None)
            deleted += 1
        return deleted


def _delete(table: Table, item: Item) -> None:
    """`Table.delete_item`, with a REMOVE record built when first read (`_TtlRemoveRecord`)."""
    if item.range_key is None:
        table.items.pop(item.hash_key, None)
    else:
        table.items[item.hash_key].pop(item.range_key, None)  # moto leaves an emptied partition in place too
    shard = table.stream_shard
    if shard is None:
        return
    if table.lambda_event_source_mappings:
        shard.add(item, None)  # moto's own delivery to its Lambda mappings wants the records now
        return
    shard.items.append(_TtlRemoveRecord(table, item, len(shard.items) + shard.starting_sequence_number))


class _TtlRemoveRecord(StreamRecord):
    """moto's REMOVE record, built by moto's own code when a reader first asks for it, with the id
    and time it has now. Building records (an item image and a JSON size each) was most of a long
    expiry; a deleted item never changes again, so building it later gives the same record."""

    def __init__(self, table: Table, old: Item, sequence_number: int) -> None:
        self._arguments = (table, table.stream_specification["StreamViewType"], "REMOVE", old, None, sequence_number)
        self._event_id = mock_random.uuid4().hex
        self._created = utcnow()
        self._built: dict[str, Any] | None = None

    @property  # type: ignore[override]
    def record(self) -> dict[str, Any]:
        if self._built is None:
            StreamRecord.__init__(self, *self._arguments)  # sets `record` below
        assert self._built is not None
        return self._built

    @record.setter
    def record(self, value: dict[str, Any]) -> None:
        value["eventID"] = self._event_id
        change = value["dynamodb"]
        change["ApproximateCreationDateTime"] = self._created
        change["SizeBytes"] = 1  # then measured as moto measures it, with the time of the deletion
        change["SizeBytes"] = len(dynamo_json_dump(change))
        self._built = value


class _Top:
    """Sorts after any value (the upper bound of a TTL slice)."""

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return True


def _get(table: Table, hash_value: DynamoType, range_value: DynamoType | None) -> Item | None:
    partition = table.items.get(hash_value)
    if range_value is None:
        return partition if isinstance(partition, Item) else None
    return partition.get(range_value) if isinstance(partition, dict) else None


def _wire_key(table: Table, item: Item) -> dict[str, Any]:
    key = {table.hash_key_attr: item.hash_key.to_json()}
    if table.range_key_attr is not None and item.range_key is not None:
        key[table.range_key_attr] = item.range_key.to_json()
    return key


# --- installing ------------------------------------------------------------------------------
def patches() -> list[tuple[type, str, Callable[..., Any]]]:
    """(class, attribute, replacement) of every moto method this layer wraps."""
    return [
        (Table, "query", _narrowed_query(Table.query)),
        (Table, "all_items", _narrowable_items(Table.all_items)),
        (DynamoDBBackend, "put_item", _after_put(DynamoDBBackend.put_item)),
        (DynamoDBBackend, "update_item", _after_keyed(DynamoDBBackend.update_item)),
        (DynamoDBBackend, "delete_item", _after_keyed(DynamoDBBackend.delete_item)),
        (DynamoDBBackend, "transact_write_items", _after_transaction(DynamoDBBackend.transact_write_items)),
    ]


def install() -> None:
    """Once per process, after any other wrapper of `transact_write_items` (the local stack's
    item-level rollback): the indexes must read the touched items once everything is settled."""
    if getattr(Table.query, "narrowed_by_local_indexes", False):
        return
    for owner, name, replacement in patches():
        setattr(owner, name, replacement)


@contextmanager
def moto_alone() -> Iterator[None]:
    """Queries made in this block (this thread) go to moto unnarrowed: the tests' oracle."""
    _bypass.on = True
    try:
        yield
    finally:
        _bypass.on = False
