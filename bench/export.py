"""Shipment export: 10,000 and 100,000 parcel rows streamed to S3 by the real worker code against
moto, which runs in its own process so that its storage never counts as the export's memory.

For each size, in the same run and against the same items:
- the floor: a bare paginated Query of the same created-month buckets, every parcel written as a
  row with `csv.writer` into memory that is thrown away (no model, no spreadsheet rules, no S3);
- the export: `run_export` as the worker runs it (claim, typed rows, spreadsheet-safe cells,
  multipart upload, progress every 1,000 rows), timed, then once more under tracemalloc for the
  peak memory of the export code.
Fairness, through the real local stack (`python -m local`, as `make run` starts it: outbox stream,
EventBridge rule, worker with its reserved concurrency): a second merchant's one-row export is timed
from its 202 to `ready`, alone, then right behind 25 exports of the first merchant (each of
`BENCH_EXPORT_FAIR_SHIPMENTS` rows, default 100); `fair_delay_ratio` is the median over
`BENCH_EXPORT_FAIR_ROUNDS` rounds (default 5) of each round's time behind over its time alone (paired
samples), and every one of the 25 must end `ready` (none dropped while waiting).
The last line is the JSON figures line. Shipments have 1 to 7 parcels (4 on average): moto's cost
is per item returned, so this keeps the run to minutes without changing what is compared.
Exit status 1 when `floor_ratio` < `min_floor_ratio`, when the peak memory grows by more than
`max_memory_growth_mb` from 10,000 to 100,000 rows, when anything scanned the table, when
`fair_delay_ratio` > `max_fair_delay_ratio`, or when an export of the 25 did not end ready.
"""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import cost as billing  # noqa: E402

SIZES = tuple(int(n) for n in os.environ.get("BENCH_EXPORT_ROWS", "10000,100000").split(","))
FAIR_BACKLOG = 25
FAIR_SHIPMENTS = int(os.environ.get("BENCH_EXPORT_FAIR_SHIPMENTS", "100"))
FAIR_ROUNDS = int(os.environ.get("BENCH_EXPORT_FAIR_ROUNDS", "5"))
MAX_FAIR_DELAY_RATIO = 3.0
FAIR_TIMEOUT_S = 600
PARCEL_CYCLE = (1, 2, 3, 4, 5, 6, 7)
MIN_FLOOR_RATIO = 0.5
MAX_MEMORY_GROWTH_MB = 20
NOW = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
MONTHS = 3  # shipments spread over three created-month buckets
MiB = 1024 * 1024


# --- moto in its own process ---------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    import requests

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
        "AWS_ENDPOINT_URL": endpoint, "EXPORT_BUCKET": "colis-bench-exports",
        "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true",
    })


def _patient_clients() -> None:
    """moto answers a 1 MB Query page in seconds on a busy machine; the functions' 10 s read timeout
    is for AWS. Only the timeout changes."""
    from botocore.config import Config

    from shared.platform import aws

    aws._config = lambda: Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5,
                                 read_timeout=300)
    aws.reset_clients()


# --- data ----------------------------------------------------------------------------------------
def _parcel_counts(rows: int) -> Iterator[int]:
    left, n = rows, 0
    while left > 0:
        parcels = min(PARCEL_CYCLE[n % len(PARCEL_CYCLE)], left)
        yield parcels
        left -= parcels
        n += 1


def _load(merchant_id: str, rows: int) -> int:
    """Shipment items as the shipments API writes them, spread over MONTHS buckets; 25 per batch."""
    from shared.platform import aws
    from shared.platform.ids import new_id
    from shared.shipments.model import Parcel, Shipment, ShipmentIn
    from shared.shipments.store import shipment_to_item
    from tests.factories import shipment_body

    body = ShipmentIn.model_validate(shipment_body()).model_dump(exclude={"parcels"})
    counts = list(_parcel_counts(rows))
    spread = timedelta(days=30 * MONTHS) / len(counts)
    number = 0
    with aws.table().batch_writer() as batch:
        for n, parcels in enumerate(counts):
            parcel_list = []
            for index in range(1, parcels + 1):
                number += 1
                parcel_list.append(Parcel(id=new_id("prc"), index=index, tracking_number=f"1Z{number:020d}"))
            shipment = Shipment(**body, id=new_id("shp"), status="in_transit",
                                created_at=NOW - timedelta(days=30 * MONTHS) + spread * n, parcels=parcel_list)
            batch.put_item(Item=shipment_to_item(merchant_id, shipment))
    return len(counts)


class Requests:
    """DynamoDB requests by operation, through botocore's event hooks."""

    def __init__(self, client: Any) -> None:
        self.calls: Counter[str] = Counter()
        client.meta.events.register("before-call.dynamodb.*", lambda model, **_: self.calls.update([model.name]))


# --- the floor and the export ----------------------------------------------------------------------
def _floor(merchant_id: str, since: datetime) -> tuple[int, float]:
    """Paginated Query of the same month buckets as the export (from the merchant's creation), each
    parcel a csv.writer row, output discarded."""
    from boto3.dynamodb.conditions import Key

    from shared.dynamo import keys
    from shared.platform import aws
    from shared.shipments.store import month_partitions

    table = aws.table()
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    rows = 0
    started = time.perf_counter()
    for partition in month_partitions(merchant_id, NOW, since):
        request: dict[str, Any] = {"IndexName": keys.GSI1.name, "KeyConditionExpression": Key(keys.GSI1.pk).eq(partition)}
        while True:
            page = table.query(**request)
            for stored in page["Items"]:
                item = {**stored, **json.loads(stored["doc"])} if "doc" in stored else stored  # one JSON document
                recipient, package = item["recipient"], item["package"]
                for parcel in item["parcels"]:
                    writer.writerow([item["id"], item["status"], recipient.get("first_name"),
                                     recipient.get("last_name"), recipient.get("address_1"), recipient.get("city"),
                                     recipient.get("postal_code"), recipient.get("country"), recipient.get("phone"),
                                     recipient.get("email"), package.get("contents"), package.get("value"),
                                     package.get("currency"), package.get("weight"), item["carrier"],
                                     parcel["tracking_number"], parcel["index"], item["created_at"],
                                     len(item["parcels"])])
                    rows += 1
                if text.tell() > MiB:
                    text.seek(0)
                    text.truncate()
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return rows, time.perf_counter() - started


def _export(merchant_id: str, *, traced: bool) -> tuple[int, float, float, dict[str, Any]]:
    """(rows, seconds, peak MiB of the export code or 0, file facts) of one worker run."""
    from functions.export.jobs import Worker, run_export
    from shared.exports.model import ExportStatus, ShipmentsExportRequest, new_job
    from shared.exports.store import ExportRepository
    from shared.platform import aws

    exports = ExportRepository()
    job = new_job(ShipmentsExportRequest(type="shipments", format="csv"))
    exports.create(merchant_id, job)
    worker = Worker.default()
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    status = run_export(worker, merchant_id, job.id)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / MiB if traced else 0.0
    if traced:
        tracemalloc.stop()
    done = exports.get(merchant_id, job.id)
    if status is not ExportStatus.READY:
        raise SystemExit(f"the export ended {status}: {done.error}")
    s3, bucket = aws.client("s3"), os.environ["EXPORT_BUCKET"]
    facts = {"mib": round(s3.head_object(Bucket=bucket, Key=done.object_key)["ContentLength"] / MiB, 2),
             "parts": int(s3.head_object(Bucket=bucket, Key=done.object_key, PartNumber=1).get("PartsCount", 1))}
    return int(done.row_count or 0), elapsed, peak, facts


def _say(message: str) -> None:
    """Progress on stderr: the figures line stays the last line of stdout."""
    print(f"[bench/export {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _measure(rows: int) -> dict[str, Any]:
    import boto3

    from shared.merchants.store import MerchantRepository
    from shared.platform import aws, clock
    from tests.template_resources import create_table

    os.environ["TABLE_NAME"] = f"colis-bench-export-{rows}"
    aws.reset_clients()
    create_table(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
    since = NOW - timedelta(days=30 * MONTHS + 31)
    clock.use_fixed(since)
    merchant_id = MerchantRepository().create("Bench").id
    clock.use_fixed(NOW)
    _say(f"{rows:,} rows: loading")
    shipments = _load(merchant_id, rows)
    requests = Requests(aws.table().meta.client)
    _say(f"{rows:,} rows: floor")
    floor_rows, floor_seconds = _floor(merchant_id, since)
    _say(f"{rows:,} rows: export")
    exported, seconds, _, facts = _export(merchant_id, traced=False)
    _say(f"{rows:,} rows: export under tracemalloc, request units metered")
    meter = billing.table_meter(os.environ["TABLE_NAME"])
    meter.attach(aws.table().meta.client)
    _, _, peak_mb, _ = _export(merchant_id, traced=True)
    if not (floor_rows == exported == rows):
        raise SystemExit(f"row counts differ: floor {floor_rows}, export {exported}, loaded {rows}")
    rows_per_s, floor_per_s = rows / seconds, rows / floor_seconds
    return {"rows": rows, "shipments": shipments, "rows_per_s": round(rows_per_s, 1),
            "floor_rows_per_s": round(floor_per_s, 1), "floor_ratio": round(rows_per_s / floor_per_s, 3),
            "seconds": round(seconds, 2), "floor_seconds": round(floor_seconds, 2),
            "peak_memory_mb": round(peak_mb, 2), "file_mib": facts["mib"], "parts": facts["parts"],
            "queries": requests.calls["Query"], "scans": requests.calls["Scan"],
            **_cost_figures(meter, rows, seconds, facts["parts"])}


def _cost_figures(meter: Any, rows: int, seconds: float, parts: int) -> dict[str, Any]:
    """Per 1,000 rows: DynamoDB request units of one export (job updates included), the worker's
    GB-seconds (its memory times the export's wall time here), and USD per million rows exported
    (S3: one request per part plus the create and complete calls)."""
    per_row = 1 / rows
    memory_gb = billing.function_memory_mb("ExportWorkerFunction") / 1024
    gb_seconds = memory_gb * seconds
    dollars = billing.dollars_per_million(read_units=meter.read_units * per_row, write_units=meter.write_units * per_row,
                                          gb_seconds=gb_seconds * per_row, lambda_requests=per_row,
                                          s3_puts=(parts + 2) * per_row)
    return {"rru_per_1000_rows": round(meter.read_units * 1000 * per_row, 1),
            "wru_per_1000_rows": round(meter.write_units * 1000 * per_row, 2),
            "lambda_gb_s_per_1000_rows": round(gb_seconds * 1000 * per_row, 3),
            "usd_per_million_rows": str(dollars), "prices_as_of": billing.PRICES_AS_OF}


# --- fairness, through the local stack ----------------------------------------------------------------
class ApiClient:
    def __init__(self, base_url: str, api_key: str) -> None:
        import requests

        self._session, self._base = requests.Session(), base_url.rstrip("/")
        self._session.headers["Authorization"] = f"Bearer {api_key}"

    def get(self, path: str) -> Any:
        return self._session.get(self._base + path, timeout=60)

    def post(self, path: str, json: Any) -> Any:
        return self._session.post(self._base + path, json=json, timeout=60)


def _until_ready(api: Any, export_ids: list[str], deadline: float) -> dict[str, str]:
    """Polls the jobs until each is ready or failed (or the deadline); their last statuses."""
    statuses = {export_id: "pending" for export_id in export_ids}
    while time.monotonic() < deadline:
        for export_id, seen in statuses.items():
            if seen not in ("ready", "failed"):
                statuses[export_id] = api.get(f"/v1/exports/{export_id}").json()["status"]
        if all(seen in ("ready", "failed") for seen in statuses.values()):
            break
        time.sleep(0.05)
    return statuses


def _timed_export(api: Any) -> float:
    """Seconds from the request of a one-row export to its `ready`."""
    started = time.perf_counter()
    answer = api.post("/v1/exports", json={"type": "shipments", "format": "csv"})
    assert answer.status_code == 202, answer.text
    export_id = answer.json()["id"]
    status = _until_ready(api, [export_id], time.monotonic() + FAIR_TIMEOUT_S)[export_id]
    if status != "ready":
        raise SystemExit(f"the second merchant's export ended {status}")
    return time.perf_counter() - started


def _fairness() -> dict[str, Any]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-export-") as work:
        try:
            return _fairness_in(Path(work))
        except BaseException:
            log = Path(work) / "stderr.log"
            _say("the local stack's last log lines:\n" + "\n".join(
                log.read_text(encoding="utf-8", errors="replace").splitlines()[-60:]) if log.exists() else "")
            raise


def _fairness_in(work: Path) -> dict[str, Any]:
    import statistics

    from bench.load import local_stack
    from tests.factories import shipment_body

    with local_stack(work) as state:
        busy = ApiClient(state["api_url"], state["api_key"])
        other = ApiClient(state["api_url"], state["second_merchant"]["api_key"])
        _say(f"fairness: {FAIR_SHIPMENTS} shipments for the busy merchant")
        for _ in range(FAIR_SHIPMENTS):
            assert busy.post("/v1/shipments", json=shipment_body()).status_code == 201
        assert other.post("/v1/shipments", json=shipment_body()).status_code == 201
        _timed_export(other)  # warms the worker's imports
        alone, behind, backlog_statuses = [], [], {}
        for round_ in range(FAIR_ROUNDS):
            _say(f"fairness round {round_ + 1}: alone, then behind {FAIR_BACKLOG} exports")
            alone.append(_timed_export(other))
            backlog = []
            for _ in range(FAIR_BACKLOG):
                answer = busy.post("/v1/exports", json={"type": "shipments", "format": "csv"})
                assert answer.status_code == 202, answer.text
                backlog.append(answer.json()["id"])
            behind.append(_timed_export(other))
            backlog_started = time.perf_counter()
            backlog_statuses.update(_until_ready(busy, backlog, time.monotonic() + FAIR_TIMEOUT_S))
            _say(f"alone {alone[-1]:.2f} s, behind {behind[-1]:.2f} s; the 25 done "
                 f"{time.perf_counter() - backlog_started:.1f} s later")
    # Paired: each round's time behind over the same round's time alone, so that a neighbour's burst
    # on this shared machine hits both sides of a pair alike; the median of the rounds' ratios.
    ratio = statistics.median(b / a for a, b in zip(alone, behind, strict=True))
    return {"fair_delay_ratio": round(ratio, 2), "fair_rounds": FAIR_ROUNDS, "fair_alone_s": round(statistics.median(alone), 2),
            "fair_behind_s": round(statistics.median(behind), 2), "fair_backlog": FAIR_BACKLOG,
            "fair_backlog_rows": FAIR_SHIPMENTS,
            "fair_backlog_not_ready": sum(status != "ready" for status in backlog_statuses.values())}


def main() -> int:
    moto, endpoint = _start_moto()
    try:
        _environment(endpoint)
        _patient_clients()
        import boto3

        boto3.client("s3").create_bucket(Bucket=os.environ["EXPORT_BUCKET"],
                                         CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        sizes = [_measure(rows) for rows in SIZES]
    finally:
        moto.terminate()
        try:
            moto.wait(timeout=30)
        except subprocess.TimeoutExpired:
            moto.kill()
            moto.wait()
    fairness = _fairness()
    peaks = [size["peak_memory_mb"] for size in sizes]
    figures = {
        "bench": "export", "format": "csv", "parcels_per_shipment": f"{min(PARCEL_CYCLE)}-{max(PARCEL_CYCLE)}",
        "sizes": sizes,
        "rows_per_s": {str(s["rows"]): s["rows_per_s"] for s in sizes},
        "peak_memory_mb": {str(s["rows"]): s["peak_memory_mb"] for s in sizes},
        "floor_ratio": min(s["floor_ratio"] for s in sizes),
        "memory_growth_mb": round(max(peaks) - min(peaks), 2),
        "scans": sum(s["scans"] for s in sizes),
        **fairness,
        "min_floor_ratio": MIN_FLOOR_RATIO, "max_memory_growth_mb": MAX_MEMORY_GROWTH_MB,
        "max_fair_delay_ratio": MAX_FAIR_DELAY_RATIO,
    }
    print(json.dumps(figures))
    correct = figures["scans"] == 0 and figures["fair_backlog_not_ready"] == 0
    fast = (figures["floor_ratio"] >= MIN_FLOOR_RATIO and figures["memory_growth_mb"] <= MAX_MEMORY_GROWTH_MB
            and figures["fair_delay_ratio"] <= MAX_FAIR_DELAY_RATIO)
    return 0 if correct and fast else 1


if __name__ == "__main__":
    raise SystemExit(main())
