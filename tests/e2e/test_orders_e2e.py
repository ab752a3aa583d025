"""Orders, refunds and cancellations over HTTP against the local stack (`python -m local`): the
real gateway, authorizer and handlers, the table's stream and the EventBridge rules."""

from __future__ import annotations

import itertools
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
import requests

from tests.e2e.conftest import ApiClient

_numbers = itertools.count(1)


def order_body(**overrides: Any) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]  # the stack lives for the whole session: numbers and emails stay unique
    email = f"lea.{run}@example.fr"
    shipping = {"first_name": "Léa", "last_name": "Martin", "address_1": "3 place Bellecour", "city": "Lyon",
                "postal_code": "69002", "country": "FR", "email": email, "language": "fr"}
    return {
        "order_number": f"E2E-{run}-{next(_numbers)}", "store": "shopify",
        "customer": {"username": f"lea-{run}", "email": email, "first_name": "Léa", "last_name": "Martin"},
        "currency": "EUR", "display_currency": "USD", "exchange_rate": "1.0850",
        "lines": [{"sku": "LAMP-01", "name": "Lampe", "quantity": 2, "unit_price": "50.00", "hs_code": "9405.20",
                   "weight": "1.2"}],
        "amounts": {"subtotal": "100.00", "shipping": "10.00", "duties": "4.00", "taxes": "6.00"},
        "payment_mode": "platform", "billing_address": shipping, "shipping_address": shipping, **overrides}


def create_order(api: ApiClient, **overrides: Any) -> dict[str, Any]:
    response = api.post("/v1/orders", json=order_body(**overrides))
    assert response.status_code == 201, response.text
    return response.json()


def refund(api: ApiClient, order_id: str, key: str, **amounts: str) -> requests.Response:
    return api.post(f"/v1/orders/{order_id}/refunds", headers={"Idempotency-Key": key},
                    json={"amounts": amounts, "reason": "customer_request"})


def eventually(check: Callable[[], Any], seconds: float = 20.0) -> Any:
    """The stream consumer and the EventBridge rules run asynchronously."""
    deadline = time.monotonic() + seconds
    while True:
        outcome = check()
        if outcome or time.monotonic() > deadline:
            return outcome
        time.sleep(0.2)


def test_an_order_a_partial_refund_and_a_cancellation(api: ApiClient) -> None:
    order = create_order(api)
    assert (order["status"], order["refund_status"], order["total"]) == ("paid", "none", "120.00")
    assert api.get(f"/v1/orders/{order['id']}").json() == order

    key = str(uuid.uuid4())
    first = refund(api, order["id"], key, subtotal="30.00")
    assert first.status_code == 201 and first.json()["total"] == "30.00" and first.json()["currency"] == "EUR"
    replay = refund(api, order["id"], key, subtotal="30.00")
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert refund(api, order["id"], key, subtotal="31.00").status_code == 409

    edited = api.patch(f"/v1/orders/{order['id']}", json={"shipping_address": {
        **order["shipping_address"], "address_1": "8 quai Saint-Vincent"}})
    assert edited.status_code == 200
    assert edited.json()["warnings"] == ["landed_cost_may_differ", "fraud_protection_void"]
    assert api.post(f"/v1/orders/{order['id']}/notes", json={"text": "Appeler avant"}).status_code == 201

    cancelled = api.post(f"/v1/orders/{order['id']}/cancel", json={"reason": "Rupture de stock"})
    assert cancelled.status_code == 200
    assert cancelled.json()["order"]["status"] == "cancelled"
    assert cancelled.json()["order"]["refund_status"] == "full"
    assert cancelled.json()["refund"]["total"] == "90.00"
    assert [r["total"] for r in api.get(f"/v1/orders/{order['id']}/refunds").json()["items"]] == ["30.00", "90.00"]
    kinds = [e["type"] for e in api.get(f"/v1/orders/{order['id']}/activity").json()["items"]]
    assert kinds == ["created", "refunded", "edited", "note", "cancelled", "refunded"]


def test_refusals_over_http(api: ApiClient) -> None:
    order = create_order(api)
    missing_key = api.post(f"/v1/orders/{order['id']}/refunds", json={"amounts": {"subtotal": "1.00"},
                                                                      "reason": "other"})
    assert missing_key.status_code == 400
    assert missing_key.headers["Content-Type"] == "application/problem+json"
    assert refund(api, order["id"], "too-much", subtotal="100.01").status_code == 422
    assert refund(api, order["id"], "too-precise", subtotal="1.001").status_code == 422
    assert api.patch(f"/v1/orders/{order['id']}", json={"estimated_weight": "1"}).status_code == 422
    external = create_order(api, payment_mode="external", guarantee=True)
    assert refund(api, external["id"], "k", subtotal="1.00").status_code == 409
    refused = api.post(f"/v1/orders/{external['id']}/cancel", json={"reason": "x"})
    assert refused.status_code == 409 and "platform" in refused.json()["detail"]
    taken = api.post("/v1/orders", json=order_body(order_number=order["order_number"]))
    assert taken.status_code == 409


def test_another_merchant_sees_nothing(api: ApiClient, second_api: ApiClient) -> None:
    order = create_order(api)
    assert second_api.get(f"/v1/orders/{order['id']}").status_code == 404
    assert refund(second_api, order["id"], "k", subtotal="1.00").status_code == 404
    assert second_api.post(f"/v1/orders/{order['id']}/cancel", json={"reason": "x"}).status_code == 404


def test_lists_are_filtered(api: ApiClient) -> None:
    order = create_order(api)
    by_number = api.get("/v1/orders", params={"order_number": order["order_number"]}).json()["items"]
    assert [o["id"] for o in by_number] == [order["id"]]
    by_customer = api.get("/v1/orders", params={"customer_id": order["customer_id"]}).json()["items"]
    assert [o["id"] for o in by_customer] == [order["id"]]
    assert order["id"] in [o["id"] for o in api.get("/v1/orders", params={"status": "paid"}).json()["items"]]
    assert api.get("/v1/orders", params={"limit": "0"}).status_code == 422


def test_a_tracking_number_ships_the_order_and_voiding_its_label_returns_it_to_paid(api: ApiClient) -> None:
    order = create_order(api)
    number = f"E2E{uuid.uuid4().hex[:12].upper()}"
    response = api.post(f"/v1/orders/{order['id']}/tracking", json={"carrier": "colissimo",
                                                                   "tracking_number": number})
    assert response.status_code == 201 and response.json()["order"]["status"] == "shipped"
    shipment_id = response.json()["shipment"]["id"]
    assert api.post(f"/v1/orders/{order['id']}/cancel", json={"reason": "x"}).status_code == 409
    assert api.post(f"/v1/shipments/{shipment_id}/void-label").status_code == 200
    assert eventually(lambda: api.get(f"/v1/orders/{order['id']}").json()["status"] == "paid")
    assert api.post(f"/v1/orders/{order['id']}/cancel", json={"reason": "x"}).status_code == 200


def test_a_shipment_created_for_the_order_ships_it_from_its_201_on(api: ApiClient) -> None:
    order = create_order(api)
    shipment = {
        "order_id": order["id"], "recipient": order["shipping_address"],
        "return_address": {"name": "Atelier", "address_1": "5 quai Voltaire", "city": "Paris", "country": "FR"},
        "package": {"type": "parcel", "size_unit": "cm", "length": "30", "width": "20", "height": "10",
                    "weight_unit": "kg", "weight": "1.2", "contents": "merchandise", "value": "100.00",
                    "currency": "EUR"},
        "postage_type": "standard", "carrier": "colissimo",
        "parcels": [{"tracking_number": f"E2E{uuid.uuid4().hex[:12].upper()}"}]}
    created = api.post("/v1/shipments", json=shipment)
    assert created.status_code == 201
    # At once, not when the stream catches up: a cancel right after the 201 refunds nothing.
    cancelled = api.post(f"/v1/orders/{order['id']}/cancel", json={"reason": "x"})
    assert cancelled.status_code == 409 and "shipped" in cancelled.json()["detail"]
    shipped = api.get(f"/v1/orders/{order['id']}").json()
    assert shipped["status"] == "shipped" and shipped["shipment_ids"] == [created.json()["id"]]
    assert api.get(f"/v1/orders/{order['id']}/refunds").json()["items"] == []
    unknown = api.post("/v1/shipments", json={**shipment, "order_id": "ord_unknown",
                                              "parcels": [{"tracking_number": f"E2E{uuid.uuid4().hex[:12].upper()}"}]})
    assert unknown.status_code == 422


def test_a_cancellation_asked_to_notify_emails_the_customer_in_their_language(api: ApiClient,
                                                                              public_api: ApiClient) -> None:
    order = create_order(api)
    assert api.post(f"/v1/orders/{order['id']}/cancel", json={"reason": "Rupture", "notify_customer": True}
                    ).status_code == 200

    def email() -> dict[str, Any] | None:
        sent = public_api.get("/_local/outbox").json()
        items = sent["items"] if isinstance(sent, dict) else sent
        return next((e for e in items if order["customer"]["email"] in e["to"]), None)

    sent = eventually(email)
    assert sent, "no cancellation email reached the local outbox"
    assert "annulée" in sent["subject"] and order["order_number"] in sent["subject"]  # French, as the address says


def test_concurrent_refunds_never_exceed_what_was_paid_and_one_key_refunds_once(api: ApiClient,
                                                                                local_stack: dict[str, Any]) -> None:
    def post(order_id: str, key: str) -> int:
        with ApiClient(local_stack["api_url"], local_stack["api_key"]) as client:
            return refund(client, order_id, key, subtotal="10.00").status_code

    order = create_order(api)  # subtotal 100.00: ten refunds of 10.00 fit
    with ThreadPoolExecutor(max_workers=15) as pool:
        statuses = Counter(pool.map(lambda n: post(order["id"], f"distinct-{n}"), range(15)))
    assert statuses == {201: 10, 422: 5}
    after = api.get(f"/v1/orders/{order['id']}").json()
    assert Decimal(after["refunded"]["subtotal"]) == Decimal("100.00")
    assert len(api.get(f"/v1/orders/{order['id']}/refunds").json()["items"]) == 10

    other = create_order(api)
    with ThreadPoolExecutor(max_workers=10) as pool:
        same = list(pool.map(lambda _: post(other["id"], "same-key"), range(10)))
    assert set(same) <= {201, 409} and 201 in same
    assert api.get(f"/v1/orders/{other['id']}").json()["refunded"]["subtotal"] == "10.00"
    assert len(api.get(f"/v1/orders/{other['id']}/refunds").json()["items"]) == 1


@pytest.fixture(autouse=True)
def _routes_are_served(api: ApiClient) -> None:
    if api.get("/v1/orders").status_code in (403, 404):
        pytest.fail("the orders routes are not served: are they in template.yaml?",
                    pytrace=False)
