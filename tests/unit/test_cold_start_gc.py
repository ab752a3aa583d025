"""Garbage collection while a handler loads (shared/platform/coldstart.py): rare during the load, the
loaded heap frozen and the usual pace back once the handler module is done."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = ("import gc, json, importlib; before = gc.get_threshold(); importlib.import_module({module!r}); "
         "print(json.dumps({{'before': before, 'after': gc.get_threshold(), 'frozen': gc.get_freeze_count()}}))")


def _probe(module: str, then: str = "") -> dict[str, list[int] | int]:
    environment = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true", "AWS_DEFAULT_REGION": "eu-west-1",
                   "TABLE_NAME": "colis", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", PROBE.format(module=module).replace("; print(", f"; {then}print(")], capture_output=True, text=True,
                         cwd=ROOT, env=environment, check=True, timeout=60)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("handler", ["functions.orders.handler", "functions.outbox.handler",
                                     "functions.export.worker"])
def test_a_loaded_handler_freezes_its_heap_and_collects_at_the_usual_pace(handler: str) -> None:
    found = _probe(handler)
    assert found["after"] == found["before"]
    assert found["frozen"] > 10_000  # modules and schemas are out of the collector's sight


def test_importing_part_of_functions_still_collects() -> None:
    found = _probe("functions.orders.service")  # no handler module: thresholds stay raised, not off
    assert found["frozen"] == 0
    assert 0 < found["after"][0] <= 100_000


def test_an_entry_point_outside_functions_leaves_the_collector_alone() -> None:
    # A tool decorating its own handler never raised the thresholds, so nothing is frozen or changed.
    decorate = "from shared.platform.observability import entrypoint; entrypoint()(lambda event, context: None); "
    found = _probe("shared.platform.observability", then=decorate)
    assert found["after"] == found["before"]
    assert found["frozen"] == 0
