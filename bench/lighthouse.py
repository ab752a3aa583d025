"""Lighthouse on the public tracking page: a three-parcel shipment mid-journey (carrier scans, an
estimated delivery, the merchant's brand and support contact) served by the local stack, started
as `make run` starts it. Lighthouse (npm `lighthouse`, installed by `make browser-deps` in
tests/browser) drives Debian's Chromium with its mobile profile (a phone's screen, simulated slow
4G and a 4x slower CPU) and scores accessibility, best practices and performance.

BENCH_LIGHTHOUSE_RUNS (default 5, as Lighthouse advises for its variance) runs; each category's
score is the median of the runs. The reports of the last run are kept in artifacts/lighthouse/.
The last line is the JSON figures line; exit status 1 when a score is under its `min_` target.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import local_stack  # noqa: E402
from tests.tracking_story import brand_merchant, shipment_with_history  # noqa: E402

RUNS = int(os.environ.get("BENCH_LIGHTHOUSE_RUNS", "5"))
TOOLS = ROOT / "tests" / "browser"
LIGHTHOUSE = TOOLS / "node_modules" / "lighthouse" / "cli" / "index.js"
REPORTS = ROOT / "artifacts" / "lighthouse"
RUN_TIMEOUT_S = 240
CATEGORIES = {"accessibility": "accessibility", "best-practices": "best_practices", "performance": "performance"}
TARGETS = {"min_accessibility": 95, "min_best_practices": 95, "min_performance": 95}
# The flags this machine's closed network needs (no background calls home, no QUIC).
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
METRICS = {"first-contentful-paint": "fcp_ms", "largest-contentful-paint": "lcp_ms", "total-blocking-time": "tbt_ms",
           "speed-index": "speed_index_ms"}


def _tools() -> tuple[str, str]:
    node, chromium = shutil.which("node"), shutil.which("chromium") or shutil.which("chromium-browser")
    if node is None or chromium is None or not LIGHTHOUSE.exists():
        raise SystemExit("lighthouse bench needs Node.js, Debian's chromium (make system-deps) and the npm tooling "
                         "(make browser-deps)")
    return node, chromium


def _version(chromium: str) -> str:
    """`156.0.8078.129` from "Chromium 156.0.8078.129 built on Debian ..." (the user agent says 156.0.0.0)."""
    printed = subprocess.run([chromium, "--version"], capture_output=True, text=True, timeout=60, check=False).stdout
    return next((word for word in printed.split() if word[:1].isdigit()), printed.strip())


def lighthouse(node: str, chromium: str, url: str, report: Path, profile: Path) -> dict[str, Any]:
    """One Lighthouse run with its default (mobile) settings: the JSON report's content."""
    flags = " ".join([*CHROMIUM_FLAGS, f"--user-data-dir={profile}"])
    command = [node, str(LIGHTHOUSE), url, "--quiet", "--form-factor=mobile", "--output=json", "--output=html",
               f"--output-path={report}", f"--only-categories={','.join(CATEGORIES)}", f"--chrome-flags={flags}"]
    finished = subprocess.run(command, cwd=TOOLS, env={**os.environ, "CHROME_PATH": chromium}, capture_output=True,
                              text=True, timeout=RUN_TIMEOUT_S, check=False)
    if finished.returncode != 0:
        raise SystemExit(f"lighthouse failed ({finished.returncode}):\n{finished.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(report.with_name(report.name + ".report.json").read_text(encoding="utf-8"))
    if result.get("runtimeError"):
        raise SystemExit(f"lighthouse could not load the page: {result['runtimeError']}")
    return result


def scores(result: dict[str, Any]) -> dict[str, int]:
    return {name: round(result["categories"][category]["score"] * 100) for category, name in CATEGORIES.items()}


def shortfalls(result: dict[str, Any]) -> list[str]:
    """The scored audits that did not pass: what a score under 100 is made of."""
    lines = []
    for category in CATEGORIES:
        for reference in result["categories"][category]["auditRefs"]:
            audit = result["audits"][reference["id"]]
            if reference["weight"] > 0 and audit["score"] is not None and audit["score"] < 1:
                lines.append(f"  {category}: {audit['id']} {audit['score']:.2f} {audit.get('displayValue', '')}")
    return lines


def main() -> int:
    node, chromium = _tools()
    REPORTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="colis-lighthouse-") as folder:
        work = Path(folder)
        with local_stack(work) as state:
            brand_merchant(state["api_url"], state["api_key"], "Maison Lune", "#0a3d62")
            url = shipment_with_history(state["api_url"], state["api_key"], state["webhooks"]["colis"])
            runs = []
            for index in range(RUNS):
                result = lighthouse(node, chromium, f"{url}?lang=en", REPORTS / "tracking-page",
                                    work / f"profile-{index}")
                runs.append(result)
                print(f"run {index + 1}: {scores(result)}", flush=True)
    last = runs[-1]
    for line in shortfalls(last):
        print(line)
    figures: dict[str, Any] = {"bench": "lighthouse", "runs": RUNS}
    figures |= {name: statistics.median_low(scores(run)[name] for run in runs) for name in CATEGORIES.values()}
    figures |= {name: round(statistics.median(run["audits"][audit]["numericValue"] for run in runs))
                for audit, name in METRICS.items()}
    figures["performance_runs"] = [scores(run)["performance"] for run in runs]  # its spread, run by run
    figures["cls"] = round(statistics.median(run["audits"]["cumulative-layout-shift"]["numericValue"] for run in runs), 3)
    figures |= {"form_factor": last["configSettings"]["formFactor"], "lighthouse": last["lighthouseVersion"],
                "chromium": _version(chromium), **TARGETS}
    print(json.dumps(figures))
    return 0 if targets_met(figures) else 1


def targets_met(figures: dict[str, Any]) -> bool:
    return all(figures[name.removeprefix("min_")] >= floor for name, floor in TARGETS.items())


if __name__ == "__main__":
    raise SystemExit(main())
