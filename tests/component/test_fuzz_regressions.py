"""The failing examples the API fuzzer (tests/e2e/test_api_fuzz.py) found, kept as explicit cases so
each bug stays fixed even if the fuzzer's generation changes. Each one was a 500 before its fix."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from functions.account.handler import lambda_handler as account
from functions.customers.handler import lambda_handler as customers
from functions.orders.handler import lambda_handler as orders
from functions.shipments.handler import lambda_handler as shipments
from shared.merchants.store import MerchantRepository
from tests.apigw import ApiResponse, api_event, call

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
