"""API fuzzing with schemathesis against the running local stack: every operation of the committed
openapi.json, with cases generated from its schemas (valid ones, and invalid ones in negative mode),
sent with a valid API key of a merchant of its own. No answer may be a 5xx; every 4xx is
application/problem+json with `title`, `status` and `detail`; every answer conforms to the
document (status code, content type, body schema).

Reproducible (hypothesis derandomized) and bounded: a fixed number of cases per operation and a
wall-clock budget; the test asserts how many cases really ran, so a change that silently generates
fewer fails. The failing examples it found are kept in tests/component/test_fuzz_regressions.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.component.orders_support import order_body
from tests.e2e.conftest import PROJECT_ROOT, ApiClient
from tests.factories import address, shipment_body

pytestmark = pytest.mark.xdist_group("e2e")

MIN_CASES = 1000
POSITIVE_EXAMPLES = 25  # per operation, ids generated (mostly unknown: 404 paths)
KNOWN_ID_EXAMPLES = 10  # per operation with path ids, the ids of the fuzz merchant's own records
NEGATIVE_EXAMPLES = 8  # per operation, schema-violating parameters and bodies
WALL_CLOCK_BUDGET_SECONDS = 200.0
REQUEST_TIMEOUT_SECONDS = 30
# negative_data_rejection: a schema-violating case (an unknown query parameter among them) must be a 4xx.
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance, negative_data_rejection]
OWN_KEY_REVOCATION = ("DELETE", "/v1/api-keys/{key_id}")
FUZZ_EMAIL = "fuzz.merchant.records@example.fr"


class BudgetSpent(Exception):
    """The wall-clock budget ran out: stop generating (the case count then decides)."""


@dataclass
class Finding:
    operation: str
    status: int
    problem: str
    curl: str

    def __str__(self) -> str:
        return f"{self.operation} -> {self.status}: {self.problem}\n    {self.curl}"


@dataclass
class FuzzRun:
    api_url: str
    api_key: str = field(repr=False)
    key_id: str
    deadline: float
    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    findings: dict[tuple[str, int, str], Finding] = field(default_factory=dict)

    def record(self, operation: str, status: int, problem: str, curl: str) -> None:
        self.findings.setdefault((operation, status, problem[:120]), Finding(operation, status, problem, curl))


def problem_details_issue(response: Any) -> str | None:
    """What is wrong with a 4xx answer as RFC 9457 problem details (None: nothing)."""
    content_type = (response.headers.get("content-type") or [""])[0]
    if content_type.split(";")[0].strip() != "application/problem+json":
        return f"a {response.status_code} that is not application/problem+json ({content_type or 'no type'})"
    try:
        body = json.loads(response.content)
    except ValueError:
        return "a problem+json body that is not JSON"
    if not isinstance(body, dict) or not all(isinstance(body.get(name), str) for name in ("title", "detail")):
        return f"a problem without title and detail: {str(body)[:200]}"
    if body.get("status") != response.status_code:
        return f"a problem whose status {body.get('status')!r} is not the HTTP status"
    return None


def _colis(local_stack: dict[str, Any], *arguments: str) -> dict[str, Any]:
    """The `colis` operator CLI against the stack's moto (as an operator would run it)."""
    command = [sys.executable, "-m", "cli.main", "--table", local_stack["table_name"],
               "--endpoint-url", local_stack["aws_endpoint_url"],
               "--secret-prefix", local_stack["connection_secret_prefix"]]
    if local_stack.get("usage_plan_id"):
        command += ["--usage-plan-id", local_stack["usage_plan_id"]]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "eu-west-1"}
    done = subprocess.run([*command, *arguments], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def fuzz_merchant(local_stack: dict[str, Any]) -> dict[str, Any]:
    """A merchant of the fuzzer's own (created with the CLI), so fuzzing disturbs no other test, and
    one record of each kind for the operations that take an id."""
    created = _colis(local_stack, "create-merchant", "Fuzz Shop")
    with ApiClient(local_stack["api_url"], created["api_key"]["key"]) as api:
        def make(path: str, **kwargs: Any) -> dict[str, Any]:
            response = api.post(path, **kwargs)
            assert response.status_code in (201, 202), response.text
            return response.json()

        # Addresses of its own: emails the fuzzer's records trigger never match another test's.
        shipment = make("/v1/shipments", json=shipment_body(recipient=address(email=FUZZ_EMAIL)))
        order = make("/v1/orders", json=order_body(
            customer={"username": "fuzz.buyer", "email": FUZZ_EMAIL}, billing_address=address(email=FUZZ_EMAIL),
            shipping_address=address(email=FUZZ_EMAIL)))
        customer = make("/v1/customers", json={"username": "fuzz.customer", "email": "fuzz.customer@example.fr"})
        export = make("/v1/exports", json={"type": "shipments", "format": "csv"})
        template = api.get("/v1/customers/import-template").content  # the header and a sample row
        upload = make("/v1/customer-imports", data=template, headers={"Content-Type": "text/csv"})
        colis = make("/v1/connections", json={"carrier": "colis"})
    return {
        "api_key": created["api_key"]["key"], "key_id": created["api_key"]["id"],
        "ids": {"shipment_id": shipment["id"], "order_id": order["id"], "customer_id": customer["id"],
                "export_id": export["id"], "import_id": upload["id"], "connection_id": colis["id"],
                "carrier": "colis", "tracking_number": shipment["parcels"][0]["tracking_number"]},
    }


@pytest.fixture(scope="module")
def schema() -> Any:
    loaded = schemathesis.openapi.from_path(str(PROJECT_ROOT / "openapi.json"))
    # The key is sent with every case: negative mode must not spend its cases dropping it (401s).
    loaded.config.generation.update(with_security_parameters=False)
    return loaded


def _fuzz_operation(run: FuzzRun, session: requests.Session, operation: Any, mode: GenerationMode,
                    examples: int, path_parameters: dict[str, str] | None) -> None:
    method, path = operation.method.upper(), operation.path
    headers = {"Authorization": f"Bearer {run.api_key}", "Accept": "application/json"}

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def exercise(case: Any) -> None:
        if time.monotonic() > run.deadline:
            raise BudgetSpent
        if (method, path) == OWN_KEY_REVOCATION and case.path_parameters.get("key_id") == run.key_id:
            return  # the fuzzer never revokes the key it runs with
        response = case.call(base_url=run.api_url, session=session, headers=headers,
                             timeout=REQUEST_TIMEOUT_SECONDS, allow_redirects=False)
        run.cases[operation.label] += 1
        run.statuses[response.status_code] += 1
        curl = case.as_curl_command(headers=headers)
        if response.status_code >= 500:
            run.record(operation.label, response.status_code, f"server error: {response.content[:200]!r}", curl)
        elif response.status_code >= 400 and (issue := problem_details_issue(response)):
            run.record(operation.label, response.status_code, issue, curl)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except BaseExceptionGroup as failures:
            for failure in failures.exceptions:
                title = getattr(failure, "title", type(failure).__name__)
                message = " ".join(str(getattr(failure, "message", failure)).split())[:300]
                run.record(operation.label, response.status_code, f"{title}: {message}", curl)

    try:
        exercise()
    except Unsatisfiable:
        # Negative mode has nothing to break in an operation whose inputs accept anything
        # (the webhook: free path segments, any JSON body); positive mode covers it.
        if mode is not GenerationMode.NEGATIVE:
            raise


def _passes(schema: Any, ids: dict[str, str]) -> Iterator[tuple[Any, GenerationMode, int, dict[str, str] | None]]:
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        yield operation, GenerationMode.POSITIVE, POSITIVE_EXAMPLES, None
    # DELETEs last: on the merchant's own records they would leave the other operations only 404s.
    for operation in sorted(operations, key=lambda op: op.method.upper() == "DELETE"):
        names = [p.name for p in operation.path_parameters]
        known = {name: ids[name] for name in names if name in ids}
        if known and (operation.method.upper(), operation.path) != OWN_KEY_REVOCATION:
            yield operation, GenerationMode.POSITIVE, KNOWN_ID_EXAMPLES, known
    for operation in operations:
        yield operation, GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES, None


def test_fuzzing_every_operation_finds_no_server_error_and_only_problem_details(
        local_stack: dict[str, Any], fuzz_merchant: dict[str, Any], schema: Any) -> None:
    started = time.monotonic()
    run = FuzzRun(local_stack["api_url"], fuzz_merchant["api_key"], fuzz_merchant["key_id"],
                  deadline=started + WALL_CLOCK_BUDGET_SECONDS)
    with requests.Session() as session:
        for operation, mode, examples, known_ids in _passes(schema, fuzz_merchant["ids"]):
            try:
                _fuzz_operation(run, session, operation, mode, examples, known_ids)
            except BudgetSpent:
                break
    elapsed = time.monotonic() - started
    total = sum(run.cases.values())
    summary = f"{total} cases in {elapsed:.0f} s over {len(run.cases)} operations; statuses {dict(run.statuses)}"
    print(f"\nAPI fuzz: {summary}")
    assert not run.findings, f"{len(run.findings)} finding(s) ({summary}):\n" + "\n".join(
        str(finding) for finding in run.findings.values())
    documented = {result.ok().label for result in schema.get_all_operations()}
    assert set(run.cases) == documented, f"operations never exercised: {sorted(documented - set(run.cases))}"
    assert total >= MIN_CASES, f"only {summary} (budget {WALL_CLOCK_BUDGET_SECONDS:.0f} s)"


# The checks themselves, on answers made up here: each would let a real defect through if broken.

@dataclass
class _Answer:
    status_code: int
    headers: dict[str, list[str]]
    content: bytes


def _answer(status: int, content_type: str, body: Any) -> _Answer:
    return _Answer(status, {"content-type": [content_type]}, json.dumps(body).encode())


@pytest.mark.parametrize(("answer", "expected"), [
    (_answer(404, "application/problem+json", {"type": "about:blank", "title": "Not Found", "status": 404,
                                               "detail": "No such shipment."}), None),
    (_answer(404, "application/json", {"title": "Not Found", "status": 404, "detail": "x"}), "not application/problem"),
    (_answer(422, "application/problem+json", {"message": "Invalid"}), "without title and detail"),
    (_answer(400, "application/problem+json", {"title": "Bad Request", "status": 422, "detail": "x"}),
     "is not the HTTP status"),
    (_Answer(404, {"content-type": ["text/html"]}, b"<html>"), "not application/problem"),
])
def test_the_problem_details_check(answer: _Answer, expected: str | None) -> None:
    issue = problem_details_issue(answer)
    assert (issue is None) if expected is None else (issue is not None and expected in issue)


def test_the_passes_cover_every_operation_in_both_modes_and_never_pin_the_own_key(schema: Any) -> None:
    passes = list(_passes(schema, {"shipment_id": "shp_1", "key_id": "key_own", "order_id": "ord_1"}))
    everything = {result.ok().label for result in schema.get_all_operations()}
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        assert {op.label for op, m, _, _ in passes if m is mode} == everything
    pinned_order = [op for op, _, _, ids in passes if ids]
    assert [op.method.upper() for op in pinned_order].index("DELETE") > max(
        i for i, op in enumerate(pinned_order) if op.method.upper() != "DELETE")
    pinned = {op.label: ids for op, _, _, ids in passes if ids}
    assert pinned["GET /v1/shipments/{shipment_id}"] == {"shipment_id": "shp_1"}
    assert "DELETE /v1/api-keys/{key_id}" not in pinned
    planned = sum(examples for _, _, examples, _ in passes)
    assert planned >= MIN_CASES * 1.1, "the plan leaves no margin over the cases the test asserts"
