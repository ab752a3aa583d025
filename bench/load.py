"""Load: signed carrier webhook deliveries (every format; new, duplicate and out-of-order updates)
mixed with API reads, from concurrent clients against the real local stack, for a bounded time.

The stack is started as `make run` starts it (`python -m local`, in a subprocess, loopback only,
its own ports and state file). Phases:
1. set-up: shipments created through the API (one in three with two or three parcels);
2. floor: the same client threads on `GET /_local/clock`, which the local gateway answers without
   a function or DynamoDB: the stack's raw request capacity, measured in this run;
3. load, for `--duration` seconds: each client picks a webhook delivery (new update, a verbatim
   repeat of an earlier delivery, or an update older than what the parcel shows) or an API read
   (shipment list with filters, one shipment, its history, the public tracking page);
4. check: the history of every shipment a delivery named read back and matched with the updates
   the webhook's 200 answers accepted, and each parcel's current status with its newest event.

What "stored" means (DESIGN.md §1.1, `shared/tracking.py`): every accepted update becomes one
history event of its shipment, once per dedup key (the carrier's event id, else number + status +
time), whether or not it moves the parcel's current status; a repeat adds nothing. Each distinct
update sent here has its own time on its parcel, so a history event is matched to its update by
(tracking number, event time).

Figures: requests/s and latency percentiles of the load phase, counts and status codes per kind,
`errors_5xx` (every 5xx in any phase, plus connection errors, which `connection_errors` also
gives alone), `throttled_429` (not an error, reported), `lost_events` (accepted updates missing
from the history), `extra_events` (history events matching no update sent, or one update twice),
`stale_statuses` (parcels whose current status is not that of their newest stored event: the
out-of-order rule). `floor_ratio` (load requests/s over floor requests/s) is informational: the
mix's cost is moto's and the machine is shared, so no target is claimed for it.
The last line is the JSON figures line; exit status 1 when a `max_` target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.carrier_payloads import BUILDERS  # noqa: E402
from tests.carrier_signing import shippo_query, signed_headers  # noqa: E402
from tests.factories import shipment_body  # noqa: E402

START_TIMEOUT_S = 60
REQUEST_TIMEOUT_S = 20
DRAIN_TIMEOUT_S = 10
MAX_LOAD_SECONDS = 60
STATUSES = ["in_transit", "delayed", "in_transit", "out_for_delivery", "delivered"]
# Share of each kind of request in the load phase; webhook deliveries are split below.
MIX = {"webhook": 0.5, "list": 0.1, "get": 0.15, "events": 0.1, "track": 0.15}
DUPLICATE_SHARE, LATE_SHARE = 0.2, 0.1
TARGETS = {"max_errors_5xx": 0, "max_lost_events": 0, "max_extra_events": 0, "max_stale_statuses": 0}


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=30.0,
                        help=f"seconds of load (at most {MAX_LOAD_SECONDS}; default 30)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads (default 8)")
    parser.add_argument("--shipments", type=int, default=200, help="shipments created before the load (default 200)")
    parser.add_argument("--floor-seconds", type=float, default=5.0, help="seconds of floor measurement (default 5)")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the mix")
    arguments = parser.parse_args(argv)
    if not 0 < arguments.duration <= MAX_LOAD_SECONDS:
        parser.error(f"--duration must be in (0, {MAX_LOAD_SECONDS}]")
    if arguments.clients < 1 or arguments.shipments < 1:
        parser.error("--clients and --shipments must be at least 1")
    return arguments


# --- the local stack, as `make run` starts it ---------------------------------------------------
@contextmanager
def local_stack(work: Path, start_timeout_s: float = START_TIMEOUT_S) -> Iterator[dict[str, Any]]:
    state_file = work / "local-stack.json"
    logs: list[IO[bytes]] = [(work / "stdout.log").open("wb"), (work / "stderr.log").open("wb")]
    command = [sys.executable, "-m", "local", "--api-port", "0", "--moto-port", "0", "--state-file", str(state_file)]
    # Files, not pipes: the gateway logs every request and a full pipe would stall it.
    process = subprocess.Popen(command, cwd=ROOT, stdout=logs[0], stderr=logs[1],
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + start_timeout_s
        while not state_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the local stack did not start (see {work / 'stderr.log'})")
            time.sleep(0.2)
        yield {**json.loads(state_file.read_text(encoding="utf-8")), "pid": process.pid}
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in logs:
            log.close()


# --- what was sent, and what the answers said ------------------------------------------------------
@dataclass
class Parcel:
    shipment_id: str
    number: str
    updates: int = 0  # distinct updates made for it so far: each one's time is unique on the parcel


@dataclass
class Update:
    carrier: str
    parcel: Parcel
    status: str
    at: datetime
    body: bytes
    accepted: bool = False  # at least one 200 answer counted it


@dataclass
class Sample:
    kind: str
    status: int  # 0: no answer (connection error or timeout)
    latency_s: float


class Deliveries:
    """Hands out webhook deliveries: new updates in order, updates older than every in-order one
    of their parcel (history only), and verbatim repeats of earlier deliveries."""

    def __init__(self, parcels: list[Parcel], now: datetime, rng: random.Random) -> None:
        self._parcels = parcels
        # In-order updates at base + n minutes, late ones at base - n minutes: unique per parcel,
        # never in the future of the product clock, and a late one is older than all in-order ones.
        self._base = now.replace(microsecond=0) - timedelta(days=3)
        self._rng = rng
        self._lock = threading.Lock()
        self._updated: list[Parcel] = []
        self.sent: list[Update] = []
        self.by_event: dict[tuple[str, datetime], Update] = {}

    def next(self) -> tuple[str, Update]:
        with self._lock:
            if self.sent and self._rng.random() < DUPLICATE_SHARE:
                return "duplicate", self.sent[self._rng.randrange(len(self.sent))]
            late = bool(self._updated) and self._rng.random() < LATE_SHARE
            # A late update needs a parcel that already shows one.
            parcel = self._rng.choice(self._updated if late else self._parcels)
            if not parcel.updates:
                self._updated.append(parcel)
            parcel.updates += 1
            n = parcel.updates
            at = self._base - timedelta(minutes=n) if late else self._base + timedelta(minutes=n)
            status = self._rng.choice(STATUSES) if late else STATUSES[n % len(STATUSES)]
            carrier = self._rng.choice(list(BUILDERS))
            update = Update(carrier, parcel, status, at, json.dumps(BUILDERS[carrier](parcel.number, status, at)).encode())
            self.sent.append(update)
            self.by_event[(parcel.number, at)] = update
            return ("late" if late else "new"), update


@dataclass
class Client:
    """One client thread's HTTP session and what it saw."""

    state: dict[str, Any]
    samples: list[Sample] = field(default_factory=list)
    odd_answers: list[str] = field(default_factory=list)  # the first few answers that are not 2xx, for the log
    accepted: int = 0  # webhook deliveries whose 200 answer accepted the update (repeats included)

    def __post_init__(self) -> None:
        self.session = requests.Session()
        self.auth = {"Authorization": f"Bearer {self.state['api_key']}"}

    def call(self, kind: str, method: str, url: str, **kwargs: Any) -> requests.Response | None:
        kwargs.setdefault("timeout", REQUEST_TIMEOUT_S)
        started = time.perf_counter()
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.RequestException:
            self.samples.append(Sample(kind, 0, time.perf_counter() - started))
            return None
        self.samples.append(Sample(kind, response.status_code, time.perf_counter() - started))
        if response.status_code >= 300 and len(self.odd_answers) < 3:
            self.odd_answers.append(f"{kind} {method} {response.status_code}: {response.text[:300]}")
        return response

    def api(self, kind: str, method: str, path: str, **kwargs: Any) -> requests.Response | None:
        return self.call(kind, method, self.state["api_url"] + path, headers=self.auth, **kwargs)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class ProductClock:
    """The stack's product clock, read once and followed by the monotonic clock: the `colis` and
    Shippo header schemes reject a `t` too far from it."""

    def __init__(self, client: Client) -> None:
        response = client.call("clock", "GET", client.state["api_url"] + "/_local/clock")
        if response is None or response.status_code != 200:
            raise RuntimeError("the local stack does not answer GET /_local/clock")
        self._at = datetime.fromisoformat(response.json()["now"].replace("Z", "+00:00"))
        self._started = time.monotonic()

    def now(self) -> datetime:
        return self._at + timedelta(seconds=time.monotonic() - self._started)


# --- phases --------------------------------------------------------------------------------------
def create_shipments(clients: list[Client], count: int) -> list[Parcel]:
    def create(n: int) -> list[Parcel]:
        client = clients[n % len(clients)]
        parcels = 1 if n % 3 else 2 + n % 2
        body = shipment_body(parcels=parcels)
        body["parcels"] = [{"tracking_number": f"LOAD{n:06d}P{i}"} for i in range(parcels)]
        response = client.api("setup", "POST", "/v1/shipments", json=body)
        if response is None or response.status_code != 201:
            return []
        shipment = response.json()
        return [Parcel(shipment["id"], p["tracking_number"]) for p in shipment["parcels"]]

    with ThreadPoolExecutor(len(clients)) as pool:
        return [parcel for made in pool.map(create, range(count)) for parcel in made]


def run_clients(clients: list[Client], seconds: float, step: Callable[[Client, random.Random], None],
                seed: int) -> float:
    """Every client runs `step` in a loop until `seconds` have passed; returns the elapsed time."""
    deadline = time.monotonic() + seconds
    failures: list[BaseException] = []

    def loop(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        try:
            while time.monotonic() < deadline:
                step(clients[index], rng)
        except Exception as error:  # a client that died silently would only lower the figures
            failures.append(error)

    started = time.perf_counter()
    threads = [threading.Thread(target=loop, args=(i,), name=f"load-client-{i}") for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return time.perf_counter() - started


def floor_step(client: Client, _rng: random.Random) -> None:
    client.call("floor", "GET", client.state["api_url"] + "/_local/clock")


def load_step(deliveries: Deliveries, parcels: list[Parcel], clock: ProductClock) -> Callable[[Client, random.Random], None]:
    kinds, weights = list(MIX), list(MIX.values())
    shipment_ids = sorted({p.shipment_id for p in parcels})
    today = clock.now().date().isoformat()

    def deliver(client: Client, rng: random.Random) -> None:
        kind, update = deliveries.next()
        hook = client.state["webhooks"][update.carrier]
        headers = {"Content-Type": "application/json"}
        params = None
        if update.carrier == "shippo" and rng.random() < 0.5:
            params = shippo_query(hook["secret"])  # Shippo's default: the secret in the URL
        else:
            headers |= signed_headers(update.carrier, hook["secret"], update.body, clock.now())
        response = client.call(f"webhook_{kind}", "POST", hook["url"], data=update.body, headers=headers,
                               params=params)
        if response is not None and response.status_code == 200 and _json(response).get("accepted", 0) >= 1:
            update.accepted = True
            client.accepted += 1

    def step(client: Client, rng: random.Random) -> None:
        kind = rng.choices(kinds, weights)[0]
        if kind == "webhook":
            deliver(client, rng)
        elif kind == "list":
            filters = rng.choice([{"status": "in_transit"}, {"status": "out_for_delivery,delivered"},
                                  {"created_from": today}, {"q": rng.choice(parcels).number}, {}])
            client.api("list", "GET", "/v1/shipments", params={**filters, "limit": 20})
        elif kind == "get":
            client.api("get", "GET", f"/v1/shipments/{rng.choice(shipment_ids)}")
        elif kind == "events":
            client.api("events", "GET", f"/v1/shipments/{rng.choice(shipment_ids)}/events")
        else:
            client.call("track", "GET", f"{client.state['api_url']}/track/{client.state['tracking_slug']}/"
                                        f"{rng.choice(parcels).number}",
                        headers={"Accept": "application/json"})

    return step


# --- the check -------------------------------------------------------------------------------------
@dataclass
class Check:
    lost: list[Update] = field(default_factory=list)
    extra: int = 0
    stale: list[str] = field(default_factory=list)
    stored_unacknowledged: int = 0  # stored although no 200 answer said so (a 5xx or a timeout)
    unreadable: list[str] = field(default_factory=list)


def _read(client: Client, path: str, attempts: int = 3) -> dict[str, Any] | None:
    for _ in range(attempts):
        response = client.api("check", "GET", path)
        if response is not None and response.status_code == 200:
            return response.json()
        time.sleep(0.5)
    return None


def read_history(client: Client, shipment_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    shipment = _read(client, f"/v1/shipments/{shipment_id}")
    events: list[dict[str, Any]] = []
    cursor: str | None = None
    while shipment is not None:
        query = f"?limit=100&cursor={cursor}" if cursor else "?limit=100"
        page = _read(client, f"/v1/shipments/{shipment_id}/events{query}")
        if page is None:
            return None
        events += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return shipment, events
    return None


def check_shipments(clients: list[Client], deliveries: Deliveries, shipment_ids: list[str]) -> dict[str, Check]:
    expected: dict[str, list[Update]] = defaultdict(list)
    for update in deliveries.sent:
        if update.accepted:
            expected[update.parcel.shipment_id].append(update)

    def check_one(job: tuple[int, str]) -> tuple[str, Check]:
        index, shipment_id = job
        result = Check()
        read = read_history(clients[index % len(clients)], shipment_id)
        if read is None:
            # Unverifiable counts against the run: its accepted updates are not shown to be stored.
            return shipment_id, Check(lost=list(expected[shipment_id]), unreadable=[shipment_id])
        shipment, events = read
        matched: set[int] = set()
        newest: dict[str, tuple[datetime, str]] = {}
        for event in events:
            at = datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))
            update = deliveries.by_event.get((event["tracking_number"], at))
            if update is None or update.parcel.shipment_id != shipment_id or id(update) in matched:
                result.extra += 1
                continue
            matched.add(id(update))
            result.stored_unacknowledged += not update.accepted
            number = event["tracking_number"]
            # `unknown` is recorded but never shown over a known status (DESIGN.md §1.1).
            if event["status"] != "unknown" and (number not in newest or at > newest[number][0]):
                newest[number] = (at, event["status"])
        result.lost = [u for u in expected[shipment_id] if id(u) not in matched]
        result.stale = [p["tracking_number"] for p in shipment["parcels"]
                        if p["tracking_number"] in newest and p["status"] != newest[p["tracking_number"]][1]]
        return shipment_id, result

    with ThreadPoolExecutor(len(clients)) as pool:
        return dict(pool.map(check_one, enumerate(shipment_ids)))


def check_after_drain(clients: list[Client], deliveries: Deliveries, shipment_ids: list[str]) -> Check:
    """History events are written before the webhook answers, but the stack may still be working
    on deliveries whose clients gave up waiting: shipments that do not add up are read again until
    they do or the drain time is over."""
    results = check_shipments(clients, deliveries, shipment_ids)
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        pending = [s for s, r in results.items() if r.lost or r.stale or r.unreadable]
        if not pending:
            break
        time.sleep(1)
        results |= check_shipments(clients, deliveries, pending)
    total = Check()
    for result in results.values():
        total.lost += result.lost
        total.extra += result.extra
        total.stale += result.stale
        total.stored_unacknowledged += result.stored_unacknowledged
        total.unreadable += result.unreadable
    return total


# --- figures -------------------------------------------------------------------------------------
def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest rank."""
    if not sorted_values:
        return 0.0
    rank = max(1, round(share * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_ms(samples: list[Sample]) -> tuple[float, float, float]:
    values = sorted(s.latency_s for s in samples)
    return tuple(round(percentile(values, q) * 1000, 1) for q in (0.50, 0.95, 0.99))  # type: ignore[return-value]


def print_kinds(samples: list[Sample]) -> None:
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_kind[sample.kind].append(sample)
    print(f"  {'kind':<18}{'count':>7}  {'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}  status codes (0: no answer)")
    for kind in sorted(by_kind):
        group = by_kind[kind]
        p50, p95, p99 = latency_ms(group)
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(Counter(s.status for s in group).items()))
        print(f"  {kind:<18}{len(group):>7}  {p50:>8}{p95:>8}{p99:>8}  {codes}")


def run(state: dict[str, Any], arguments: argparse.Namespace, started: float) -> dict[str, Any]:
    clients = [Client(state) for _ in range(arguments.clients)]
    print(f"local stack ready in {time.monotonic() - started:.1f} s")
    clock = ProductClock(clients[0])

    setup_started = time.monotonic()
    parcels = create_shipments(clients, arguments.shipments)
    shipment_ids = sorted({p.shipment_id for p in parcels})
    if not parcels:
        raise RuntimeError("no shipment could be created")
    print(f"set-up: {len(shipment_ids)} shipments, {len(parcels)} parcels in {time.monotonic() - setup_started:.1f} s")

    floor_elapsed = run_clients(clients, arguments.floor_seconds, floor_step, arguments.seed)
    floor_count = sum(1 for c in clients for s in c.samples if s.kind == "floor")
    floor_per_s = floor_count / floor_elapsed
    print(f"floor: {floor_count} GET /_local/clock in {floor_elapsed:.1f} s = {floor_per_s:.1f} requests/s")

    deliveries = Deliveries(parcels, clock.now(), random.Random(arguments.seed))
    load_elapsed = run_clients(clients, arguments.duration, load_step(deliveries, parcels, clock), arguments.seed)
    load = [s for c in clients for s in c.samples if s.kind.startswith("webhook_") or s.kind in MIX]
    print(f"load: {len(load)} requests from {len(clients)} clients in {load_elapsed:.1f} s")

    # The shipments no delivery named are left out: reading them back would double the run's length.
    touched = sorted({u.parcel.shipment_id for u in deliveries.sent})
    check_started = time.monotonic()
    check = check_after_drain(clients, deliveries, touched)
    print(f"check: {len(touched)} histories read in {time.monotonic() - check_started:.1f} s")

    everything = [s for c in clients for s in c.samples]
    print_kinds(everything)
    for line in (line for c in clients for line in c.odd_answers):
        print("  answer " + line)
    webhooks = [s for s in load if s.kind.startswith("webhook_")]
    accepted_updates = [u for u in deliveries.sent if u.accepted]
    connection_errors = sum(1 for s in everything if s.status == 0)
    p50, p95, p99 = latency_ms(load)
    requests_per_s = len(load) / load_elapsed
    if check.lost:
        print("lost: " + ", ".join(f"{u.carrier} {u.parcel.number} {u.status} {u.at.isoformat()}" for u in check.lost[:10]))
    if check.stale:
        print("stale current status: " + ", ".join(check.stale[:10]))
    return {
        "bench": "load", "duration_s": round(load_elapsed, 1), "clients": len(clients),
        "shipments": len(shipment_ids), "parcels": len(parcels),
        "requests": len(load), "requests_per_s": round(requests_per_s, 1),
        "webhook_deliveries": len(webhooks), "webhooks_accepted": sum(c.accepted for c in clients),
        "duplicates_sent": sum(1 for s in webhooks if s.kind == "webhook_duplicate"),
        "late_sent": sum(1 for s in webhooks if s.kind == "webhook_late"),
        "updates_accepted": len(accepted_updates),
        "api_reads": sum(1 for s in load if s.kind in MIX), "p50_ms": p50, "p95_ms": p95, "p99_ms": p99,
        "errors_5xx": sum(1 for s in everything if s.status >= 500) + connection_errors,
        "connection_errors": connection_errors,
        "throttled_429": sum(1 for s in everything if s.status == 429),
        "lost_events": len(check.lost), "extra_events": check.extra, "stale_statuses": len(check.stale),
        "stored_unacknowledged": check.stored_unacknowledged, "unreadable_shipments": len(check.unreadable),
        "floor_requests_per_s": round(floor_per_s, 1), "floor_ratio": round(requests_per_s / floor_per_s, 3),
        "total_s": round(time.monotonic() - started, 1), **TARGETS,
    }


def targets_met(figures: dict[str, Any]) -> bool:
    return all(figures[name.removeprefix("max_")] <= limit for name, limit in TARGETS.items())


def main(argv: list[str] | None = None) -> int:
    arguments = _arguments(argv)
    work = Path(tempfile.mkdtemp(prefix="colis-load-"))
    started = time.monotonic()
    met = False
    try:
        with local_stack(work) as state:
            figures = run(state, arguments, started)
        met = targets_met(figures)
    finally:
        if met:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"local stack logs kept in {work}")
    print(json.dumps(figures))
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
