"""The failing examples the API fuzzer (tests/e2e/test_api_fuzz.py) found, kept as explicit cases so
each bug stays fixed even if the fuzzer's generation changes. Each one was a 500 before its fix."""

from __future__ import annotations

import base64
import importlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from cli.openapi import DOCUMENT as DOCUMENT_PATH
from cli.openapi import template_routes
from functions.account.handler import lambda_handler as account
from functions.customers.handler import lambda_handler as customers
from functions.export.handler import lambda_handler as exports
from functions.orders.handler import lambda_handler as orders
from functions.shipments.handler import lambda_handler as shipments
from shared.merchants.store import MerchantRepository
from shared.platform import aws
from tests.apigw import ApiResponse, api_event, call
from tests.component.orders_support import order_body
from tests.factories import shipment_body

DOCUMENT = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))

# What schemathesis sent: `GET /v1/orders?cursor=%1D.%C2%88&customer_id=...&limit=19&tag=...`.
# hmac.compare_digest raised TypeError on the non-ASCII signature part of the cursor.
NON_ASCII_CURSORS = ["\x1d.\x88", "abc.é", "e30.\U0001f600"]

# A body of bytes that are not UTF-8: API Gateway hands it to the function base64-encoded, and
# powertools' validation decoded it as UTF-8 (UnicodeDecodeError).
NOT_UTF8 = b"\xf7\x82\xc1{"


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    return MerchantRepository().create("Fuzz regressions").id


def _assert_problem(response: ApiResponse, status: int) -> None:
    assert response.status == status, response.body
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]


@pytest.mark.parametrize("cursor", NON_ASCII_CURSORS)
@pytest.mark.parametrize(("handler", "resource"), [
    (orders, "/v1/orders"), (shipments, "/v1/shipments"), (customers, "/v1/customers"),
    (customers, "/v1/customers/duplicates"),
])
def test_a_cursor_with_non_ascii_characters_is_400(merchant: str, handler: Any, resource: str, cursor: str) -> None:
    query = {"cursor": cursor, "limit": "19"}
    if resource == "/v1/orders":
        query |= {"customer_id": "\xa5\x93\xc1w\x9d", "tag": "\xbdp\U000c03a9\xec"}
    _assert_problem(call(handler, api_event("GET", resource, query=query, merchant_id=merchant)), 400)


def _binary_event(method: str, resource: str, merchant: str, body: bytes) -> dict[str, Any]:
    event = api_event(method, resource, merchant_id=merchant)
    event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode("ascii"), True
    return event


@pytest.mark.parametrize(("handler", "method", "resource"), [
    (shipments, "POST", "/v1/shipments"), (orders, "POST", "/v1/orders"), (account, "PATCH", "/v1/settings"),
    (customers, "POST", "/v1/customers"), (account, "POST", "/v1/connections"),
])
def test_a_body_that_is_not_utf8_is_400(merchant: str, handler: Any, method: str, resource: str) -> None:
    response = call(handler, _binary_event(method, resource, merchant, NOT_UTF8))
    _assert_problem(response, 400)
    assert response.json()["detail"] == "The request body is not valid JSON (UTF-8)."


# `GET /v1/orders?status=%F0%A4%82%A8...&limit=100`: the list filters' 422 listed its field problems
# without `type`, unlike every other 422 (the document's FieldProblem: field, type, message).
@pytest.mark.parametrize(("handler", "resource", "query"), [
    (orders, "/v1/orders", {"status": "\U000240a8\U000a2733ç/", "limit": "100"}),
    (shipments, "/v1/shipments", {"status": "teleported"}),
    (shipments, "/v1/shipments", {"created_from": "2026-02-30"}),
])
def test_list_filter_problems_have_field_type_and_message(merchant: str, handler: Any, resource: str,
                                                          query: dict[str, str]) -> None:
    response = call(handler, api_event("GET", resource, query=query, merchant_id=merchant))
    _assert_problem(response, 422)
    errors = response.json()["errors"]
    assert errors and all({"field", "type", "message"} <= set(error) for error in errors), errors


# --- issue 20: shapes that were 500s (or the wrong 4xx) where two features meet ----------------

API_ROUTES = sorted((method, path, module) for (method, path), module in template_routes().items()
                    if not path.startswith("/webhooks/"))  # webhooks: their own order of checks (404 first)
BODY_ROUTES = [(method, path, module) for method, path, module in API_ROUTES
               if "requestBody" in DOCUMENT["paths"].get(path, {}).get(method.lower(), {})]


@pytest.fixture
def unreachable_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """AWS settings whose every call fails (nothing listens there): for answers given before any
    route code reaches the table."""
    for name, value in {"AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "TABLE_NAME": "colis-none",
                        "IMPORT_BUCKET": "colis-none", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}.items():
        monkeypatch.setenv(name, value)
    aws.reset_clients()
    yield
    aws.reset_clients()


def _route_event(method: str, path: str, merchant: str, body: str) -> dict[str, Any]:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    return api_event(method, path, path_params={name: f"x_{name}" for name in names} or None, body=body,
                     merchant_id=merchant)


@pytest.mark.parametrize(("method", "path", "module"), API_ROUTES)
@pytest.mark.usefixtures("unreachable_aws")
def test_json_over_one_mebibyte_is_413_before_any_validation(method: str, path: str, module: str) -> None:
    # Refused before any route code runs: no table is needed (nor touched).
    merchant = "mer_fuzz"
    # Invalid in every field as well: the size is what is checked first.
    body = '{"unknown": "' + "x" * (7 * 1024 * 1024) + '", "limit": -1}'
    handler = importlib.import_module(module).lambda_handler
    _assert_problem(call(handler, _route_event(method, path, merchant, body)), 413)


@pytest.mark.parametrize("depth", [33, 1_000, 100_000])
@pytest.mark.parametrize(("method", "path", "module"), BODY_ROUTES)
@pytest.mark.usefixtures("unreachable_aws")
def test_deeply_nested_json_is_400(method: str, path: str, module: str, depth: int) -> None:
    merchant = "mer_fuzz"  # refused before any route code runs
    body = '{"a": ' + "[" * depth + "]" * depth + "}"
    handler = importlib.import_module(module).lambda_handler
    response = call(handler, _route_event(method, path, merchant, body))
    _assert_problem(response, 400)
    assert "nested deeper than 32" in response.json()["detail"]


def test_json_nested_within_the_bound_is_read_as_usual(merchant: str) -> None:
    # 32 levels is what DynamoDB stores: a body that deep is read, and its fields judged (422).
    body = '{"brand": {"name": ' + "[" * 30 + "]" * 30 + "}}"
    _assert_problem(call(account, api_event("PATCH", "/v1/settings", body=body, merchant_id=merchant)), 422)


HOSTILE_MONEY = ["1_000", " 49.90", "49.90 ", "4 9.90", "\uff14\uff19.90", "\u0664\u0669.\u0669\u0660", "\u09ea\u09ef",
                 "1e3", "49,90", ""]


@pytest.mark.parametrize("amount", HOSTILE_MONEY)
def test_money_strings_that_decimal_would_accept_are_422(merchant: str, amount: str) -> None:
    body = shipment_body()
    body["package"]["value"] = amount
    response = call(shipments, api_event("POST", "/v1/shipments", body=body, merchant_id=merchant))
    _assert_problem(response, 422)
    assert [e["field"] for e in response.json()["errors"]] == ["body.package.value"]
    order = order_body()
    order["amounts"]["shipping"] = amount
    response = call(orders, api_event("POST", "/v1/orders", body=order, merchant_id=merchant))
    _assert_problem(response, 422)
    assert [e["field"] for e in response.json()["errors"]] == ["body.amounts.shipping"]


HOSTILE_FILTER_TIMES = ["0001-01-01T00:00:00+14:00", "0001-01-01", "9999-12-31T23:59:59-14:00", "9999-12-31",
                        "9999-12-31T23:59:59.999999+00:00", "2026-02-30", "2026-05-04T25:00:00Z", "soon"]


@pytest.mark.parametrize("value", HOSTILE_FILTER_TIMES)
@pytest.mark.parametrize("bound", ["created_from", "created_to"])
def test_a_hostile_time_in_a_list_filter_is_422(merchant: str, bound: str, value: str) -> None:
    response = call(shipments, api_event("GET", "/v1/shipments", query={bound: value}, merchant_id=merchant))
    _assert_problem(response, 422)
    assert {error["field"].split(".")[0] for error in response.json()["errors"]} == {bound}


@pytest.mark.parametrize("value", HOSTILE_FILTER_TIMES)
def test_a_hostile_time_in_an_export_filter_is_422(merchant: str, value: str) -> None:
    body = {"type": "shipments", "format": "csv", "filters": {"created_from": value}}
    response = call(exports, api_event("POST", "/v1/exports", body=body, merchant_id=merchant))
    _assert_problem(response, 422)
