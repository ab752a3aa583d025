"""Retention schedule: the same 500 due timers in tables of 10,000 and 100,000 shipments, caught up
by one run of the real `retention` schedule code against moto (its own process).

Each table holds N shipments as the API writes them (shipment item, tracking-number item, three
timers with their `due` index entries); the same 500 timers are due at NOW in both:
- 200 ARCHIVE timers of silent shipments 61-74 days old (archived);
- 100 REDACT timers of delivered shipments 91-104 days old (redacted);
- 100 ARCHIVE timers of those delivered shipments, due 31-44 days ago (nothing to do: delivered);
- 100 DELETE timers of delivered shipments 15 months + 1-14 days old (deleted, with everything under them).
Every other shipment is younger than 59 days: its timers are in the index, not due.

Measured per size, by botocore's event hooks on the client the functions use: DynamoDB requests by
operation, and the items the `due` index queries read (their ScannedCount). moto's Query walks the
whole table in Python, so wall time is printed but not compared (PLATFORM_NOTES); its base-table
Query is made to look at the queried partition only (see `_serve_moto`), or the large run takes hours.
The last line is the JSON figures line. Exit status 1 when due-index items read per due item exceed
`max_index_reads_per_due_item`, when requests per due item grow from the small to the large table
by more than `max_requests_growth_ratio`, when anything scanned the table, or when a due timer was
left undone.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = tuple(int(n) for n in os.environ.get("BENCH_RETENTION_SHIPMENTS", "10000,100000").split(","))
NOW = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
# due: 200 archive + 100 redact + 100 archive + 100 delete; BENCH_RETENTION_DUE_UNIT (default 100)
# scales them for the test suite's smoke run.
_UNIT = int(os.environ.get("BENCH_RETENTION_DUE_UNIT", "100"))
SILENT, DELIVERED, EXPIRED = 2 * _UNIT, _UNIT, _UNIT
DUE = SILENT + 2 * DELIVERED + EXPIRED
MAX_INDEX_READS_PER_DUE_ITEM = 1.2
MAX_REQUESTS_GROWTH_RATIO = 1.1


# --- moto in its own process ---------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve_moto(port: int) -> None:
    """moto server, whose base-table Query reads the queried partition's items instead of sorting
    the whole table first (moto 5.2.5 sorts every item of the table on each Query, which would
    make the 100,000-shipment run take hours). Results, ScannedCount and everything else are moto's
    own: only which items it looks at changes. Index queries are left as they are."""
    from moto.dynamodb.models.table import Table
    from moto.server import main as moto_main

    original_query, original_all_items = Table.query, Table.all_items

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        self._bench_partition = hash_key if index_name is None and self.range_key_attr else None
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            self._bench_partition = None

    def all_items(self: Any) -> Any:
        partition = getattr(self, "_bench_partition", None)
        if partition is None:
            return original_all_items(self)
        return list((self.items.get(partition) or {}).values())

    Table.query, Table.all_items = query, all_items
    moto_main(["-H", "127.0.0.1", "-p", str(port)])


def _start_moto() -> tuple[subprocess.Popen[bytes], str]:
    import requests

    port = _free_port()
    process = subprocess.Popen([sys.executable, __file__, "--moto-server", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/moto-api/", timeout=2).status_code == 200:
                return process, url
        except requests.ConnectionError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("moto server did not start")


def _environment(endpoint: str) -> None:
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": endpoint, "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",
    })
    from botocore.config import Config

    from shared.platform import aws, observability

    # Metrics are not what this bench measures, and their EMF lines would bury the figures line.
    observability.count = lambda name, value=1: None

    # moto answers a Query of a big table in seconds; the functions' 10 s read timeout is for AWS.
    aws._config = lambda: Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5,
                                 read_timeout=600)
    aws.reset_clients()


def _say(message: str) -> None:
    """Progress on stderr: the figures line stays the last line of stdout."""
    print(f"[bench/retention {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- data ----------------------------------------------------------------------------------------
def _items(merchant_id: str, number: int, created_at: datetime, status: str,
           timers: tuple[str, ...] | None) -> list[dict[str, Any]]:
    """A shipment's items as creation writes them; `timers`: the ones still there (None: all three)."""
    from shared.dynamo import keys
    from shared.merchants.model import RetentionSettings
    from shared.platform import clock
    from shared.platform.ids import new_id
    from shared.retention.timers import shipment_timer_items
    from shared.shipments.model import Parcel, Shipment, ShipmentIn
    from shared.shipments.store import shipment_to_item
    from tests.factories import shipment_body

    body = ShipmentIn.model_validate(shipment_body()).model_dump(exclude={"parcels"})
    tracking_number = f"1Z{number:018d}"
    parcel = Parcel(id=new_id("prc"), index=1, tracking_number=tracking_number, status=status)
    shipment = Shipment(**body, id=new_id("shp"), status=status, created_at=created_at, parcels=[parcel])
    number_item = {**keys.tracking_number(tracking_number, merchant_id), "merchant_id": merchant_id,
                   "shipment_id": shipment.id, "parcel_id": parcel.id, "tracking_number": tracking_number,
                   "created_at": clock.isoformat(created_at)}
    timer_items = [t for t in shipment_timer_items(merchant_id, shipment.id, created_at, None, RetentionSettings())
                   if timers is None or t["action"] in timers]
    return [shipment_to_item(merchant_id, shipment), number_item, *timer_items]


def _load(merchant_id: str, shipments: int) -> None:
    """The due population (the same in every table), then young shipments up to `shipments`."""
    from shared.platform import aws

    groups = [  # (count, age of the oldest, ages spread over, status, timers left)
        (SILENT, timedelta(days=74), timedelta(days=14), "in_transit", None),
        (DELIVERED, timedelta(days=104), timedelta(days=14), "delivered", None),
        (EXPIRED, timedelta(days=15 * 31 + 14), timedelta(days=14), "delivered", ("DELETE",)),
        (shipments - DUE + DELIVERED, timedelta(days=59), timedelta(days=58), "in_transit", None),
    ]
    number = 0
    with aws.table().batch_writer() as batch:
        for count, oldest, spread, status, timers in groups:
            for n in range(count):
                number += 1
                for item in _items(merchant_id, number, NOW - oldest + spread * n / count, status, timers):
                    batch.put_item(Item=item)
                if number % 10_000 == 0:
                    _say(f"  {number:,} shipments written")


class Requests:
    """DynamoDB requests by operation, and the items `due` index queries read (ScannedCount)."""

    def __init__(self, client: Any) -> None:
        from shared.dynamo import keys

        self.calls: Counter[str] = Counter()
        self.index_items = 0
        self._index = keys.DUE.name
        client.meta.events.register("before-parameter-build.dynamodb.Query", self._mark)
        client.meta.events.register("before-call.dynamodb.*", self._before)
        client.meta.events.register("after-call.dynamodb.Query", self._after)

    def _mark(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["due_index"] = params.get("IndexName") == self._index

    def _before(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def _after(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if context.get("due_index"):
            self.index_items += int(parsed.get("ScannedCount", 0))


def _still_due() -> int:
    from shared.platform import clock
    from shared.retention.store import TimerRepository
    from shared.retention.timers import month_after, month_of

    repository, month, left = TimerRepository(), month_of((NOW - timedelta(days=500)).date()), 0
    while month <= NOW.date():
        left += sum(1 for _ in repository.due_in(month, clock.epoch_seconds(NOW)))
        month = month_after(month)
    return left


def _measure(shipments: int) -> dict[str, Any]:
    import boto3

    from functions.retention import service
    from functions.retention.actions import Repositories
    from shared.merchants.store import MerchantRepository
    from shared.platform import aws, clock
    from shared.retention.store import TimerRepository
    from shared.retention.timers import month_of
    from tests.template_resources import create_table

    os.environ["TABLE_NAME"] = f"colis-bench-retention-{shipments}"
    aws.reset_clients()
    create_table(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
    clock.use_fixed(NOW - timedelta(days=600))
    merchant_id = MerchantRepository().create("Bench").id
    clock.use_fixed(NOW)
    _say(f"{shipments:,} shipments: loading")
    _load(merchant_id, shipments)
    # A schedule that has been running: its cursor is at the oldest month still holding due timers.
    TimerRepository().advance_cursor(month_of((NOW - timedelta(days=45)).date()))
    requests = Requests(aws.table().meta.client)
    _say(f"{shipments:,} shipments: one run of the schedule")
    started = time.perf_counter()
    summary = service.run_schedule(Repositories.default(), NOW, seconds_left=lambda: 1e9)
    seconds = time.perf_counter() - started
    calls = dict(requests.calls)
    total = sum(calls.values())
    left = _still_due()
    _say(f"{shipments:,} shipments: {summary}, {total} requests, {requests.index_items} index items, {seconds:.1f} s")
    return {"shipments": shipments, "due": DUE, "done": summary["done"], "left_due": left,
            "months_read": summary["months_read"], "due_index_items_read": requests.index_items,
            "requests": total, "requests_by_operation": calls, "scans": calls.get("Scan", 0),
            "index_reads_per_due_item": round(requests.index_items / DUE, 3),
            "requests_per_due_item": round(total / DUE, 3), "seconds": round(seconds, 1)}


def main() -> int:
    moto, endpoint = _start_moto()
    try:
        _environment(endpoint)
        sizes = [_measure(n) for n in SIZES]
    finally:
        moto.terminate()
        try:
            moto.wait(timeout=30)
        except subprocess.TimeoutExpired:
            moto.kill()
            moto.wait()
    small, large = sizes[0], sizes[-1]
    growth = round(large["requests_per_due_item"] / small["requests_per_due_item"], 3)
    worst_index_reads = max(s["index_reads_per_due_item"] for s in sizes)
    figures = {
        "bench": "retention", "moto": "server, own process", "due_items": DUE, "sizes": sizes,
        "index_reads_per_due_item": {str(s["shipments"]): s["index_reads_per_due_item"] for s in sizes},
        "requests_per_due_item": {str(s["shipments"]): s["requests_per_due_item"] for s in sizes},
        "requests_growth_ratio": growth,
        "max_index_reads_per_due_item": MAX_INDEX_READS_PER_DUE_ITEM,
        "max_requests_growth_ratio": MAX_REQUESTS_GROWTH_RATIO,
    }
    ok = (worst_index_reads <= MAX_INDEX_READS_PER_DUE_ITEM and growth <= MAX_REQUESTS_GROWTH_RATIO
          and all(s["scans"] == 0 and s["left_due"] == 0 and s["done"] == DUE for s in sizes))
    figures["ok"] = ok
    print(json.dumps(figures))
    return 0 if ok else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--moto-server"]:
        _serve_moto(int(sys.argv[2]))
        sys.exit(0)
    sys.exit(main())
