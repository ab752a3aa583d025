"""A list cursor belongs to the list (and merchant) that gave it: handed to any other list, or to
the same list with another partition or range, it is a 400, never a DynamoDB error (500)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.customers.handler import lambda_handler as customers_api
from functions.orders.handler import lambda_handler as orders_api
from functions.shipments.handler import lambda_handler as shipments_api
from shared.merchants.store import MerchantRepository
from shared.shipments.statuses import CanonicalUpdate, TrackingStatus
from shared.shipments.store import ShipmentRepository
from shared.shipments.tracking import apply_canonical_update
from tests.apigw import api_event, call
from tests.component.orders_support import add_note, new_order
from tests.component.shipment_support import new_shipment
from tests.factories import shipment_body

List = tuple[Any, str, dict[str, str], dict[str, str]]  # handler, resource, path parameters, query


def _customers(merchant: str) -> None:
    # Two duplicate groups (same address, different emails), so that the duplicates list pages too.
    for index, (street, email) in enumerate([("1 rue A", "a1"), ("1 rue A", "a2"), ("2 rue B", "b1"),
                                             ("2 rue B", "b2")]):
        body = {"email": f"{email}@example.fr", "first_name": "Jo", "tags": ["vip"],
                "address": {"address_1": street, "city": "Lyon", "postal_code": "69003", "country": "FR"}}
        created = call(customers_api, api_event("POST", "/v1/customers", body=body, merchant_id=merchant))
        assert created.status == 201, (index, created.body)


@pytest.fixture
def lists(aws_env: dict[str, Any]) -> tuple[str, list[List]]:
    merchant = MerchantRepository().create("Cursor shop").id
    for _ in range(2):
        response = call(shipments_api, api_event("POST", "/v1/shipments", body=shipment_body(batch_id="B1"),
                                                 merchant_id=merchant))
        assert response.status == 201
    tracked = new_shipment(merchant)
    number = tracked["parcels"][0]["tracking_number"]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for hours, status in enumerate((TrackingStatus.in_transit, TrackingStatus.out_for_delivery)):
        apply_canonical_update(ShipmentRepository(), merchant, CanonicalUpdate(
            tracking_number=number, status=status, occurred_at=start + timedelta(hours=hours)))
    orders = [new_order(merchant) for _ in range(2)]
    for text in ("first", "second"):
        assert add_note(merchant, orders[0]["id"], text).status == 201
    _customers(merchant)
    every: list[List] = [
        (shipments_api, "/v1/shipments", {}, {}),
        (shipments_api, "/v1/shipments", {}, {"batch_id": "B1"}),
        (shipments_api, "/v1/shipments", {}, {"status": "pre_transit"}),
        (shipments_api, "/v1/shipments/{shipment_id}/events", {"shipment_id": tracked["id"]}, {}),
        (orders_api, "/v1/orders", {}, {}),
        (orders_api, "/v1/orders", {}, {"status": "paid"}),
        (orders_api, "/v1/orders", {}, {"customer_id": orders[0]["customer_id"]}),
        (orders_api, "/v1/orders/{order_id}/activity", {"order_id": orders[0]["id"]}, {}),
        (customers_api, "/v1/customers", {}, {}),
        (customers_api, "/v1/customers", {}, {"tag": "vip"}),
        (customers_api, "/v1/customers/duplicates", {}, {}),
    ]
    return merchant, every


def _page(merchant: str, listed: List, **query: str) -> Any:
    handler, resource, path, base = listed
    return call(handler, api_event("GET", resource, path_params=path or None, query={**base, **query},
                                   merchant_id=merchant))


def test_a_cursor_from_another_list_is_400_on_every_list(lists: tuple[str, list[List]]) -> None:
    merchant, every = lists
    cursors = []
    for listed in every:
        first = _page(merchant, listed, limit="1")
        assert first.status == 200, (listed[1], listed[3], first.body)
        cursor = first.json()["next_cursor"]
        assert cursor, (listed[1], listed[3])
        assert _page(merchant, listed, limit="1", cursor=cursor).status == 200
        cursors.append(cursor)
    for (source, cursor), target in itertools.product(enumerate(cursors), every):
        if every[source] is target:
            continue
        response = _page(merchant, target, limit="1", cursor=cursor)
        assert response.status == 400, (every[source][1], every[source][3], "→", target[1], target[3], response.body)
        assert response.headers["content-type"] == "application/problem+json"


def test_a_cursor_of_another_merchant_is_400(lists: tuple[str, list[List]]) -> None:
    merchant, every = lists
    other = MerchantRepository().create("Other shop").id
    cursor = _page(merchant, every[0], limit="1").json()["next_cursor"]
    assert _page(other, every[0], limit="1", cursor=cursor).status == 400
