"""The benchmarks run (at a smoke size of a few seconds) and print their figures, cost included.
Their targets are checked by `make bench` at full size, not here: a smoke size is too small for
ratios to mean anything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench(script: str, **sizes: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **sizes}
    out = subprocess.run([sys.executable, str(ROOT / "bench" / script)], capture_output=True, text=True, cwd=ROOT,
                         env=env, timeout=600)
    assert out.returncode in (0, 1), f"{script} crashed:\n{out.stderr[-3000:]}"  # 1: a target missed
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_webhook_bench_prints_request_units_gb_seconds_and_dollars_per_million_updates() -> None:
    figures = run_bench("webhook.py", BENCH_WEBHOOK_DELIVERIES="60")
    assert figures["deliveries"] == 60 and figures["accepted_200"] == 60
    assert figures["wru_per_1000"] >= 1000  # at least one write request unit per new event
    assert figures["rru_per_1000"] >= 0 and figures["lambda_gb_s_per_1000"] > 0
    assert Decimal(figures["usd_per_million_updates"]) > Decimal("3.50")  # API Gateway's share alone
    assert figures["prices_as_of"]


def test_export_bench_prints_cost_per_thousand_rows() -> None:
    figures = run_bench("export.py", BENCH_EXPORT_ROWS="120")
    size = figures["sizes"][0]
    assert size["rows"] == 120 and figures["scans"] == 0
    assert size["rru_per_1000_rows"] > 0 and size["wru_per_1000_rows"] > 0 and size["lambda_gb_s_per_1000_rows"] > 0
    assert Decimal(size["usd_per_million_rows"]) > 0
