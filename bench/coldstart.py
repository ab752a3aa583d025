"""Cold start: import time of each handler module in a fresh interpreter (median of 5), against
a floor measured in the same run (boto3 + pydantic + a powertools Logger + a validating
APIGatewayRestResolver). Target: every handler at most 1.3 times the floor.

Time is the interpreter's CPU time (`time.process_time`) around the import: imports are CPU-bound
once files are cached, and CPU time does not count the waits another process on this 2-core
machine causes, which wall time does (the figures then swing by half). Samples are paired:
in each of five rounds every handler's sample follows a floor sample of its own, and a handler's
ratio is the median of its five paired ratios, so a drift in machine speed (or a neighbour's burst)
hits both sides of a pair alike."""

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


def _measure(codes: dict[str, str]) -> tuple[list[tuple[float, float]], dict[str, list[tuple[float, float, float, float]]]]:
    """RUNS rounds; in each, every handler's sample right after a floor sample of its own, so a
    drift in machine speed (or a neighbour's burst) hits the pair alike. Returns the floor's
    samples and, per handler, (CPU, wall, CPU ratio, wall ratio) of each pair."""
    floors: list[tuple[float, float]] = []
    pairs: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in codes}
    for _ in range(RUNS):
        for name, code in codes.items():
            floor_cpu, floor_wall = _sample(FLOOR)
            cpu, wall = _sample(code)
            floors.append((floor_cpu, floor_wall))
            pairs[name].append((cpu, wall, cpu / floor_cpu, wall / floor_wall))
    return floors, pairs


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
    floors, pairs = _measure({module: f"import {module}\n" for module in handler_modules()})
    floor = statistics.median(cpu for cpu, _ in floors)
    floor_wall = statistics.median(wall for _, wall in floors)
    figures: dict[str, object] = {"bench": "coldstart", "floor_ms": round(floor * 1000, 1),
                                  "floor_wall_ms": round(floor_wall * 1000, 1)}
    worst, worst_wall = 0.0, 0.0
    for module, samples in pairs.items():
        seconds, wall = statistics.median(p[0] for p in samples), statistics.median(p[1] for p in samples)
        ratio, wall_ratio = statistics.median(p[2] for p in samples), statistics.median(p[3] for p in samples)
        worst, worst_wall = max(worst, ratio), max(worst_wall, wall_ratio)
        name = module.removeprefix("functions.").replace(".handler", "").replace(".", "_")
        figures[f"{name}_ms"] = round(seconds * 1000, 1)
        print(f"{module:40s} {seconds * 1000:7.1f} ms CPU  {ratio:4.2f}x floor   (wall {wall * 1000:7.1f} ms,"
              f" {wall_ratio:4.2f}x)")
    print(f"{'floor (boto3, pydantic, Logger, resolver)':40s} {floor * 1000:7.1f} ms CPU  (wall {floor_wall * 1000:.1f} ms)")
    # the wall-time ratio is informational: on a shared machine it moves with the neighbours' load
    figures.update({"worst_ratio": round(worst, 3), "worst_wall_ratio": round(worst_wall, 3),
                    "max_worst_ratio": MAX_RATIO})
    print(json.dumps(figures))
    return 0 if worst <= MAX_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
