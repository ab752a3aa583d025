"""Cold start as deployed: import time of each handler from its `sam build` artifact, in a fresh
interpreter of the Lambda runtime's Python that sees only the artifact, the dependencies layer and
the standard library (tests/artifact_probe.py, run with -I -S), against a floor packaged the same
way (boto3 + pydantic + a powertools Logger + a validating APIGatewayRestResolver, compiled into a
module of its own with the same bytecode settings as the artifacts). Target: every handler at most
1.3 times the floor. Beside each figure, the same import from the source tree (the dev venv,
bytecode cached in __pycache__), which is what this bench measured before it read the artifacts.

Time is the interpreter's CPU time (`time.process_time`) around the import: imports are CPU-bound
once files are cached, and CPU time does not count the waits another process on this 2-core
machine causes. Samples are paired: in each round every handler's sample follows a floor sample of
its own, and a handler's ratio is the median of its paired ratios.

BENCH_COLDSTART_RUNS (default 5) and BENCH_COLDSTART_FUNCTIONS (logical ids, comma-separated;
default all) size it; BENCH_BUILD_DIR reuses a `sam build` output instead of building."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import artifacts  # noqa: E402

RUNS = int(os.environ.get("BENCH_COLDSTART_RUNS", "5"))
ONLY = [name for name in os.environ.get("BENCH_COLDSTART_FUNCTIONS", "").split(",") if name]
MAX_RATIO = 1.3
FLOOR = (
    "import boto3, pydantic\n"
    "from aws_lambda_powertools import Logger\n"
    "Logger()\n"
    "from aws_lambda_powertools.event_handler import APIGatewayRestResolver\n"
    "APIGatewayRestResolver(enable_validation=True)\n"
)
SOURCE_TIMER = (
    "import time\n"
    "start = time.process_time()\n"
    "import {module}\n"
    "print(time.process_time() - start)\n"
)


def _floor_artifact(directory: Path) -> Path:
    """The floor as a module of its own, compiled as the artifacts are (unchecked-hash bytecode)."""
    (directory / "coldstart_floor.py").write_text(FLOOR)
    subprocess.run([artifacts.runtime_python(), "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash",
                    str(directory)], check=True)
    return directory


def _deployed(python: str, artifact: Path, layer: Path, module: str) -> float:
    """CPU seconds of importing `module` from artifact + layer only."""
    command = artifacts.isolated(python, [artifact, layer], artifacts.PROBE, module, "-", "import-only")
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120,
                         env=artifacts.lambda_environment(artifact, tracing=False))
    return float(json.loads(out.stdout.strip().splitlines()[-1])["import_ms"]) / 1000


def _source(module: str) -> float:
    """CPU seconds of importing `module` from the source tree with the dev venv."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0", "POWERTOOLS_TRACE_DISABLED": "true",
           "AWS_DEFAULT_REGION": "eu-west-1", "TABLE_NAME": "colis", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", SOURCE_TIMER.format(module=module)], capture_output=True, text=True,
                         cwd=ROOT, env=env, check=True, timeout=120)
    return float(out.stdout.strip().splitlines()[-1])


def measure(build_dir: Path) -> dict[str, object]:
    python, layer = artifacts.runtime_python(), artifacts.layer(build_dir)
    chosen = [f for f in artifacts.functions(build_dir) if not ONLY or f.logical_id in ONLY]
    with tempfile.TemporaryDirectory(prefix="coldstart-floor-") as scratch:
        floor_dir = _floor_artifact(Path(scratch))
        for function in chosen:  # the source tree's bytecode, written once, so runs measure imports
            _source(function.module)
        floors: list[float] = []
        pairs: dict[str, list[tuple[float, float]]] = {f.logical_id: [] for f in chosen}
        sources: dict[str, list[float]] = {f.logical_id: [] for f in chosen}
        for _ in range(RUNS):
            for function in chosen:
                floor = _deployed(python, floor_dir, layer, "coldstart_floor")
                seconds = _deployed(python, function.artifact, layer, function.module)
                floors.append(floor)
                pairs[function.logical_id].append((seconds, seconds / floor))
                sources[function.logical_id].append(_source(function.module))
    floor = statistics.median(floors)
    figures: dict[str, object] = {"bench": "coldstart", "runtime": artifacts.runtime(), "runs": RUNS,
                                  "floor_ms": round(floor * 1000, 1)}
    worst = 0.0
    print(f"{'function (module)':58s} {'deployed':>9s} {'ratio':>6s} {'source tree':>12s}")
    for function in chosen:
        samples = pairs[function.logical_id]
        seconds = statistics.median(s for s, _ in samples)
        ratio = statistics.median(r for _, r in samples)
        source = statistics.median(sources[function.logical_id])
        worst = max(worst, ratio)
        figures[f"{function.logical_id}_ms"] = round(seconds * 1000, 1)
        figures[f"{function.logical_id}_source_ms"] = round(source * 1000, 1)
        print(f"{function.logical_id + ' (' + function.module + ')':58s} {seconds * 1000:6.1f} ms {ratio:5.2f}x "
              f"{source * 1000:8.1f} ms")
    print(f"{'floor (boto3, pydantic, Logger, resolver), packaged alike':58s} {floor * 1000:6.1f} ms")
    figures.update({"worst_ratio": round(worst, 3), "max_worst_ratio": MAX_RATIO})
    return figures


def main() -> int:
    given = os.environ.get("BENCH_BUILD_DIR")
    if given:
        figures = measure(Path(given))
    else:
        with tempfile.TemporaryDirectory(prefix="coldstart-build-") as scratch:
            print("sam build ...", flush=True)
            figures = measure(artifacts.build(Path(scratch) / "build"))
    print(json.dumps(figures))
    return 0 if figures["worst_ratio"] <= MAX_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
