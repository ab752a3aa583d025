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


# Used by AWS on the function's behalf with its role, never by the handler: logs, traces, the
# stream event source mapping's reads, the on-failure destinations' sends.
SERVICE_ACTIONS = ("logs:", "xray:", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream",
                   "dynamodb:ListStreams", "sqs:SendMessage")


def unused_grants(statements: dict[str, list[dict[str, Any]]], used: dict[str, list[str]]) -> dict[str, list[str]]:
    """Per function, each allowed (action, resource pattern) no recorded call needed: candidates
    for narrowing (or paths the suites do not reach)."""
    wider: dict[str, list[str]] = {}
    for function, granted in sorted(statements.items()):
        calls = [tuple(entry.split(" ", 1)) for entry in used.get(function, [])]
        for statement in granted:
            if statement.get("Effect") != "Allow" or "Action" not in statement:
                continue
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement.get("Resource", "*")
            resources = resources if isinstance(resources, list) else [resources]
            for action in actions:
                if action.startswith(SERVICE_ACTIONS):
                    continue
                for resource in resources:
                    if not any(iam.allowed([{"Effect": "Allow", "Action": action, "Resource": resource}], a, r)
                               for a, r in calls):
                        wider.setdefault(function, []).append(f"{action} on {resource}")
    return wider


def main() -> int:
    """Prints, per function, the grants no call of the recorded sessions needed (.aws-sam/iam-calls)."""
    root = Path(__file__).resolve().parent.parent
    used: dict[str, set[str]] = defaultdict(set)
    for path in (root / ".aws-sam" / "iam-calls").glob("*.json"):
        for function, seen in json.loads(path.read_text()).items():
            used[function].update(seen)
    found = start()
    short = {f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{ENV['TABLE_NAME']}": "Table",
             f"arn:aws:s3:::{ENV['EXPORT_BUCKET']}": "ExportBucket", f"arn:aws:s3:::{ENV['IMPORT_BUCKET']}": "ImportBucket",
             f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter": "ssm:parameter",
             f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{CURSOR_SECRET_NAME}-??????": "CursorSecret"}
    for function, grants in unused_grants(found.statements, {f: sorted(v) for f, v in used.items()}).items():
        by_resource: dict[str, list[str]] = defaultdict(list)
        for grant in grants:
            action, resource = grant.split(" on ", 1)
            for long, name in short.items():
                resource = resource.replace(long, name)
            by_resource[resource].append(action.split(":", 1)[1])
        print(f"- `{function}`: " + "; ".join(f"{', '.join(actions)} on `{resource}`"
                                            for resource, actions in by_resource.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
