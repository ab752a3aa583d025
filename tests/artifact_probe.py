"""Run by tests/artifacts.py in an isolated interpreter (`python -I -S`): imports one handler the way
Lambda does, with the artifact and the layer as the only paths beside the standard library, then
invokes it once with an empty event (with tracing on, the first invocation is where the tracer
loads). Prints one JSON line. Standard library only: nothing else is importable here.

usage: artifact_probe.py <artifact>:<layer> <module> <handler> [import-only]
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import sysconfig
import time

paths, module_name, handler_name = sys.argv[1].split(os.pathsep), sys.argv[2], sys.argv[3]
import_only = sys.argv[4:] == ["import-only"]
sys.path[:0] = paths
sys.dont_write_bytecode = True  # read what the artifact ships; never add to it


class Context:
    function_name = "colis-probe"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:colis-probe"
    aws_request_id = "probe"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def _pyc_flags(path: str) -> int | None:
    """The .pyc header's flags (PEP 552): 0b01 hash-based, 0b10 check the source. None: no file
    or another Python's bytecode."""
    try:
        with open(path, "rb") as f:
            header = f.read(8)
    except OSError:
        return None
    if header[:4] != importlib.util.MAGIC_NUMBER:
        return None
    return int.from_bytes(header[4:8], "little")


start, wall = time.process_time(), time.perf_counter()
module = importlib.import_module(module_name)
import_cpu, import_wall = time.process_time() - start, time.perf_counter() - wall
result: dict[str, object] = {"import_ms": round(import_cpu * 1000, 1), "import_wall_ms": round(import_wall * 1000, 1),
                             "xray_at_import": "aws_xray_sdk" in sys.modules}
if not import_only:
    try:
        getattr(module, handler_name)({}, Context())
        result["invocation"] = "returned"
    except ImportError as error:  # the failure this probe exists for: a dependency missing from the layer
        result["invocation"] = f"ImportError: {error}"
    except Exception as error:  # an empty event is not a valid one: any other failure is expected
        result["invocation"] = type(error).__name__
    result["xray_loaded"] = "aws_xray_sdk" in sys.modules

stdlib = {os.path.realpath(sysconfig.get_paths()[k]) for k in ("stdlib", "platstdlib")}
roots = [os.path.realpath(p) for p in paths]
foreign, uncompiled = [], []
for name, loaded in list(sys.modules.items()):
    origin = getattr(loaded, "__file__", None)
    if not origin or name in ("__main__", "__mp_main__"):
        continue
    real = os.path.realpath(origin)
    if any(real.startswith(root + os.sep) for root in roots):
        cached = getattr(loaded, "__cached__", None)
        if real.endswith(".py") and (cached is None or _pyc_flags(cached) != 0b01):
            uncompiled.append(name)  # no bytecode, or bytecode Lambda would have to check or redo
    elif not any(real.startswith(root + os.sep) for root in stdlib):
        foreign.append(f"{name} ({real})")
result.update({"foreign": sorted(foreign), "uncompiled": sorted(uncompiled), "modules": len(sys.modules)})
print(json.dumps(result))
