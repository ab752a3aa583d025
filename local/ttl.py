"""DynamoDB TTL, emulated: moto stores the TTL setting but never expires anything.

Expired items (TTL attribute, epoch seconds, at or before the product clock) are deleted, and the
REMOVE stream records those deletions produce are marked as the TTL service's, as AWS marks them,
so consumers filtering on `userIdentity.principalId` see exactly those.

The expired items are found in the engine's TTL order (`local.indexes`) and deleted in this process
while the engine serves nothing else, as DeleteItem would delete them (stream records included):
a Scan of the table every few seconds, and a request per expired item, made the engine slow to
everyone else (a 91-day clock move expiring 20,000 retention timers took minutes).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from local import indexes
from local.moto_server import ENGINE, Aws
from local.pollers import ENGINE_ACTIVITY, Poller
from local.resources import LocalResource, truthy

log = logging.getLogger("local.ttl")

SERVICE_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
_FIVE_YEARS = 5 * 365 * 24 * 3600  # AWS ignores TTL values older than this


def jsonable(value: Any) -> Any:
    """boto3 turns DynamoDB binary values into bytes; Lambda events carry them as base64 text."""
    if type(value) is str:  # most leaves of a stream record's images: answered first
        return value
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | set | tuple):
        return [jsonable(item) for item in value]
    return value


def canonical_key(table_name: str, keys: dict[str, Any]) -> str:
    return table_name + "|" + json.dumps(jsonable(keys), sort_keys=True)


class ServiceDeletions:
    """Keys the TTL emulation is deleting; the stream reader claims each once, on its REMOVE record."""

    def __init__(self) -> None:
        self._keys: set[str] = set()
        self._lock = threading.Lock()

    def add(self, key: str) -> None:
        with self._lock:
            self._keys.add(key)

    def claim(self, key: str) -> bool:
        with self._lock:
            if key in self._keys:
                self._keys.remove(key)
                return True
            return False


@dataclass(frozen=True)
class TtlTable:
    name: str
    attribute: str
    key_attributes: tuple[str, ...]


def ttl_tables(resources: dict[str, LocalResource]) -> list[TtlTable]:
    tables = []
    for resource in resources.values():
        spec = resource.properties.get("TimeToLiveSpecification") or {}
        if resource.kind == "AWS::DynamoDB::Table" and truthy(spec.get("Enabled")):
            keys = tuple(element["AttributeName"] for element in resource.properties["KeySchema"])
            tables.append(TtlTable(resource.ref, spec["AttributeName"], keys))
    return tables


class TtlSweeper(Poller):
    def __init__(self, aws: Aws, tables: list[TtlTable], deletions: ServiceDeletions,
                 now: Callable[[], datetime], stop: threading.Event, interval: float = 5.0) -> None:
        super().__init__("ttl", stop, interval)
        self._aws = aws
        self._tables = tables
        self._deletions = deletions
        self._now = now
        self._lock = threading.Lock()

    def poll_once(self) -> bool:
        self.sweep()
        return False

    def sweep(self) -> int:
        """Deletes every expired item now; returns how many."""
        with self._lock:
            now = int(self._now().timestamp())
            return sum(self._sweep_table(table, now) for table in self._tables)

    def _sweep_table(self, table: TtlTable, now: int) -> int:
        def service_deletion(key: dict[str, Any]) -> None:
            self._deletions.add(canonical_key(table.name, key))  # the stream reader claims it on the REMOVE

        with ENGINE:
            deleted = indexes.expire(self._aws.dynamodb_backend(), table.name, table.attribute, now - _FIVE_YEARS,
                                     now, service_deletion)
        if deleted:
            ENGINE_ACTIVITY.bump()  # REMOVE records for the stream reader
            log.info("TTL expired %d item(s) of %s", deleted, table.name)
        return deleted
