"""TransactWriteItems for the local engine at the cost of the items it touches, not of the table.

moto backs up a transaction by deep-copying the whole table (its items and its stream records)
once per item of the transaction, and restores the copy when the transaction is cancelled. Creating
one shipment (a transaction of six or more items) then costs O(table): with a few hundred
shipments in the table, seconds each, every other request of the stack waiting behind it (the
engine serves one request at a time). Measured here: 0.5 s per 6-item transaction at 500 items,
5 s at 4,000.

Here the undo record holds a deep copy of each item the transaction names (or its absence) and
the length of each touched table's stream; a transaction that raises puts those items back and
drops the stream records it added. That is moto's outcome without the copy: the table object,
its other items and its stream shard stay as they were (so stream readers keep their position).
The engine serves one request at a time (`moto_server._one_request_at_a_time`), so nothing else
sees the table between the writes and the undo.
"""

from __future__ import annotations

import copy
import threading
import types
from collections.abc import Callable
from typing import Any

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

TransactWrite = Callable[[DynamoDBBackend, list[dict[str, Any]]], None]
_in_transaction = threading.local()


def _deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
    if isinstance(value, Table) and getattr(_in_transaction, "active", False):
        return value  # moto's whole-table backup: the undo record below replaces it
    return copy.deepcopy(value, memo)


class _Undo:
    def __init__(self, backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        self._items: list[tuple[Table, DynamoType, DynamoType | None, Any]] = []
        self._streams: dict[int, tuple[Any, int]] = {}
        for entry in transact_items:
            operation = next(iter(entry.values()), None) if isinstance(entry, dict) else None
            if not isinstance(operation, dict):
                continue
            table = backend.tables.get(operation.get("TableName", ""))
            key = self._key(table, operation)
            if table is None or key is None:
                continue  # moto refuses it before writing anything of it
            hash_value, range_value = key
            self._items.append((table, hash_value, range_value, copy.deepcopy(self._find(table, *key))))
            shard = table.stream_shard
            if shard is not None and id(shard) not in self._streams:
                self._streams[id(shard)] = (shard, len(shard.items))

    @staticmethod
    def _key(table: Table | None, operation: dict[str, Any]) -> tuple[DynamoType, DynamoType | None] | None:
        if table is None:
            return None
        attributes = operation.get("Item") if "Item" in operation else operation.get("Key")
        if not isinstance(attributes, dict) or table.hash_key_attr not in attributes:
            return None
        if table.range_key_attr is not None and table.range_key_attr not in attributes:
            return None
        range_value = DynamoType(attributes[table.range_key_attr]) if table.range_key_attr is not None else None
        return DynamoType(attributes[table.hash_key_attr]), range_value

    @staticmethod
    def _find(table: Table, hash_value: DynamoType, range_value: DynamoType | None) -> Any:
        if range_value is None:
            return table.items.get(hash_value)
        return table.items.get(hash_value, {}).get(range_value)

    def apply(self) -> None:
        for table, hash_value, range_value, before in reversed(self._items):
            if range_value is None:
                if before is None:
                    table.items.pop(hash_value, None)
                else:
                    table.items[hash_value] = before
                continue
            partition = table.items[hash_value]
            if before is None:
                partition.pop(range_value, None)
                if not partition:
                    table.items.pop(hash_value, None)
            else:
                partition[range_value] = before
        for shard, length in self._streams.values():
            del shard.items[length:]  # a cancelled transaction writes no stream record


def item_level_rollback(transact_write_items: TransactWrite) -> TransactWrite:
    """`DynamoDBBackend.transact_write_items` with the undo record above instead of table copies."""

    def transact(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        undo = _Undo(backend, transact_items)
        _in_transaction.active = True
        try:
            transact_write_items(backend, transact_items)
        except BaseException:
            undo.apply()
            raise
        finally:
            _in_transaction.active = False

    transact.item_level_rollback = True  # type: ignore[attr-defined]
    return transact


def copy_module() -> Any:
    """What moto's DynamoDB module sees as `copy` (it reads `copy.deepcopy` at call time): the
    same functions, except that deepcopy leaves tables alone inside a transaction."""
    shim = types.SimpleNamespace(**{name: getattr(copy, name) for name in dir(copy) if not name.startswith("__")})
    shim.deepcopy = _deepcopy
    return shim


def install() -> None:
    """Once per process; the local stack calls it before serving moto."""
    if getattr(DynamoDBBackend.transact_write_items, "item_level_rollback", False):
        return
    dynamodb_models.copy = copy_module()  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = item_level_rollback(DynamoDBBackend.transact_write_items)  # type: ignore[method-assign]
