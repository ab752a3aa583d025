"""Webhook ingestion: 20,000 mixed deliveries (every format, 20 % duplicates, 10 % out of order,
multi-parcel shipments) through the real handler against moto, with DynamoDB requests counted
per new event and per duplicate; the floor is one bare `put_item` per event in the same run.

Time is the process's CPU time: handler and moto run in this one process, and CPU time does not
count the waits another process on this 2-core machine causes (wall time is printed beside it).
Floor and handler run in interleaved blocks, so a drift in machine speed hits both alike."""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import cost as billing  # noqa: E402

DELIVERIES = int(os.environ.get("BENCH_WEBHOOK_DELIVERIES", "20000"))
SHIPMENTS = DELIVERIES // 10
DUPLICATE_SHARE, LATE_SHARE = 0.20, 0.10
BLOCK = 500  # deliveries per block; each block of handler calls follows a block of floor puts
MIN_FLOOR_RATIO = 0.33
PROGRESSION = ["in_transit", "delayed", "in_transit", "out_for_delivery", "delivered"]
START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def _environment() -> None:
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "eu-west-1",
                       "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "TABLE_NAME": "colis-bench",
                       "CONNECTION_SECRET_PREFIX": "/colis/bench/connections/", "POWERTOOLS_TRACE_DISABLED": "true",
                       "POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"})
    os.environ.pop("AWS_ENDPOINT_URL", None)


class Requests:
    """DynamoDB requests, counted by kind, through botocore's event hooks."""

    READS = {"GetItem", "Query", "BatchGetItem", "Scan"}
    WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}

    def __init__(self, client: Any) -> None:
        self.calls: Counter[str] = Counter()
        client.meta.events.register("before-call.dynamodb.*", lambda model, **_: self.calls.update([model.name]))

    def snapshot(self) -> tuple[int, int]:
        return (sum(self.calls[k] for k in self.READS), sum(self.calls[k] for k in self.WRITES))


def _plan(parcels: list[str], rng: random.Random) -> list[tuple[str, str, datetime, bytes | None]]:
    """(carrier, number, status, time) per delivery; duplicates reuse an earlier body verbatim."""
    from tests.carrier_payloads import BUILDERS

    carriers = list(BUILDERS)
    step = {number: 0 for number in parcels}
    sent: list[tuple[str, str, datetime, bytes]] = []
    plan: list[tuple[str, str, datetime, bytes | None]] = []
    for n in range(DELIVERIES):
        if sent and rng.random() < DUPLICATE_SHARE:
            plan.append(("dup", "", START, sent[rng.randrange(len(sent))][3]))
            continue
        number = parcels[n % len(parcels)]
        carrier = carriers[n % len(carriers)]
        position = min(step[number], len(PROGRESSION) - 1)
        at = START + timedelta(hours=position * 6, minutes=n % 50)
        if position > 0 and rng.random() < LATE_SHARE:
            at -= timedelta(days=3)  # older than what the parcel shows: history only
        step[number] += 1
        raw = json.dumps(BUILDERS[carrier](number, PROGRESSION[position], at)).encode()
        sent.append((carrier, number, at, raw))
        plan.append((carrier, number, at, raw))
    return plan


def main() -> int:
    _environment()
    from moto import mock_aws

    # moto backs up a transaction by deep-copying the whole table once per item: every new event's
    # transaction (and shipment creation in the set-up) would cost O(table), over 20 GB at this
    # size. The local stack's engine (`local/transactions.py`, what `make run` uses) keeps moto's
    # semantics and outcome with an item-level undo instead; the floor uses no transaction.
    from local import transactions

    transactions.install()
    with mock_aws():
        import boto3

        from shared.platform import aws, clock
        from tests.template_resources import create_table

        create_table(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
        clock.use_fixed(START + timedelta(days=2))
        figures = _run(aws, clock)
    print(json.dumps(figures))
    return 0 if figures["floor_ratio"] >= MIN_FLOOR_RATIO else 1


def _run(aws: Any, clock: Any) -> dict[str, Any]:
    from functions.shipments import service as shipments_service
    from functions.webhook import handler as webhook
    from shared.merchants.connections import ConnectionRepository
    from shared.merchants.store import MerchantRepository
    from shared.shipments.carriers import CARRIERS
    from shared.shipments.model import ShipmentIn
    from shared.shipments.store import ShipmentRepository
    from tests.apigw import LambdaContext, api_event
    from tests.carrier_signing import signed_headers
    from tests.factories import shipment_body

    rng = random.Random(7)
    merchant = MerchantRepository().create("Bench").id
    connections = {c: ConnectionRepository().create(merchant, c, f"bench-secret-{c}-0123456789")
                   for c in CARRIERS}
    repository, parcels = ShipmentRepository(), []
    for n in range(SHIPMENTS):
        made = shipments_service.create_shipment(repository, merchant,
                                                 ShipmentIn.model_validate(shipment_body(parcels=1 + n % 3)))
        parcels += [p.tracking_number for p in made.parcels]
    plan = _plan(parcels, rng)
    carrier_of = {raw: carrier for carrier, _, _, raw in plan if carrier != "dup"}
    requests = Requests(aws._dynamodb_resource().meta.client)
    meter = billing.table_meter(os.environ["TABLE_NAME"])
    meter.attach(aws._dynamodb_resource().meta.client)
    context = LambdaContext()
    cost = {"new": [0, 0, 0], "duplicate": [0, 0, 0]}  # reads, writes, events
    statuses: Counter[int] = Counter()
    floor, handler_cpu, handler_wall = Floor(), 0.0, 0.0
    for start in range(0, len(plan), BLOCK):
        block = plan[start:start + BLOCK]
        floor.put(len(block))
        started, wall = time.process_time(), time.perf_counter()
        for carrier, _number, _at, raw in block:
            carrier = carrier_of[raw] if carrier == "dup" else carrier
            connection, secret = connections[carrier]
            event = api_event("POST", "/webhooks/{carrier}/{connection_id}", body=raw.decode(),
                              path_params={"carrier": carrier, "connection_id": connection.id},
                              headers=signed_headers(carrier, secret, raw, clock.now()))
            before = requests.snapshot()
            response = webhook.lambda_handler(event, context)
            after = requests.snapshot()
            statuses[response["statusCode"]] += 1
            kind = "duplicate" if json.loads(response["body"]).get("duplicates") else "new"
            cost[kind][0] += after[0] - before[0]
            cost[kind][1] += after[1] - before[1]
            cost[kind][2] += 1
        handler_cpu += time.process_time() - started
        handler_wall += time.perf_counter() - wall
    # the meter's own work (reading before and after images) is not the handler's
    handler_cpu -= meter.cpu
    handler_wall -= meter.wall
    events_per_s = len(plan) / handler_cpu
    floor_per_s = floor.count / floor.cpu
    per = {kind: (round(r / max(n, 1), 3), round(w / max(n, 1), 3)) for kind, (r, w, n) in cost.items()}
    return {"bench": "webhook", "deliveries": len(plan), "accepted_200": statuses[200],
            "duplicates": cost["duplicate"][2], "events_per_s": round(events_per_s, 1),
            "floor_events_per_s": round(floor_per_s, 1), "floor_ratio": round(events_per_s / floor_per_s, 3),
            "wall_events_per_s": round(len(plan) / handler_wall, 1),
            "wall_floor_ratio": round((len(plan) / handler_wall) / (floor.count / floor.wall), 3),
            "reads_per_new_event": per["new"][0], "writes_per_new_event": per["new"][1],
            "reads_per_duplicate": per["duplicate"][0], "writes_per_duplicate": per["duplicate"][1],
            "max_reads_per_new_event": 2, "max_writes_per_new_event": 2, "max_writes_per_duplicate": 1,
            "min_floor_ratio": MIN_FLOOR_RATIO, **_cost_figures(meter, len(plan), handler_cpu)}


def _cost_figures(meter: Any, deliveries: int, handler_cpu: float) -> dict[str, Any]:
    """Per 1,000 deliveries: DynamoDB request units (from item sizes), Lambda GB-seconds (the
    function's memory times the CPU time per delivery measured here, handler and moto together),
    and USD per million tracking updates (webhook function, API Gateway and DynamoDB only)."""
    per = 1000 / deliveries
    memory_gb = billing.function_memory_mb("WebhookFunction") / 1024
    gb_seconds = memory_gb * handler_cpu / deliveries
    dollars = billing.dollars_per_million(read_units=meter.read_units / deliveries,
                                       write_units=meter.write_units / deliveries, gb_seconds=gb_seconds,
                                       api_requests=1)
    return {"rru_per_1000": round(meter.read_units * per, 1), "wru_per_1000": round(meter.write_units * per, 1),
            "lambda_gb_s_per_1000": round(gb_seconds * 1000, 3), "usd_per_million_updates": str(dollars),
            "prices_as_of": billing.PRICES_AS_OF}


class Floor:
    """One bare `put_item` per event, timed in blocks interleaved with the handler's."""

    def __init__(self) -> None:
        import boto3

        self._table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
        self.count, self.cpu, self.wall = 0, 0.0, 0.0

    def put(self, count: int) -> None:
        started, wall = time.process_time(), time.perf_counter()
        for n in range(self.count, self.count + count):
            self._table.put_item(Item={"pk": f"FLOOR#{n}", "sk": "EVENT", "status": "in_transit", "n": n})
        self.cpu += time.process_time() - started
        self.wall += time.perf_counter() - wall
        self.count += count


if __name__ == "__main__":
    raise SystemExit(main())
