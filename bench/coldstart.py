"""Cold start: import time of each handler module in a fresh interpreter (median of 5), against
a floor measured in the same run (boto3 + pydantic + a powertools Logger + a validating
APIGatewayRestResolver). Target: every handler at most 1.3 times the floor.

Time is the interpreter's CPU time (`time.process_time`) around the import: imports are CPU-bound
once files are cached, and CPU time does not count the waits another process on this 2-core
machine causes, which wall time does (the figures then swing by half). Samples are interleaved
(floor, every handler; five rounds), so a drift in machine speed hits floor and handlers alike."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUNS = 5
MAX_RATIO = 1.3
FLOOR = (
    "import boto3, pydantic\n"
    "from aws_lambda_powertools import Logger\n"
    "Logger()\n"
    "from aws_lambda_powertools.event_handler import APIGatewayRestResolver\n"
    "APIGatewayRestResolver(enable_validation=True)\n"
)
TIMER = (
    "import time\n"
    "start, wall = time.process_time(), time.perf_counter()\n"
    "{code}"
    "print(time.process_time() - start, time.perf_counter() - wall)\n"
)
ENV = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0", "POWERTOOLS_TRACE_DISABLED": "true",
       "AWS_DEFAULT_REGION": "eu-west-1", "TABLE_NAME": "colis", "PYTHONPATH": str(ROOT)}


def _sample(code: str) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of the code in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", TIMER.format(code=code)], capture_output=True, text=True,
                         cwd=ROOT, env=ENV, check=True)
    cpu, wall = out.stdout.strip().splitlines()[-1].split()
    return float(cpu), float(wall)


def _measure(codes: dict[str, str]) -> dict[str, tuple[float, float]]:
    """Median CPU and wall time of RUNS samples per code, taken in interleaved rounds."""
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in codes}
    for _ in range(RUNS):
        for name, code in codes.items():
            samples[name].append(_sample(code))
    return {name: (statistics.median(c for c, _ in values), statistics.median(w for _, w in values))
            for name, values in samples.items()}


def handler_modules() -> list[str]:
    from cfnlint.decode import decode

    template, _ = decode(str(ROOT / "template.yaml"))
    modules = []
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            modules.append(resource["Properties"]["Handler"].rsplit(".", 1)[0].replace("/", "."))
    return sorted(set(modules))


def main() -> int:
    for module in handler_modules():  # compile .pyc once so every run measures imports, not compilation
        subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, env=ENV, check=True)
    timings = _measure({"floor": FLOOR, **{module: f"import {module}\n" for module in handler_modules()}})
    floor, floor_wall = timings.pop("floor")
    figures: dict[str, object] = {"bench": "coldstart", "floor_ms": round(floor * 1000, 1),
                                  "floor_wall_ms": round(floor_wall * 1000, 1)}
    worst, worst_wall = 0.0, 0.0
    for module, (seconds, wall) in timings.items():
        ratio = seconds / floor
        worst, worst_wall = max(worst, ratio), max(worst_wall, wall / floor_wall)
        name = module.removeprefix("functions.").replace(".handler", "").replace(".", "_")
        figures[f"{name}_ms"] = round(seconds * 1000, 1)
        print(f"{module:40s} {seconds * 1000:7.1f} ms CPU  {ratio:4.2f}x floor   (wall {wall * 1000:7.1f} ms,"
              f" {wall / floor_wall:4.2f}x)")
    print(f"{'floor (boto3, pydantic, Logger, resolver)':40s} {floor * 1000:7.1f} ms CPU  (wall {floor_wall * 1000:.1f} ms)")
    # the wall-time ratio is informational: on a shared machine it moves with the neighbours' load
    figures.update({"worst_ratio": round(worst, 3), "worst_wall_ratio": round(worst_wall, 3),
                    "max_worst_ratio": MAX_RATIO})
    print(json.dumps(figures))
    return 0 if worst <= MAX_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
