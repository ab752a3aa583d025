"""SnapStart restores every execution environment from one snapshot taken after init, so what init
computes is shared by all of them. The functions with SnapStart in template.yaml must therefore read
no clock, draw no random value or id, and open no connection while their handler module loads
(boto3 clients, settings and ids are made at the first invocation). Checked by importing each
handler in a fresh interpreter with those sources watched: any use from the project's own code
(functions/, shared/) while loading fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.template_resources import resources_of_type

ROOT = Path(__file__).resolve().parents[2]
WATCH = r'''
import json, socket, sys, time, uuid, secrets, random, os
ROOT = sys.argv[1]
seen = []

def from_project():
    """The direct caller, when it is the project's own code (libraries may time their own imports)."""
    frame = sys._getframe(2)
    name = frame.f_code.co_filename
    if name.startswith(ROOT + "/functions/") or name.startswith(ROOT + "/shared/"):
        return f"{name[len(ROOT) + 1:]}:{frame.f_lineno}"
    return None

def watch(owner, name, what):
    original = getattr(owner, name)
    def watched(*args, **kwargs):
        where = from_project()
        if where:
            seen.append(f"{what} at {where}")
        return original(*args, **kwargs)
    setattr(owner, name, watched)

for name in ("time", "time_ns", "monotonic"):
    watch(time, name, f"time.{name}")
for name in ("uuid1", "uuid4"):
    watch(uuid, name, f"uuid.{name}")
for name in ("token_bytes", "token_hex", "token_urlsafe", "randbits", "choice"):
    watch(secrets, name, f"secrets.{name}")
for name in ("random", "randint", "getrandbits", "choice", "uniform"):
    watch(random, name, f"random.{name}")
watch(os, "urandom", "os.urandom")
watch(socket.socket, "connect", "socket.connect")
import shared.platform.clock as clock
watch(clock, "now", "clock.now")
import importlib
importlib.import_module(sys.argv[2])
print(json.dumps(seen))
'''


def snapstart_modules() -> list[str]:
    modules = []
    for resource in resources_of_type("AWS::Serverless::Function").values():
        props = resource["Properties"]
        if (props.get("SnapStart") or {}).get("ApplyOn") == "PublishedVersions":
            modules.append(props["Handler"].rsplit(".", 1)[0].replace("/", "."))
    return sorted(modules)


def test_snapstart_is_on_for_the_api_functions_only_with_a_published_alias() -> None:
    for name, resource in resources_of_type("AWS::Serverless::Function").items():
        props = resource["Properties"]
        if "SnapStart" in props:
            assert props.get("AutoPublishAlias"), f"{name}: SnapStart applies to published versions only"
            assert any(e["Type"] == "Api" for e in props.get("Events", {}).values()), name
    assert len(snapstart_modules()) >= 5


@pytest.mark.parametrize("module", snapstart_modules())
def test_loading_a_snapstart_handler_reads_no_clock_draws_nothing_random_and_connects_nowhere(module: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AWS_DEFAULT_REGION": "eu-west-1", "TABLE_NAME": "colis",
           "POWERTOOLS_TRACE_DISABLED": "true"}
    out = subprocess.run([sys.executable, "-c", WATCH, str(ROOT), module], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
