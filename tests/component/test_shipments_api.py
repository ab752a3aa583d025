"""Shipments API against moto: creation, uniqueness, lists served by indexes, merchant actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.shipments.handler import lambda_handler as shipments_api
from shared.merchants.store import MerchantRepository
from shared.platform import clock
from tests.apigw import ApiResponse, api_event, call
from tests.component.orders_support import new_order
from tests.factories import address, shipment_body


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    clock.use_fixed(datetime(2025, 12, 1, tzinfo=UTC))
    merchant_id = MerchantRepository().create("Atelier Lune").id
    clock.use_fixed(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    return merchant_id


def create(merchant: str, body: dict[str, Any]) -> ApiResponse:
    return call(shipments_api, api_event("POST", "/v1/shipments", body=body, merchant_id=merchant))


def get(merchant: str, shipment_id: str) -> ApiResponse:
    return call(shipments_api, api_event("GET", "/v1/shipments/{shipment_id}",
                                         path_params={"shipment_id": shipment_id}, merchant_id=merchant))


def listing(merchant: str, **query: str) -> ApiResponse:
    return call(shipments_api, api_event("GET", "/v1/shipments", query=query, merchant_id=merchant))


def action(merchant: str, shipment_id: str, name: str) -> ApiResponse:
    if name == "delete":
        return call(shipments_api, api_event("DELETE", "/v1/shipments/{shipment_id}",
                                             path_params={"shipment_id": shipment_id}, merchant_id=merchant))
    return call(shipments_api, api_event("POST", f"/v1/shipments/{{shipment_id}}/{name}",
                                         path_params={"shipment_id": shipment_id}, merchant_id=merchant))


def test_a_new_shipment_is_pre_transit_with_indexed_parcels(merchant: str) -> None:
    response = create(merchant, shipment_body(parcels=3))
    assert response.status == 201
    shipment = response.json()
    assert shipment["id"].startswith("shp_") and shipment["status"] == "pre_transit"
    assert shipment["created_at"].startswith("2026-03-10T12:00:00") and shipment["redacted_at"] is None
    assert [p["index"] for p in shipment["parcels"]] == [1, 2, 3]
    assert all(p["id"].startswith("prc_") and p["status"] == "pre_transit" and p["last_event_at"] is None
               for p in shipment["parcels"])
    assert shipment["package"]["value"] == "49.90" and shipment["fees"]["shipping"] == "6.90"
    assert get(merchant, shipment["id"]).json() == shipment


@pytest.mark.parametrize(("currency", "sent", "written"), [
    ("EUR", "20", "20.00"), ("EUR", "5.5", "5.50"), ("JPY", "1500", "1500"), ("KWD", "1.2", "1.200")])
def test_amounts_are_answered_in_the_currency_precision(merchant: str, currency: str, sent: str,
                                                        written: str) -> None:
    body = shipment_body(insurance_amount=sent, fees={"shipping": sent, "federal_tax": sent})
    body["package"] = {**body["package"], "value": sent, "currency": currency}
    shipment = create(merchant, body).json()
    assert shipment["package"]["value"] == written and shipment["insurance_amount"] == written
    assert shipment["fees"]["shipping"] == shipment["fees"]["federal_tax"] == written
    assert shipment["fees"]["postage"] is None
    assert get(merchant, shipment["id"]).json() == shipment


def test_a_tracking_number_already_used_by_the_merchant_is_409_and_nothing_is_written(merchant: str) -> None:
    first = create(merchant, shipment_body()).json()
    taken = first["parcels"][0]["tracking_number"]
    body = shipment_body(parcels=2)
    body["parcels"][1]["tracking_number"] = taken
    response = create(merchant, body)
    assert response.status == 409 and taken in response.json()["detail"]
    assert len(listing(merchant).json()["items"]) == 1


def test_the_same_tracking_number_is_allowed_for_another_merchant(merchant: str) -> None:
    other = MerchantRepository().create("Other").id
    body = shipment_body()
    assert create(merchant, body).status == 201
    assert create(other, body).status == 201


@pytest.mark.parametrize("change", [
    {"parcels": []},
    {"package": {**shipment_body()["package"], "value": "49.999"}},
    {"package": {**shipment_body()["package"], "currency": "JPY", "value": "100.5"}},
    {"recipient": address(country="France")},
    {"recipient": address(email="not-an-email")},
    {"package": {**shipment_body()["package"], "size_unit": "mm"}},
    {"fees": {"shipping": "-1"}},
    {"surprise": True},
])
def test_invalid_shipments_are_422(merchant: str, change: dict[str, Any]) -> None:
    response = create(merchant, {**shipment_body(), **change})
    assert response.status == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert listing(merchant).json()["items"] == []


def test_two_parcels_with_one_number_are_422(merchant: str) -> None:
    body = shipment_body(parcels=2)
    body["parcels"][1]["tracking_number"] = body["parcels"][0]["tracking_number"]
    assert create(merchant, body).status == 422


def test_another_merchants_shipment_is_404(merchant: str) -> None:
    shipment = create(merchant, shipment_body()).json()
    other = MerchantRepository().create("Other").id
    assert get(other, shipment["id"]).status == 404
    assert action(other, shipment["id"], "archive").status == 404
    assert get(merchant, "shp_unknown").status == 404


def _ids(response: ApiResponse) -> list[str]:
    return [s["id"] for s in response.json()["items"]]


def test_list_filters_by_status_batch_and_q(merchant: str) -> None:
    plain = create(merchant, shipment_body()).json()
    batched = create(merchant, shipment_body(batch_id="B-7")).json()
    order_id = new_order(merchant)["id"]
    ordered = create(merchant, shipment_body(order_id=order_id, recipient=address(first_name="Zoé",
                                                                                 last_name="Marchand"))).json()
    action(merchant, plain["id"], "archive")
    assert _ids(listing(merchant, status="archived")) == [plain["id"]]
    assert set(_ids(listing(merchant, status="pre_transit"))) == {batched["id"], ordered["id"]}
    assert _ids(listing(merchant, status="archived,pre_transit")) == [ordered["id"], batched["id"], plain["id"]]
    assert _ids(listing(merchant, batch_id="B-7")) == [batched["id"]]
    assert _ids(listing(merchant, q=batched["parcels"][0]["tracking_number"])) == [batched["id"]]
    assert _ids(listing(merchant, q=f' {batched["parcels"][0]["tracking_number"].lower()} ')) == [batched["id"]]
    assert _ids(listing(merchant, q=order_id)) == [ordered["id"]]
    assert _ids(listing(merchant, q="zoé MARCH")) == [ordered["id"]]
    assert _ids(listing(merchant, q="nobody")) == []


def test_created_range_dates_include_the_whole_day_and_datetimes_bound_from_inclusive_to_exclusive(
        merchant: str) -> None:
    made = {}
    for moment in ("2026-01-31T23:59:59+00:00", "2026-02-01T00:00:00+00:00", "2026-02-28T23:59:59+00:00",
                   "2026-03-01T00:00:00+00:00"):
        clock.use_fixed(datetime.fromisoformat(moment))
        made[moment] = create(merchant, shipment_body()).json()["id"]
    clock.use_fixed(datetime(2026, 3, 10, tzinfo=UTC))
    february = listing(merchant, created_from="2026-02-01", created_to="2026-02-28")
    assert set(_ids(february)) == {made["2026-02-01T00:00:00+00:00"], made["2026-02-28T23:59:59+00:00"]}
    bounded = listing(merchant, created_from="2026-02-01T00:00:00Z", created_to="2026-03-01T00:00:00Z")
    assert set(_ids(bounded)) == set(_ids(february))
    assert listing(merchant, created_from="2026-03-02", created_to="2026-03-01").status == 422


def test_pages_follow_the_cursor_across_months_newest_first(merchant: str) -> None:
    created = []
    for day in range(5):
        clock.use_fixed(datetime(2026, 1, 28, tzinfo=UTC) + timedelta(days=day * 3))
        created.append(create(merchant, shipment_body()).json()["id"])
    clock.use_fixed(datetime(2026, 3, 10, tzinfo=UTC))
    seen, cursor = [], None
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = listing(merchant, **query).json()
        seen += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(created))


def test_tampered_or_foreign_cursors_are_400(merchant: str) -> None:
    for _ in range(3):
        create(merchant, shipment_body())
    cursor = listing(merchant, limit="1").json()["next_cursor"]
    assert cursor
    tampered = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
    assert listing(merchant, limit="1", cursor=tampered).status == 400
    assert listing(merchant, limit="1", cursor="garbage").status == 400
    other = MerchantRepository().create("Other").id
    response = listing(other, limit="1", cursor=cursor)
    assert response.status == 400 and response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("limit", ["0", "101", "ten"])
def test_limit_outside_1_to_100_is_422(merchant: str, limit: str) -> None:
    assert listing(merchant, limit=limit).status == 422


def test_merchant_actions_set_their_status_and_delete_is_final(merchant: str) -> None:
    shipment = create(merchant, shipment_body()).json()
    assert action(merchant, shipment["id"], "void-label").json()["status"] == "cancelled"
    assert action(merchant, shipment["id"], "archive").json()["status"] == "archived"
    assert action(merchant, shipment["id"], "delete").json()["status"] == "deleted"
    assert get(merchant, shipment["id"]).json()["status"] == "deleted"
    assert action(merchant, shipment["id"], "archive").status == 409
    assert action(merchant, shipment["id"], "void-label").status == 409
