"""DynamoDB TTL, emulated: moto stores the TTL setting but never expires anything.

Expired items (TTL attribute, epoch seconds, at or before the product clock) are deleted, and the
REMOVE stream records those deletions produce are marked as the TTL service's, as AWS marks them,
so consumers filtering on `userIdentity.principalId` see exactly those.
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

from local.moto_server import Aws
from local.pollers import Poller
from local.resources import LocalResource, truthy

log = logging.getLogger("local.ttl")

SERVICE_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
_FIVE_YEARS = 5 * 365 * 24 * 3600  # AWS ignores TTL values older than this


def jsonable(value: Any) -> Any:
    """boto3 turns DynamoDB binary values into bytes; Lambda events carry them as base64 text."""
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

    def discard(self, key: str) -> None:
        with self._lock:
            self._keys.discard(key)

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
        deleted = 0
        for key in self._expired_keys(table, now):
            if self._delete(table, key, now):
                deleted += 1
        if deleted:
            log.info("TTL expired %d item(s) of %s", deleted, table.name)
        return deleted

    def _expired_keys(self, table: TtlTable, now: int) -> list[dict[str, Any]]:
        names = {f"#k{i}": name for i, name in enumerate(table.key_attributes)} | {"#ttl": table.attribute}
        arguments: dict[str, Any] = {
            "TableName": table.name,
            "ProjectionExpression": ", ".join(names),
            "FilterExpression": "#ttl BETWEEN :floor AND :now",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {":now": {"N": str(now)}, ":floor": {"N": str(now - _FIVE_YEARS)}},
        }
        keys: list[dict[str, Any]] = []
        while True:
            page = self._aws.client("dynamodb").scan(**arguments)
            keys += [{name: item[name] for name in table.key_attributes} for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return keys
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _delete(self, table: TtlTable, key: dict[str, Any], now: int) -> bool:
        marker = canonical_key(table.name, key)
        self._deletions.add(marker)  # before the delete: the stream reader may see it at once
        try:
            self._aws.client("dynamodb").delete_item(
                TableName=table.name, Key=key, ConditionExpression="#ttl <= :now",
                ExpressionAttributeNames={"#ttl": table.attribute}, ExpressionAttributeValues={":now": {"N": str(now)}})
            return True
        except self._aws.client("dynamodb").exceptions.ConditionalCheckFailedException:
            self._deletions.discard(marker)  # renewed meanwhile: not expired after all
            return False
