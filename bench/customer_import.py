"""Customer CSV import at 10,000 and 100,000 rows against moto, through the real worker path
(`service.run_import`: the file streamed from S3, chunks of 500 rows, batched reads and writes,
a conditional claim per new username and email).

moto runs as a server in its own process, so this process holds only the import code: its memory
is sampled (RSS, every 20 ms) while the import runs, and the growth over the RSS just before the
import must stay under MAX_MEMORY_GROWTH_MB at both sizes (constant memory: the 100,000-row file is
not held in memory).

Floors, measured in the same run against the same server, with the same writer threads:
- `floor`: BatchWriteItem of the same records as the import stores them — for each row the
  customer record with its unique-key (username, email), tag and address items — and nothing
  else: no reads, no conditions, no parsing. `floor_ratio` = import rows/s ÷ floor rows/s.
- `records_only_floor`: BatchWriteItem of the bare customer record items (one item per row),
  reported beside it (`records_only_floor_ratio`) for comparison.

Ends with one JSON line of figures. BENCH_CUSTOMER_SIZES=1000,5000 runs other sizes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = [int(s) for s in os.environ.get("BENCH_CUSTOMER_SIZES", "10000,100000").split(",")]
MIN_FLOOR_RATIO = 0.3
MAX_MEMORY_GROWTH_MB = 20
LAMBDA_SECONDS = 15 * 60
BUCKET = "colis-bench-imports"
PAGE = os.sysconf("SC_PAGE_SIZE")

FIRST = ["Camille", "Zoé", "Lucas", "Inès", "Hugo", "Chloé", "Louis", "Léa", "Jules", "Manon", "Noah", "Sarah"]
LAST = ["Dupont", "Martin", "Bernard", "Petit", "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre"]
STREETS = ["rue des Lilas", "avenue Jean-Jaurès", "boulevard Voltaire", "rue de l'Église", "quai Saint-Vincent"]
CITIES = [("Lyon", "69003", "FR", ""), ("Paris", "75011", "FR", ""), ("Montréal", "H2X 1Y4", "CA", "QC"),
          ("Austin", "78701", "US", "TX"), ("Bruxelles", "1000", "BE", ""), ("Dublin", "", "IE", "")]


def _environment(endpoint: str) -> None:
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "eu-west-1",
                       "AWS_ENDPOINT_URL": endpoint, "TABLE_NAME": "colis-bench", "IMPORT_BUCKET": BUCKET,
                       "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "ERROR",
                       "POWERTOOLS_METRICS_DISABLED": "true", "CURSOR_SECRET": "bench"})


def _start_moto() -> tuple[subprocess.Popen[bytes], str]:
    """moto server in its own process (its memory is not this process's)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = ("import logging, time; logging.getLogger('werkzeug').setLevel(logging.ERROR);"
            "from moto.server import ThreadedMotoServer;"
            f"ThreadedMotoServer(ip_address='127.0.0.1', port={port}).start(); time.sleep(10**7)")
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process, f"http://127.0.0.1:{port}"
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("moto server did not start")


# --- the file -----------------------------------------------------------------------------------
def _rows(count: int, seed: int) -> Iterator[list[str]]:
    """Real-looking rows: ~1 % repeat an earlier username (an update), ~1 % lack a city (reported)."""
    rng = random.Random(seed)
    for n in range(count):
        city, postal, country, state = CITIES[n % len(CITIES)]
        first, last = rng.choice(FIRST), rng.choice(LAST)
        username = f"{first.lower()}.{last.lower()}.{n}"
        if n > 100 and rng.random() < 0.01:
            username = f"{FIRST[0].lower()}.{LAST[0].lower()}.{rng.randrange(50)}"  # may repeat a row above
        company = f"{last} & Fils, SARL" if n % 7 == 0 else ""
        tags = ";".join(t for t, share in (("vip", 5), ("wholesale", 11), ("newsletter", 3)) if n % share == 0)
        row = [username, f"{first}.{last}.{n}@Example.com", first, last, "", company, f"+33 6 {n % 100:02d} {n % 97:02d} 10 20",
               f"{n % 200 + 1} {rng.choice(STREETS)}", "Bât. B\r\n2e étage" if n % 13 == 0 else "",
               "" if (n > 100 and rng.random() < 0.01) else city, state, postal, country, tags]
        yield row


def csv_file(count: int, seed: int = 7) -> bytes:
    """As Excel saves "CSV UTF-8": BOM, CRLF, quoted commas and newlines."""
    from shared.customers.model import CUSTOMER_CSV_HEADER

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CUSTOMER_CSV_HEADER)
    writer.writerows(_rows(count, seed))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# --- measurements ---------------------------------------------------------------------------------
class RssSampler:
    """Peak resident memory of this process while a block runs (moto lives in another process)."""

    def __init__(self) -> None:
        self.baseline = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * PAGE

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> RssSampler:
        self.baseline = self.peak = self._rss()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.baseline) / 2**20


class Requests:
    def __init__(self, client: Any) -> None:
        self.calls: Counter[str] = Counter()
        client.meta.events.register("before-call.dynamodb.*", lambda model, **_: self.calls.update([model.name]))


class Context:
    def get_remaining_time_in_millis(self) -> int:
        return LAMBDA_SECONDS * 1000


def run_import(size: int, data: bytes) -> dict[str, Any]:
    from functions.customers import service
    from functions.customers.import_handler import bulk_customers
    from shared.customers.imports import CustomerImport, CustomerImportRepository, ImportStatus, object_key
    from shared.platform import aws, clock

    merchant, imports = f"mer_bench{size}", CustomerImportRepository()
    job = CustomerImport(id=f"imp_bench{size}", status=ImportStatus.pending, source="upload", created_at=clock.now())
    imports.create(merchant, job)
    key = object_key(merchant, job.id)
    aws.client("s3").put_object(Bucket=BUCKET, Key=key, Body=data)
    requests = Requests(bulk_customers().table.meta.client)
    with RssSampler() as memory:
        started = time.perf_counter()
        service.run_import(bulk_customers(), imports, aws.client("s3"), BUCKET, key, merchant, job.id,
                           service.WorkerContext(Context().get_remaining_time_in_millis))
        seconds = time.perf_counter() - started
    done = imports.get(merchant, job.id)
    assert done.status is ImportStatus.done, done
    assert done.rows_processed == size and done.created + done.updated + done.skipped == size, done
    return {"seconds": round(seconds, 2), "rows_per_s": round(size / seconds, 1),
            "peak_rss_mb": round(memory.peak / 2**20, 1), "memory_growth_mb": round(memory.growth_mb, 2),
            "created": done.created, "updated": done.updated, "skipped": done.skipped,
            "requests": dict(requests.calls)}


def run_floor(size: int, data: bytes, *, records_only: bool) -> dict[str, Any]:
    """BatchWriteItem of what the import stores for the same rows (built outside the clock)."""
    from functions.customers import importer
    from functions.customers.csv_rows import (
        CustomerRow,
        RowRejected,
        decoded_lines,
        new_customer,
        parse_row,
        read_records,
    )
    from functions.customers.import_handler import bulk_customers
    from shared.customers.items import claim_item, claim_keys, customer_to_item, index_items
    from shared.platform import clock

    merchant = f"mer_floor{size}{'r' if records_only else ''}"
    customers = bulk_customers()  # the import's own client
    records = read_records(decoded_lines([data]))
    next(records)
    writing = 0.0
    rows_written = 0
    with ThreadPoolExecutor(max_workers=importer.WORKERS) as pool:
        batch: list[dict[str, Any]] = []

        def flush() -> None:
            nonlocal writing, batch
            groups = [batch[i:i + 25] for i in range(0, len(batch), 25)]
            started = time.perf_counter()
            list(pool.map(customers.batch_write, groups))
            writing += time.perf_counter() - started
            batch = []

        for number, cells in enumerate(records, start=2):
            row = parse_row(number, cells)
            if not isinstance(row, CustomerRow):
                continue
            try:
                customer = new_customer(row, clock.now())
            except RowRejected:
                continue
            customer.version = 1
            batch.append(customer_to_item(merchant, customer))
            if not records_only:
                batch.extend(claim_item(k, kind, customer.id) for kind, k in claim_keys(merchant, customer).items())
                batch.extend(index_items(merchant, customer))
            rows_written += 1
            if rows_written % importer.CHUNK_ROWS == 0:
                flush()
        flush()
    return {"rows_per_s": round(size / writing, 1), "seconds": round(writing, 2), "rows_written": rows_written}


def main() -> int:
    process, endpoint = _start_moto()
    try:
        _environment(endpoint)
        import boto3

        from tests.template_resources import create_table

        create_table(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
        boto3.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        run_import(200, csv_file(200, seed=1))  # warm-up: clients, pools, lazily built validators
        results: dict[str, Any] = {}
        for size in SIZES:
            data = csv_file(size)
            print(f"{size:>7} rows: file {len(data) / 2**20:.1f} MiB", flush=True)
            imported = run_import(size, data)
            print(f"         import {imported['seconds']} s, {imported['rows_per_s']} rows/s, "
                  f"memory growth {imported['memory_growth_mb']} MB, requests {imported['requests']}", flush=True)
            floor = run_floor(size, data, records_only=False)
            records_only = run_floor(size, data, records_only=True)
            results[str(size)] = {
                **{k: v for k, v in imported.items() if k != "requests"},
                "dynamodb_requests": imported["requests"],
                "floor_rows_per_s": floor["rows_per_s"],
                "floor_ratio": round(imported["rows_per_s"] / floor["rows_per_s"], 3),
                "records_only_floor_rows_per_s": records_only["rows_per_s"],
                "records_only_floor_ratio": round(imported["rows_per_s"] / records_only["rows_per_s"], 3),
                "within_lambda_15_minutes": imported["seconds"] < LAMBDA_SECONDS,
            }
            print(f"         floor {floor['rows_per_s']} rows/s (ratio {results[str(size)]['floor_ratio']}), "
                  f"records-only floor {records_only['rows_per_s']} rows/s", flush=True)
            del data
        floor_ratio = min(r["floor_ratio"] for r in results.values())
        growth = max(r["memory_growth_mb"] for r in results.values())
        within = all(r["within_lambda_15_minutes"] for r in results.values())
        passed = floor_ratio >= MIN_FLOOR_RATIO and growth <= MAX_MEMORY_GROWTH_MB and within
        print(json.dumps({"bench": "customer_import", "moto": "server, own process", "sizes": results,
                          "floor": "BatchWriteItem of the same records (record + unique-key, tag and address items)",
                          "floor_ratio": floor_ratio, "min_floor_ratio": MIN_FLOOR_RATIO,
                          "memory_growth_mb": growth, "max_memory_growth_mb": MAX_MEMORY_GROWTH_MB,
                          "within_lambda_15_minutes": within, "passed": passed}))
        return 0 if passed else 1
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
