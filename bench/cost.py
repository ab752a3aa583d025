"""What an operation costs on AWS at on-demand prices: DynamoDB request units computed from the
items each request reads and writes (moto reports fixed capacity figures, not sizes), Lambda
GB-seconds from the function's memory in template.yaml and a measured duration.

Prices live here and only here, with the date they were read."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

# us-east-1 on-demand list prices in USD, as published on aws.amazon.com/dynamodb/pricing and
# aws.amazon.com/lambda/pricing after DynamoDB's on-demand price cut of 2024-11-01 (read on
# that basis; not re-checked online from this machine: check them before quoting a figure).
PRICES_AS_OF = "2024-11-01"
PRICES = {
    "dynamodb_write_request_unit": Decimal("0.625") / 1_000_000,
    "dynamodb_read_request_unit": Decimal("0.125") / 1_000_000,
    "lambda_gb_second_x86": Decimal("0.0000166667"),
    "lambda_request": Decimal("0.20") / 1_000_000,
    "api_gateway_rest_request": Decimal("3.50") / 1_000_000,
    "s3_put_request": Decimal("0.005") / 1_000,
    "s3_get_request": Decimal("0.0004") / 1_000,
}

READ_UNIT_BYTES, WRITE_UNIT_BYTES = 4096, 1024


def item_size(item: dict[str, Any] | None) -> int:
    """An item's size as DynamoDB bills it (typed JSON, as botocore's client sends it): attribute
    names plus values, numbers about one byte per two digits plus one."""
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "N":
        return math.ceil(len(inner.lstrip("-").replace(".", "")) / 2) + 1
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: v}) for v in inner)
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + 1 + _value_size(v) for k, v in inner.items())
    return 0


def _read_units(size: int, *, consistent: bool, transactional: bool = False) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return units * (2.0 if transactional else 1.0 if consistent else 0.5)


def _write_units(size: int, *, transactional: bool = False) -> float:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES)) * (2.0 if transactional else 1.0)


@dataclass
class Meter:
    """Counts DynamoDB read and write request units of the requests a client makes. `lookup(table,
    key)` reads an item without being counted (an unmetered client), for the before and after
    images of writes; `indexes(table)` names each GSI's key attributes and projection."""

    lookup: Callable[[str, dict[str, Any]], dict[str, Any] | None]
    indexes: dict[str, list[tuple[set[str], str]]]
    read_units: float = 0.0
    write_units: float = 0.0
    requests: int = 0
    cpu: float = 0.0  # CPU and wall seconds spent metering: timed benchmarks subtract them
    wall: float = 0.0

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call.dynamodb.*", self._timed(self._before))
        client.meta.events.register("after-call.dynamodb.*", self._timed(self._after))

    def _timed(self, hook: Callable[..., None]) -> Callable[..., None]:
        def run(**kwargs: Any) -> None:
            started, wall = time.process_time(), time.perf_counter()
            try:
                hook(**kwargs)
            finally:
                self.cpu += time.process_time() - started
                self.wall += time.perf_counter() - wall
        return run

    def _before(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        body = json.loads(params.get("body") or b"{}")
        context["colis_meter_body"] = body
        context["colis_meter_before"] = self._images(model.name, body)

    def _images(self, operation: str, body: dict[str, Any]) -> list[tuple[str, dict[str, Any], int]]:
        """(table, key, size before) of each item a write touches."""
        found = []
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            key = body.get("Key") or _key_of(body.get("Item", {}), self._key_names(body["TableName"]))
            found.append((body["TableName"], key, item_size(self.lookup(body["TableName"], key))))
        elif operation == "TransactWriteItems":
            for entry in body.get("TransactItems", []):
                _kind, spec = next(iter(entry.items()))
                key = spec.get("Key") or _key_of(spec.get("Item", {}), self._key_names(spec["TableName"]))
                found.append((spec["TableName"], key, item_size(self.lookup(spec["TableName"], key))))
        elif operation == "BatchWriteItem":
            for table, writes in body.get("RequestItems", {}).items():
                for write in writes:
                    spec = write.get("PutRequest") or write.get("DeleteRequest")
                    key = spec.get("Key") or _key_of(spec.get("Item", {}), self._key_names(table))
                    found.append((table, key, item_size(self.lookup(table, key))))
        return found

    def _key_names(self, table: str) -> tuple[str, str]:
        return ("pk", "sk")

    def _after(self, model: Any, http_response: Any, parsed: dict[str, Any], context: dict[str, Any],
               **_: Any) -> None:
        self.requests += 1
        operation = model.name
        if http_response.status_code >= 300:
            # A refused conditional write is billed as the write would have been; a cancelled
            # transaction alike (items it would have written, at their current size).
            for _table, _key, before in context.get("colis_meter_before", []):
                self.write_units += _write_units(before, transactional=operation == "TransactWriteItems")
            return
        body = context.get("colis_meter_body") or {}
        if operation == "GetItem":
            self.read_units += _read_units(item_size(parsed.get("Item")), consistent=bool(body.get("ConsistentRead")))
        elif operation in ("Query", "Scan"):
            size = sum(item_size(item) for item in parsed.get("Items", []))
            self.read_units += _read_units(size, consistent=bool(body.get("ConsistentRead")))
        elif operation == "BatchGetItem":
            for items in parsed.get("Responses", {}).values():
                for item in items:
                    self.read_units += _read_units(item_size(item), consistent=False)
        elif operation == "TransactGetItems":
            for response in parsed.get("Responses", []):
                self.read_units += _read_units(item_size(response.get("Item")), consistent=True, transactional=True)
        for table, key, before in context.get("colis_meter_before", []):
            after_item = self.lookup(table, key)
            size = max(before, item_size(after_item))
            transactional = operation == "TransactWriteItems"
            self.write_units += _write_units(size, transactional=transactional)
            self.write_units += self._index_writes(table, after_item)

    def _index_writes(self, table: str, item: dict[str, Any] | None) -> float:
        """A write to an item that carries an index's key attributes writes that index too."""
        if not item:
            return 0.0
        units = 0.0
        for key_names, projection in self.indexes.get(table, []):
            if key_names <= set(item):
                projected = item if projection == "ALL" else {k: item[k] for k in key_names | {"pk", "sk"} if k in item}
                units += _write_units(item_size(projected))
        return units

    def reset(self) -> None:
        self.read_units = self.write_units = self.cpu = self.wall = 0.0
        self.requests = 0


def table_meter(table_name: str) -> Meter:
    """A meter for the table of template.yaml named `table_name`, reading images through a client
    of its own (not metered)."""
    import boto3

    from tests.template_resources import table_definition

    reader = boto3.client("dynamodb")

    def lookup(table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        return reader.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item") if key else None

    return Meter(lookup, {table_name: indexes_of(table_definition(table_name))})


def _key_of(item: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: item[name] for name in names if name in item}


def indexes_of(table_definition: dict[str, Any]) -> list[tuple[set[str], str]]:
    return [({part["AttributeName"] for part in index["KeySchema"]}, index["Projection"]["ProjectionType"])
            for index in table_definition.get("GlobalSecondaryIndexes", [])]


def dollars_per_million(*, read_units: float, write_units: float, gb_seconds: float, lambda_requests: float = 1.0,
                        api_requests: float = 0.0, s3_puts: float = 0.0, s3_gets: float = 0.0) -> Decimal:
    """USD per million operations, from the per-operation figures."""
    per_operation = (Decimal(str(read_units)) * PRICES["dynamodb_read_request_unit"]
                     + Decimal(str(write_units)) * PRICES["dynamodb_write_request_unit"]
                     + Decimal(str(gb_seconds)) * PRICES["lambda_gb_second_x86"]
                     + Decimal(str(lambda_requests)) * PRICES["lambda_request"]
                     + Decimal(str(api_requests)) * PRICES["api_gateway_rest_request"]
                     + Decimal(str(s3_puts)) * PRICES["s3_put_request"]
                     + Decimal(str(s3_gets)) * PRICES["s3_get_request"])
    return (per_operation * 1_000_000).quantize(Decimal("0.01"))


def function_memory_mb(logical_id: str) -> int:
    """MemorySize of a function in template.yaml (its own, else the Globals')."""
    from tests.template_resources import template

    parsed = template()
    own = parsed["Resources"][logical_id]["Properties"].get("MemorySize")
    return int(own if own is not None else parsed["Globals"]["Function"]["MemorySize"])
