"""Requests powertools would otherwise let through: a JSON route given another media type is a 415
naming what it reads (not a 422 about the body as one "extra field"), and a query parameter the
operation does not declare is a 400 naming it (not a silently ignored filter)."""

from __future__ import annotations

from typing import Any

import pytest

from functions.customers import handler as customers
from functions.orders import handler as orders
from shared.merchants.store import MerchantRepository
from tests.apigw import api_event, call


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    return MerchantRepository().create("Atelier Lune").id


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", "text/csv"])
def test_json_route_given_another_media_type_is_415_naming_json(merchant: str, content_type: str) -> None:
    event = api_event("POST", "/v1/customers", body='{"email": "lea@example.com"}',
                      headers={"Content-Type": content_type}, merchant_id=merchant)
    response = call(customers.lambda_handler, event)
    assert response.status == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert "application/json" in response.json()["detail"]
    assert content_type in response.json()["detail"]


def test_json_route_with_json_or_no_media_type_is_read(merchant: str) -> None:
    for headers in ({"Content-Type": "application/json; charset=utf-8"}, {"Content-Type": ""}):
        event = api_event("POST", "/v1/customers", body={"email": f"x{len(headers['Content-Type'])}@example.com"},
                          headers=headers, merchant_id=merchant)
        assert call(customers.lambda_handler, event).status == 201


def test_csv_import_route_still_takes_csv(merchant: str) -> None:
    event = api_event("POST", "/v1/customer-imports", body="email\n", headers={"Content-Type": "text/plain; x=1"},
                      merchant_id=merchant)
    response = call(customers.lambda_handler, event)
    assert response.status != 415


def test_import_route_given_neither_csv_nor_json_names_both(merchant: str) -> None:
    event = api_event("POST", "/v1/customer-imports", body="<a/>", headers={"Content-Type": "application/xml"},
                      merchant_id=merchant)
    response = call(customers.lambda_handler, event)
    assert response.status == 415
    assert "text/csv" in response.json()["detail"] and "application/json" in response.json()["detail"]


def test_unknown_query_parameters_are_400_naming_them(merchant: str) -> None:
    event = api_event("GET", "/v1/orders", query={"limit": "5", "statuss": "open", "zz": "1"}, merchant_id=merchant)
    response = call(orders.lambda_handler, event)
    assert response.status == 400
    body = response.json()
    assert "statuss" in body["detail"] and "zz" in body["detail"] and "limit," in body["detail"]
    assert [e["field"] for e in body["errors"]] == ["query.statuss", "query.zz"]


def test_operation_without_query_parameters_refuses_any(merchant: str) -> None:
    event = api_event("GET", "/v1/customers/{customer_id}", path_params={"customer_id": "cus_x"},
                      query={"expand": "orders"}, merchant_id=merchant)
    response = call(customers.lambda_handler, event)
    assert response.status == 400
    assert "expand" in response.json()["detail"] and "takes none" in response.json()["detail"]


def test_declared_query_parameters_pass(merchant: str) -> None:
    event = api_event("GET", "/v1/customers", query={"limit": "5", "tag": "vip"}, merchant_id=merchant)
    assert call(customers.lambda_handler, event).status == 200
