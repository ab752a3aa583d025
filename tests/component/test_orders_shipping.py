"""An order's shipping status follows its shipments (DESIGN.md §1.3): a tracking number added by
hand, a shipment created for the order, a voided label."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from functions.shipments import handler as shipments_module
from shared.merchants.store import MerchantRepository
from shared.platform import clock
from tests.apigw import ApiResponse, api_event, call
from tests.component.notify_pipeline import TableStream
from tests.component.orders_support import activity, add_tracking, cancel, deliver, get_order, new_order
from tests.factories import shipment_body, tracking_number


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    clock.use_fixed(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    return MerchantRepository().create("Atelier Lune").id


@pytest.fixture
def stream(aws_env: dict[str, Any]) -> TableStream:
    return TableStream(aws_env["TABLE_NAME"])


def create_shipment(merchant: str, **overrides: Any) -> dict[str, Any]:
    response = call(shipments_module.lambda_handler, api_event("POST", "/v1/shipments", body=shipment_body(**overrides),
                                                               merchant_id=merchant))
    assert response.status == 201, response.body
    return response.json()


def void_label(merchant: str, shipment_id: str) -> ApiResponse:
    return call(shipments_module.lambda_handler, api_event("POST", "/v1/shipments/{shipment_id}/void-label",
                                                           path_params={"shipment_id": shipment_id},
                                                           merchant_id=merchant))


def forward(stream: TableStream) -> None:
    """Hand the shipment events the outbox published to the orders' rule target."""
    for event in stream.published("ShipmentCreated", "ShipmentStatusChanged"):
        deliver(event.detail_type, event.as_delivered()["detail"])


def test_a_new_tracking_number_creates_a_minimal_shipment_and_ships_the_order(merchant: str) -> None:
    order = new_order(merchant)
    number = tracking_number()
    response = add_tracking(merchant, order["id"], number)
    assert response.status == 201
    shipped, shipment = response.json()["order"], response.json()["shipment"]
    assert shipped["status"] == "shipped" and shipped["shipment_ids"] == [shipment["id"]]
    assert shipment["order_id"] == order["id"] and shipment["carrier"] == "colissimo"
    assert [p["tracking_number"] for p in shipment["parcels"]] == [number]
    assert shipment["recipient"] == order["shipping_address"]
    assert shipment["package"]["value"] == "100.00" and shipment["package"]["currency"] == "EUR"
    assert (shipment["package"]["length"], shipment["package"]["weight"]) == ("40", "4.800")
    assert get_order(merchant, order["id"]).json() == shipped
    assert activity(merchant, order["id"]).json()["items"][-1]["type"] == "shipped"


def test_the_minimal_shipment_returns_to_the_merchants_latest_return_address(merchant: str) -> None:
    create_shipment(merchant)
    shipment = add_tracking(merchant, new_order(merchant)["id"], tracking_number()).json()["shipment"]
    assert shipment["return_address"]["address_1"] == shipment_body()["return_address"]["address_1"]


def test_without_any_shipment_the_return_address_is_a_placeholder_with_no_personal_data(merchant: str) -> None:
    order = new_order(merchant)
    shipment = add_tracking(merchant, order["id"], tracking_number()).json()["shipment"]
    assert shipment["return_address"]["name"] == "Atelier Lune"
    assert shipment["return_address"]["country"] == "FR"
    assert order["billing_address"]["address_1"] not in str(shipment["return_address"])


def test_a_tracking_number_of_an_unlinked_shipment_links_that_shipment(merchant: str) -> None:
    order = new_order(merchant)
    existing = create_shipment(merchant, recipient=order["shipping_address"])
    response = add_tracking(merchant, order["id"], existing["parcels"][0]["tracking_number"])
    assert response.status == 201
    assert response.json()["shipment"]["id"] == existing["id"]
    assert response.json()["shipment"]["order_id"] == order["id"]
    assert response.json()["order"]["shipment_ids"] == [existing["id"]]
    again = add_tracking(merchant, order["id"], existing["parcels"][0]["tracking_number"])
    assert again.status == 201 and again.json()["order"]["shipment_ids"] == [existing["id"]]


def test_a_tracking_number_of_another_orders_shipment_is_409(merchant: str) -> None:
    first, second = new_order(merchant), new_order(merchant)
    number = tracking_number()
    add_tracking(merchant, first["id"], number)
    response = add_tracking(merchant, second["id"], number)
    assert response.status == 409 and first["id"] in response.json()["detail"]
    assert get_order(merchant, second["id"]).json()["status"] == "paid"


def test_a_tracking_number_of_a_voided_label_is_409(merchant: str) -> None:
    existing = create_shipment(merchant)
    void_label(merchant, existing["id"])
    response = add_tracking(merchant, new_order(merchant)["id"], existing["parcels"][0]["tracking_number"])
    assert response.status == 409 and "voided" in response.json()["detail"]


def test_a_cancelled_order_takes_no_tracking_number(merchant: str) -> None:
    order = new_order(merchant)
    cancel(merchant, order["id"])
    assert add_tracking(merchant, order["id"], tracking_number()).status == 409


@pytest.mark.parametrize("number", ["", "has space", "x" * 65])
def test_an_invalid_tracking_number_is_422(merchant: str, number: str) -> None:
    assert add_tracking(merchant, new_order(merchant)["id"], number).status == 422


def test_a_shipment_created_for_the_order_ships_it(merchant: str, stream: TableStream) -> None:
    order = new_order(merchant, payment_mode="external")
    shipment = create_shipment(merchant, order_id=order["id"])
    forward(stream)
    after = get_order(merchant, order["id"]).json()
    assert after["status"] == "shipped" and after["shipment_ids"] == [shipment["id"]]
    forward(stream)  # nothing new; and a repeated event changes nothing
    deliver("ShipmentCreated", {"merchant_id": merchant, "shipment_id": shipment["id"], "order_id": order["id"]})
    assert get_order(merchant, order["id"]).json() == after


def test_voiding_the_label_returns_the_order_to_paid_or_open(merchant: str, stream: TableStream) -> None:
    for payment_mode, unshipped in (("platform", "paid"), ("external", "open")):
        order = new_order(merchant, payment_mode=payment_mode)
        shipment = add_tracking(merchant, order["id"], tracking_number()).json()["shipment"]
        forward(stream)
        assert void_label(merchant, shipment["id"]).status == 200
        forward(stream)
        after = get_order(merchant, order["id"]).json()
        assert after["status"] == unshipped and after["shipment_ids"] == [shipment["id"]]
        assert activity(merchant, order["id"]).json()["items"][-1]["type"] == "shipment_voided"


def test_a_voided_label_keeps_the_order_shipped_while_another_shipment_is_active(merchant: str,
                                                                                 stream: TableStream) -> None:
    order = new_order(merchant)
    first = add_tracking(merchant, order["id"], tracking_number()).json()["shipment"]
    second = add_tracking(merchant, order["id"], tracking_number()).json()["shipment"]
    forward(stream)
    void_label(merchant, first["id"])
    forward(stream)
    assert get_order(merchant, order["id"]).json()["status"] == "shipped"
    void_label(merchant, second["id"])
    forward(stream)
    assert get_order(merchant, order["id"]).json()["status"] == "paid"


def test_a_shipped_order_refuses_cancellation_until_its_label_is_voided(merchant: str, stream: TableStream) -> None:
    order = new_order(merchant)
    shipment = add_tracking(merchant, order["id"], tracking_number()).json()["shipment"]
    response = cancel(merchant, order["id"])
    assert response.status == 409
    assert "void the label" in response.json()["detail"] and shipment["id"] in response.json()["detail"]
    void_label(merchant, shipment["id"])
    forward(stream)
    assert cancel(merchant, order["id"]).status == 200


def test_the_void_label_answer_already_finds_the_order_unshipped(merchant: str, stream: TableStream) -> None:
    # No event forwarded: a storefront that voids the label and cancels straight after is not refused.
    order = new_order(merchant)
    shipment = create_shipment(merchant, order_id=order["id"])
    assert get_order(merchant, order["id"]).json()["status"] == "shipped"
    assert void_label(merchant, shipment["id"]).status == 200
    after = get_order(merchant, order["id"]).json()
    assert after["status"] == "paid" and after["shipment_ids"] == [shipment["id"]]
    assert [entry["type"] for entry in activity(merchant, order["id"]).json()["items"]][-1] == "shipment_voided"
    forward(stream)  # the event applies it again: nothing changes, no second log entry
    assert get_order(merchant, order["id"]).json() == after
    assert [e["type"] for e in activity(merchant, order["id"]).json()["items"]].count("shipment_voided") == 1
    assert cancel(merchant, order["id"]).status == 200


def test_voiding_one_of_two_labels_keeps_the_order_shipped_at_once(merchant: str) -> None:
    order = new_order(merchant)
    first = add_tracking(merchant, order["id"], tracking_number()).json()["shipment"]
    add_tracking(merchant, order["id"], tracking_number())
    assert void_label(merchant, first["id"]).status == 200
    assert get_order(merchant, order["id"]).json()["status"] == "shipped"
    assert cancel(merchant, order["id"]).status == 409


def test_events_for_unknown_orders_or_other_actions_change_nothing(merchant: str) -> None:
    order = new_order(merchant)
    deliver("ShipmentCreated", {"merchant_id": merchant, "shipment_id": "shp_x", "order_id": "ord_unknown"})
    deliver("ShipmentStatusChanged", {"merchant_id": merchant, "shipment_id": "shp_x", "order_id": order["id"],
                                      "status": "archived", "action": "archive"})
    deliver("ShipmentTrackingUpdated", {"merchant_id": merchant, "shipment_id": "shp_x"})
    assert get_order(merchant, order["id"]).json() == order


def test_a_cancelled_order_takes_no_new_shipment(merchant: str, stream: TableStream) -> None:
    order = new_order(merchant)
    cancel(merchant, order["id"])
    response = call(shipments_module.lambda_handler, api_event(
        "POST", "/v1/shipments", body=shipment_body(order_id=order["id"]), merchant_id=merchant))
    assert response.status == 409
    forward(stream)
    after = get_order(merchant, order["id"]).json()
    assert after["status"] == "cancelled" and after["shipment_ids"] == []
