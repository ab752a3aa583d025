"""The `sam build` output as Lambda runs it: one artifact per function plus the dependencies layer,
imported by the runtime's Python with nothing else on the path. Shared by tests/build and
bench/coldstart.py."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

from local import iam

ROOT = Path(__file__).resolve().parent.parent
PROBE = ROOT / "tests" / "artifact_probe.py"
LAYER = "DependenciesLayer"
# A port nothing listens on: an AWS call made by the probe fails at once instead of reaching a
# real endpoint.
NO_ENDPOINT = "http://127.0.0.1:9"


@dataclass(frozen=True)
class Function:
    logical_id: str
    artifact: Path
    module: str
    handler: str


def _template(path: Path) -> dict[str, Any]:
    parsed, matches = decode(str(path))
    assert not matches, matches
    return parsed


@cache
def runtime() -> str:
    """The functions' runtime in template.yaml, e.g. `python3.13`."""
    return _template(ROOT / "template.yaml")["Globals"]["Function"]["Runtime"]


def runtime_version() -> tuple[int, int]:
    major, minor = re.fullmatch(r"python(\d+)\.(\d+)", runtime()).groups()
    return int(major), int(minor)


def _is_version(python: str, version: tuple[int, int]) -> bool:
    check = f"import sys; sys.exit(sys.version_info[:2] != {version!r})"
    try:
        return subprocess.run([python, "-c", check], capture_output=True, timeout=30).returncode == 0
    except OSError:
        return False


@cache
def runtime_python() -> str:
    """An interpreter of the Lambda runtime's version: bytecode and compiled wheels in the
    artifacts are for that version only. This one when it matches, else `pythonX.Y` on the path,
    else pyenv's install of it."""
    version = runtime_version()
    if sys.version_info[:2] == version:
        return sys.executable
    name = "python{}.{}".format(*version)
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [shutil.which(name), *sorted(str(p) for p in pyenv_root.glob(f"versions/{'.'.join(map(str, version))}*/bin/{name}"))]
    for candidate in candidates:
        if candidate and _is_version(candidate, version):
            return candidate
    raise RuntimeError(f"{name} (the Lambda runtime's Python) was not found: install it (pyenv install "
                       f"{'.'.join(map(str, version))}) to check the built artifacts")


def sam_executable() -> str:
    """SAM CLI from the project's own venv (`make` installs it)."""
    return iam.sam_venv_binary("sam")


def build(build_dir: Path) -> Path:
    """`sam build` into build_dir, with SAM's cache kept under .aws-sam/ (the layer is rebuilt
    only when layers/deps changes). Sessions building at the same time take turns."""
    cache_dir = ROOT / ".aws-sam" / "test-cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "PYTHON": runtime_python()}
    env.pop("PYTHONPATH", None)
    with open(cache_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        out = subprocess.run([sam_executable(), "build", "--build-dir", str(build_dir), "--cache-dir", str(cache_dir),
                              "--cached"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"sam build failed:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}")
    return build_dir


def functions(build_dir: Path) -> list[Function]:
    built = _template(build_dir / "template.yaml")
    found = []
    for logical_id, resource in built["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        module, handler = resource["Properties"]["Handler"].rsplit(".", 1)
        found.append(Function(logical_id, build_dir / resource["Properties"]["CodeUri"], module.replace("/", "."),
                              handler))
    return sorted(found, key=lambda f: f.logical_id)


def layer(build_dir: Path) -> Path:
    """The layer's `python/` directory: what Lambda mounts as /opt/python."""
    return build_dir / LAYER / "python"


def lambda_environment(artifact: Path, *, tracing: bool) -> dict[str, str]:
    """What Lambda sets, and the template's variables with placeholder values. No PYTHONPATH:
    the probe is run isolated (-I -S) and puts only the artifact and the layer on its path."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(artifact), "AWS_LAMBDA_FUNCTION_NAME": "colis-probe",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512", "AWS_EXECUTION_ENV": "AWS_Lambda_" + runtime(),
        "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "probe", "AWS_SECRET_ACCESS_KEY": "probe", "AWS_SESSION_TOKEN": "probe",
        "AWS_ENDPOINT_URL": NO_ENDPOINT,
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000", "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "TABLE_NAME": "colis", "EVENT_BUS_NAME": "colis", "EXPORT_BUCKET": "colis-exports",
        "IMPORT_BUCKET": "colis-imports", "SENDER_EMAIL": "no-reply@colis.test",
        "CURSOR_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:colis-probe-AbCdEf", "CONNECTION_SECRET_PREFIX": "/colis/probe/connections/",
        "POWERTOOLS_SERVICE_NAME": "colis", "POWERTOOLS_METRICS_NAMESPACE": "Colis", "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true",
    }


def isolated(python: str, paths: list[Path], script: Path, *args: str) -> list[str]:
    """Command line of `script` in a fresh interpreter that sees the standard library and `paths`
    only (-I: no PYTHONPATH, user site or script directory; -S: no site-packages)."""
    return [python, "-I", "-S", str(script), os.pathsep.join(str(p) for p in paths), *args]
