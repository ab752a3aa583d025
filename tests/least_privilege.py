"""The test suites' side of local/iam.py: every handler module named in template.yaml runs as its
function, and any AWS call it makes is decided against that function's own role. A call the role
would not allow fails as in AWS (AccessDenied) and fails the test that made it (tests/conftest.py)."""

from __future__ import annotations

import importlib
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from local import iam

REGION, ACCOUNT, STAGE = "eu-west-1", "123456789012", "test"
# Physical names of the resources the component tests create (tests/conftest.py aws_env); the
# resources that name themselves in the template (import bucket, event bus) take the template's
# names for stage `test`.
ENV = {
    "TABLE_NAME": "colis-test", "EVENT_BUS_NAME": f"colis-{STAGE}", "EXPORT_BUCKET": "colis-exports-test",
    "IMPORT_BUCKET": f"colis-{STAGE}-imports-{ACCOUNT}-{REGION}", "SENDER_EMAIL": "no-reply@colis.test",
    "CONNECTION_SECRET_PREFIX": f"/colis/{STAGE}/connections/",
}
CURSOR_SECRET_NAME = "colis-test-cursor"
NAMES = {"Table": ENV["TABLE_NAME"], "ExportBucket": ENV["EXPORT_BUCKET"], "CursorSecret": CURSOR_SECRET_NAME}

enforcer: iam.Enforcer | None = None


def start() -> iam.Enforcer:
    """Builds the enforcer and wraps every handler of the template. Call before any test module
    imports a handler (pytest_configure)."""
    global enforcer
    translated = iam.translated_template()
    resolver = iam.resolver_for(translated, {"Stage": STAGE, "SenderEmail": ENV["SENDER_EMAIL"]}, REGION, ACCOUNT,
                                NAMES)
    enforcer = iam.Enforcer(iam.function_policies(translated, resolver), REGION, ACCOUNT)
    iam.install()
    for path, function in iam.handler_paths(translated).items():
        module_path, attribute = path.rsplit(".", 1)
        module = importlib.import_module(module_path.replace("/", "."))
        setattr(module, attribute, iam.as_function(enforcer, function, getattr(module, attribute)))
    return enforcer


def report(calls: list[iam.Call], path: Path) -> None:
    """What each function did (added to what earlier sessions saw), for the README's list of
    grants wider than the calls need."""
    used: dict[str, set[str]] = defaultdict(set)
    if path.exists():  # sessions add up: each runs a part of the suites
        for function, seen in json.loads(path.read_text()).items():
            used[function].update(seen)
    for call in calls:
        used[call.function].add(f"{call.request.action} {call.request.resource}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({f: sorted(v) for f, v in sorted(used.items())}, indent=1))


def environment() -> dict[str, Any]:
    return dict(ENV)


def worker_report_path(root: Path) -> Path:
    return root / ".aws-sam" / "iam-calls" / f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.json"
