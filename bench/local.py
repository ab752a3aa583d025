"""The local stack with a realistic amount of data: is it quick enough to work against?

The stack is started as `make run` starts it (`python -m local`, a subprocess, its own ports and
state file). Loaded into it, not timed:
- 10,000 shipments of the demo merchant, written as the creation writes them (the shipment item,
  one tracking-number item per parcel, the three retention timers: `shared.shipments.store` and
  `shared.retention.timers` build them) by BatchWriteItem to the stack's DynamoDB: creating them
  one by one through the API would take the local engine ten minutes. One in ten is in transit
  with three history events (the tracking page shows them).
Then timed, in this order:
- the 3,000-row customer CSV import, end to end as a client sees it: `POST /v1/customer-imports
  {"upload": true}`, the presigned `PUT` of the file, then `GET /v1/customer-imports/{id}` until
  it is done (this is also how the 3,000 customers are loaded; about 4 % share an address);
- API reads: one shipment, the shipment list, the customer list, one customer;
- the public tracking page (`/track/{slug}/{number}`, HTML);
- the customers' duplicates check (`GET /v1/customers/duplicates`: the merge candidates);
- a 91-day move of the product clock (`POST /_local/clock`: TTL expiry, then the schedules the
  clock makes due), last, as it expires the retention timers.

Figures: p50/p95 per kind, with the CPU time the stack's process spent per request (mean), per
import and per clock move: on a machine shared with other work, wall time varies with the others'
load, the stack's CPU time much less (the stack runs on about one core: a quiet machine's wall
time is close to it). Targets `max_read_p50_ms` (every read kind), `max_tracking_page_p50_ms`,
`max_import_3000_s`, `max_clock_move_s`. The last line is the JSON figures line; exit status 1 when
a target is missed. BENCH_LOCAL_SMOKE=1 (the test suite's run) loads 60 shipments and 40 customers
and takes a few samples: its figures are printed, its targets are not meaningful.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import local_stack, percentile  # noqa: E402

SMOKE = os.environ.get("BENCH_LOCAL_SMOKE") == "1"
SHIPMENTS = int(os.environ.get("BENCH_LOCAL_SHIPMENTS", "60" if SMOKE else "10000"))
CUSTOMERS = int(os.environ.get("BENCH_LOCAL_CUSTOMERS", "40" if SMOKE else "3000"))
SAMPLES = int(os.environ.get("BENCH_LOCAL_SAMPLES", "3" if SMOKE else "40"))
DUPLICATE_SAMPLES = max(1, SAMPLES // 8)
CLOCK_MOVE_DAYS = 91
TRACKED_SHARE = 10  # one shipment in ten is in transit, with history
TARGETS = {"max_read_p50_ms": 100, "max_tracking_page_p50_ms": 200, "max_import_3000_s": 20, "max_clock_move_s": 5}
READ_KINDS = ("get_shipment", "list_shipments", "list_customers", "get_customer")
IMPORT_TIMEOUT_S = 300
# A client's polling of the import's status: every poll is a request the stack serves beside the
# import (authorizer and handler), so polling ten times a second would slow what it measures.
IMPORT_POLL_S = 0.25
REQUEST_TIMEOUT_S = 120
START_TIMEOUT_S = 180  # a shared machine can take a while to import every function


def _say(message: str) -> None:
    """Progress on stderr: the figures line stays the last line of stdout."""
    print(f"[bench/local {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- loading -------------------------------------------------------------------------------------
def _shipment_items(merchant_id: str, slug: str, api_url: str, n: int, now: datetime) -> list[dict[str, Any]]:
    """One shipment's items as `create_shipment` writes them (plus history for one in ten)."""
    from shared.dynamo import keys
    from shared.merchants.model import RetentionSettings
    from shared.platform import clock
    from shared.platform.ids import new_id
    from shared.retention.timers import shipment_timer_items
    from shared.shipments.model import Parcel, Shipment, ShipmentIn, TrackingEvent
    from shared.shipments.public_links import public_tracking_url
    from shared.shipments.store import event_item, shipment_to_item
    from tests.factories import shipment_body

    created = now - timedelta(minutes=SHIPMENTS - n)  # distinct creation times, the newest last
    number = f"LB{n:08d}"
    tracked = n % TRACKED_SHARE == 0
    status = "in_transit" if tracked else "pre_transit"
    body = ShipmentIn.model_validate(shipment_body()).model_dump(exclude={"parcels"})
    parcel = Parcel(id=new_id("prc"), index=1, tracking_number=number, status=status,
                    public_tracking_url=public_tracking_url(api_url, slug, number),
                    status_at=created + timedelta(hours=3) if tracked else None)
    shipment = Shipment(**body, id=new_id("shp"), status=status, created_at=created, updated_at=created,
                        parcels=[parcel])
    number_item = {**keys.tracking_number(number, merchant_id), "merchant_id": merchant_id,
                   "shipment_id": shipment.id, "parcel_id": parcel.id, "tracking_number": number,
                   "created_at": clock.isoformat(created)}
    items = [shipment_to_item(merchant_id, shipment), number_item,
             *shipment_timer_items(merchant_id, shipment.id, created, None, RetentionSettings())]
    if tracked:
        for hours, code in ((1, "info_received"), (2, "in_transit"), (3, "in_transit")):
            at = created + timedelta(hours=hours)
            event = TrackingEvent(parcel_id=parcel.id, tracking_number=number, status="in_transit" if hours > 1
                                  else "pre_transit", carrier_code=code, occurred_at=at, received_at=at,
                                  place={"city": "Lyon", "country": "FR"}, source="colis")
            items.append(event_item(merchant_id, shipment.id, event, f"{number}#{code}#{hours}"))
    return items


def load_shipments(state: dict[str, Any], now: datetime) -> list[tuple[str, str]]:
    """Writes SHIPMENTS shipments; returns (shipment id, tracking number) of each."""
    import boto3

    from local.moto_server import CREDENTIALS, REGION

    table = boto3.resource("dynamodb", endpoint_url=state["aws_endpoint_url"], region_name=REGION,
                           **CREDENTIALS).Table(state["table_name"])
    made: list[tuple[str, str]] = []
    started = time.monotonic()
    with table.batch_writer() as batch:
        for n in range(SHIPMENTS):
            items = _shipment_items(state["merchant_id"], state["tracking_slug"], state["api_url"], n, now)
            for item in items:
                batch.put_item(Item=item)
            made.append((items[1]["shipment_id"], items[1]["tracking_number"]))
            if (n + 1) % 2000 == 0:
                _say(f"  {n + 1:,} shipments written ({time.monotonic() - started:.0f} s)")
    return made


FIRST = ["Camille", "Zoé", "Lucas", "Inès", "Hugo", "Chloé", "Louis", "Léa", "Jules", "Manon", "Noah", "Sarah"]
LAST = ["Dupont", "Martin", "Bernard", "Petit", "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre"]
CITIES = [("Lyon", "69003", "FR", ""), ("Paris", "75011", "FR", ""), ("Montréal", "H2X 1Y4", "CA", "QC"),
          ("Austin", "78701", "US", "TX"), ("Bruxelles", "1000", "BE", "")]


def customer_csv(count: int, seed: int = 11) -> bytes:
    """The import template's columns; about one row in 25 repeats an earlier row's address (a
    duplicate candidate) under another username and email."""
    from shared.customers.model import CUSTOMER_CSV_HEADER

    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CUSTOMER_CSV_HEADER)
    for n in range(count):
        source = rng.randrange(n) if n > 10 and rng.random() < 0.04 else n
        city, postal, country, region = CITIES[source % len(CITIES)]
        first, last = FIRST[n % len(FIRST)], LAST[(n // len(FIRST)) % len(LAST)]
        tags = "vip" if n % 9 == 0 else ""
        writer.writerow([f"{first.lower()}.{n}", f"{first}.{last}.{n}@example.com", first, last, "", "",
                         f"+33 6 12 {n % 100:02d} {n % 97:02d} 10", f"{source % 300 + 1} rue des Lilas {source}",
                         "", city, region, postal, country, tags])
    return out.getvalue().encode("utf-8")


# --- timing --------------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Api:
    """The stack's API, timing what it is asked to: wall time, and the CPU time the stack's process
    spent meanwhile (on a shared machine, wall time mostly measures the other tenants; the stack's
    CPU time is about what a quiet machine's wall time would be, as the stack runs on one core)."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {state['api_key']}"
        self.samples: dict[str, list[float]] = {}
        self.cpu: dict[str, float] = {}

    def stack_cpu(self) -> float:
        return cpu_seconds(self.state["pid"]) if "pid" in self.state else 0.0

    def call(self, method: str, path: str, expected: int = 200, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", REQUEST_TIMEOUT_S)
        response = self.session.request(method, self.state["api_url"] + path, **kwargs)
        if response.status_code != expected:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response

    def timed(self, kind: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        cpu, started = self.stack_cpu(), time.perf_counter()
        response = self.call(method, path, **kwargs)
        self.samples.setdefault(kind, []).append(time.perf_counter() - started)
        self.cpu[kind] = self.cpu.get(kind, 0.0) + self.stack_cpu() - cpu
        return response


def run_import(api: Api, data: bytes) -> float:
    cpu, started = api.stack_cpu(), time.perf_counter()
    job = api.call("POST", "/v1/customer-imports", 202, json={"upload": True}).json()
    put = requests.put(job["upload_url"], data=data, headers={"Content-Type": "text/csv"}, timeout=REQUEST_TIMEOUT_S)
    if put.status_code != 200:
        raise RuntimeError(f"upload: {put.status_code} {put.text[:300]}")
    deadline = time.monotonic() + IMPORT_TIMEOUT_S
    while time.monotonic() < deadline:
        status = api.call("GET", f"/v1/customer-imports/{job['id']}").json()
        if status["status"] in ("done", "failed"):
            seconds = time.perf_counter() - started
            api.cpu["import"] = api.stack_cpu() - cpu
            if status["status"] != "done" or status["created"] != CUSTOMERS:
                raise RuntimeError(f"import ended {status['status']}: created {status['created']} of {CUSTOMERS}, "
                                   f"errors {status.get('errors', [])[:3]}")
            return seconds
        time.sleep(IMPORT_POLL_S)
    raise RuntimeError("the import did not finish in time")


def every_page(api: Api, path: str) -> Iterator[dict[str, Any]]:
    cursor = None
    while True:
        page = api.call("GET", path + (f"&cursor={cursor}" if cursor else "")).json()
        yield from page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return


def sample(times: int, step: Callable[[random.Random], None], seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(times):
        step(rng)


def milliseconds(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50_ms": round(percentile(ordered, 0.5) * 1000, 1), "p95_ms": round(percentile(ordered, 0.95) * 1000, 1),
            "n": len(ordered)}


def run(state: dict[str, Any]) -> dict[str, Any]:
    api = Api(state)
    now = datetime.fromisoformat(api.call("GET", "/_local/clock").json()["now"].replace("Z", "+00:00"))
    started = time.monotonic()
    shipments = load_shipments(state, now.astimezone(UTC))
    _say(f"{len(shipments):,} shipments loaded in {time.monotonic() - started:.0f} s")

    import_s = run_import(api, customer_csv(CUSTOMERS))
    _say(f"{CUSTOMERS:,}-row import: {import_s:.1f} s")
    customer_ids = [c["id"] for c in every_page(api, "/v1/customers?limit=100")]
    if len(customer_ids) != CUSTOMERS:
        raise RuntimeError(f"{len(customer_ids)} customers listed, {CUSTOMERS} imported")

    slug = state["tracking_slug"]
    tracked = [number for n, (_, number) in enumerate(shipments) if n % TRACKED_SHARE == 0]
    sample(SAMPLES, lambda rng: api.timed("get_shipment", "GET", f"/v1/shipments/{rng.choice(shipments)[0]}"), 1)
    sample(SAMPLES, lambda rng: api.timed("list_shipments", "GET", "/v1/shipments?limit=20"), 2)
    sample(SAMPLES, lambda rng: api.timed("list_customers", "GET", "/v1/customers?limit=20"), 3)
    sample(SAMPLES, lambda rng: api.timed("get_customer", "GET", f"/v1/customers/{rng.choice(customer_ids)}"), 4)
    sample(SAMPLES, lambda rng: api.timed("tracking_page", "GET", f"/track/{slug}/{rng.choice(tracked)}",
                                          headers={"Accept": "text/html"}), 5)
    groups = 0
    for _ in range(DUPLICATE_SAMPLES):
        groups = len(api.timed("duplicates", "GET", "/v1/customers/duplicates").json()["groups"])
    _say(f"reads done; {groups} duplicate groups")

    cpu, clock_started = api.stack_cpu(), time.perf_counter()
    api.call("POST", "/_local/clock", json={"advance_days": CLOCK_MOVE_DAYS})
    clock_move_s = time.perf_counter() - clock_started
    api.cpu["clock_move"] = api.stack_cpu() - cpu
    _say(f"{CLOCK_MOVE_DAYS}-day clock move: {clock_move_s:.1f} s")

    figures: dict[str, Any] = {"bench": "local", "smoke": SMOKE, "shipments": len(shipments), "customers": CUSTOMERS,
                               "duplicate_groups": groups}
    for kind, values in api.samples.items():
        figures[kind] = {**milliseconds(values), "stack_cpu_ms_mean": round(api.cpu[kind] / len(values) * 1000, 1)}
    figures["read_p50_ms"] = max(figures[kind]["p50_ms"] for kind in READ_KINDS)
    figures["tracking_page_p50_ms"] = figures["tracking_page"]["p50_ms"]
    figures["duplicates_p50_ms"] = figures["duplicates"]["p50_ms"]
    figures["import_3000_s"] = round(import_s, 2)
    figures["clock_move_s"] = round(clock_move_s, 2)
    figures["import_stack_cpu_s"] = round(api.cpu["import"], 2)
    figures["clock_move_stack_cpu_s"] = round(api.cpu["clock_move"], 2)
    figures["load_average"] = round(os.getloadavg()[0], 2)
    return {**figures, **TARGETS}


def targets_met(figures: dict[str, Any]) -> bool:
    return all(figures[name.removeprefix("max_")] <= limit for name, limit in TARGETS.items())


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="colis-localbench-"))
    met = False
    figures: dict[str, Any] = {"bench": "local", "error": "did not run"}
    try:
        with local_stack(work, START_TIMEOUT_S) as state:
            figures = run(state)
        met = targets_met(figures)
    finally:
        if met or SMOKE:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"local stack logs kept in {work}", file=sys.stderr)
        print(json.dumps(figures))
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
