"""Where orders and shipments meet (DESIGN.md §1.3): a shipment created with `order_id` ships its order
in the same write; a tracking number added by hand takes an existing shipment only when it is free
(or already this order's) and addressed to the order's shipping address; a shipment made from an
order carries what the customer's emails need; a privacy export never holds another customer's data."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from functions.shipments import handler as shipments_module
from shared.merchants.store import MerchantRepository
from shared.platform import clock
from tests.apigw import ApiResponse, api_event, call
from tests.component.notify_pipeline import Outbox, TableStream, notify, recording_outbox
from tests.component.orders_support import (
    activity,
    add_tracking,
    cancel,
    deliver,
    get_order,
    new_order,
    order_body,
    refunds_of,
)
from tests.factories import address, shipment_body, tracking_number

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    clock.use_fixed(NOW)
    return MerchantRepository().create("Atelier Lune").id


@pytest.fixture
def stream(aws_env: dict[str, Any]) -> TableStream:
    return TableStream(aws_env["TABLE_NAME"])


def post_shipment(merchant: str, number: str | None = None, **overrides: Any) -> ApiResponse:
    body = shipment_body(**overrides)
    if number is not None:
        body["parcels"] = [{"tracking_number": number}]
    return call(shipments_module.lambda_handler, api_event("POST", "/v1/shipments", body=body, merchant_id=merchant))


def get_shipment(merchant: str, shipment_id: str) -> dict[str, Any]:
    response = call(shipments_module.lambda_handler, api_event("GET", "/v1/shipments/{shipment_id}",
                                                               path_params={"shipment_id": shipment_id},
                                                               merchant_id=merchant))
    assert response.status == 200, response.body
    return dict(response.json())


def void_label(merchant: str, shipment_id: str) -> ApiResponse:
    return call(shipments_module.lambda_handler, api_event("POST", "/v1/shipments/{shipment_id}/void-label",
                                                           path_params={"shipment_id": shipment_id},
                                                           merchant_id=merchant))


def forward(stream: TableStream) -> None:
    """The shipment events the outbox published, handed to the orders' rule target."""
    for event in stream.published("ShipmentCreated", "ShipmentStatusChanged"):
        deliver(event.detail_type, event.as_delivered()["detail"])


def log_types(merchant: str, order_id: str) -> list[str]:
    return [entry["type"] for entry in activity(merchant, order_id).json()["items"]]


# --- 1. a shipment with order_id links its order in the same write -------------------------------------
def test_from_its_201_on_the_order_is_shipped_and_names_the_shipment(merchant: str) -> None:
    order = new_order(merchant)
    response = post_shipment(merchant, order_id=order["id"])
    assert response.status == 201, response.body
    shipment = response.json()
    after = get_order(merchant, order["id"]).json()  # no stream, no worker: the one write did it
    assert after["status"] == "shipped" and after["shipment_ids"] == [shipment["id"]]
    [shipped] = [e for e in activity(merchant, order["id"]).json()["items"] if e["type"] == "shipped"]
    assert shipped["details"] == {"shipment_id": shipment["id"]}


def test_a_cancel_right_after_the_201_is_409_shipped_and_refunds_nothing(merchant: str) -> None:
    order = new_order(merchant)
    shipment = post_shipment(merchant, order_id=order["id"]).json()
    response = cancel(merchant, order["id"])
    assert response.status == 409
    assert "shipped" in response.json()["detail"] and shipment["id"] in response.json()["detail"]
    assert refunds_of(merchant, order["id"]).json()["items"] == []
    assert get_order(merchant, order["id"]).json()["status"] == "shipped"


def test_the_stream_event_of_a_shipment_linked_at_creation_changes_nothing(merchant: str, stream: TableStream) -> None:
    order = new_order(merchant, payment_mode="external")
    shipment = post_shipment(merchant, order_id=order["id"]).json()
    linked, log = get_order(merchant, order["id"]).json(), log_types(merchant, order["id"])
    forward(stream)
    deliver("ShipmentCreated", {"merchant_id": merchant, "shipment_id": shipment["id"], "order_id": order["id"]})
    assert get_order(merchant, order["id"]).json() == linked
    assert log_types(merchant, order["id"]) == log == ["created", "shipped"]


def test_a_second_shipment_of_a_shipped_order_is_added_to_it(merchant: str) -> None:
    order = new_order(merchant)
    first = post_shipment(merchant, order_id=order["id"]).json()
    second = post_shipment(merchant, order_id=order["id"]).json()
    after = get_order(merchant, order["id"]).json()
    assert after["status"] == "shipped" and after["shipment_ids"] == [first["id"], second["id"]]


def test_voiding_the_only_label_returns_the_order_to_paid(merchant: str, stream: TableStream) -> None:
    order = new_order(merchant)
    shipment = post_shipment(merchant, order_id=order["id"]).json()
    assert void_label(merchant, shipment["id"]).status == 200
    forward(stream)
    assert get_order(merchant, order["id"]).json()["status"] == "paid"
    assert cancel(merchant, order["id"]).status == 200


def _nothing_created(merchant: str, number: str) -> None:
    """The number is still free: the refused request wrote no shipment and no number item."""
    assert post_shipment(merchant, number).status == 201


def test_an_unknown_order_id_is_422_naming_the_field_and_creates_nothing(merchant: str) -> None:
    number = tracking_number()
    response = post_shipment(merchant, order_id="ord_doesnotexist", number=number)
    assert response.status == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.order_id"]
    _nothing_created(merchant, number)


def test_another_merchants_order_is_refused_exactly_like_an_unknown_one(merchant: str) -> None:
    other = MerchantRepository().create("Autre Boutique").id
    foreign = new_order(other)
    unknown = post_shipment(merchant, order_id="ord_doesnotexist")
    response = post_shipment(merchant, order_id=foreign["id"])
    assert response.status == unknown.status == 422
    assert response.json()["detail"] == unknown.json()["detail"].replace("ord_doesnotexist", foreign["id"])
    assert get_order(other, foreign["id"]).json() == foreign


def test_a_cancelled_order_is_409_and_gets_no_shipment(merchant: str) -> None:
    order = new_order(merchant)
    assert cancel(merchant, order["id"]).status == 200
    number = tracking_number()
    response = post_shipment(merchant, order_id=order["id"], number=number)
    assert response.status == 409 and "cancelled" in response.json()["detail"]
    after = get_order(merchant, order["id"]).json()
    assert after["status"] == "cancelled" and after["shipment_ids"] == []
    _nothing_created(merchant, number)


def test_a_taken_tracking_number_leaves_the_order_unshipped(merchant: str) -> None:
    taken = post_shipment(merchant).json()["parcels"][0]["tracking_number"]
    order = new_order(merchant)
    response = post_shipment(merchant, order_id=order["id"], number=taken)
    assert response.status == 409
    assert get_order(merchant, order["id"]).json() == order


# --- 2. a tracking number added by hand ---------------------------------------------------------------
def test_a_free_shipment_addressed_to_the_order_is_linked_with_the_address_normalised(merchant: str) -> None:
    order = new_order(merchant)
    # The order ships to "3 place Bellecour, 69002": the same address typed another way.
    existing = post_shipment(merchant, recipient=address(first_name="Léa", last_name="Martin",
                                                         address_1="3, PLACE  Bellecour", postal_code="69 002",
                                                         country="fr")).json()
    response = add_tracking(merchant, order["id"], existing["parcels"][0]["tracking_number"])
    assert response.status == 201, response.body
    assert response.json()["shipment"]["order_id"] == order["id"]
    assert response.json()["order"]["shipment_ids"] == [existing["id"]]
    assert get_shipment(merchant, existing["id"])["order_id"] == order["id"]
    assert get_order(merchant, order["id"]).json()["status"] == "shipped"


def test_a_shipment_addressed_to_someone_else_is_409_and_stays_theirs(merchant: str) -> None:
    theirs = post_shipment(merchant, recipient=address(first_name="Noé", last_name="Petit",
                                                       address_1="8 rue Mercière", postal_code="69002",
                                                       email="noe.petit@example.fr")).json()
    order = new_order(merchant)
    response = add_tracking(merchant, order["id"], theirs["parcels"][0]["tracking_number"])
    assert response.status == 409
    assert "recipient" in response.json()["detail"] and "shipping address" in response.json()["detail"]
    assert get_shipment(merchant, theirs["id"]) == theirs
    assert get_order(merchant, order["id"]).json() == order


def test_a_shipment_of_another_order_is_409_whatever_its_address(merchant: str) -> None:
    first = new_order(merchant)
    second = new_order(merchant)  # same customer, same shipping address
    shipment = post_shipment(merchant, order_id=first["id"], recipient=first["shipping_address"]).json()
    response = add_tracking(merchant, second["id"], shipment["parcels"][0]["tracking_number"])
    assert response.status == 409 and first["id"] in response.json()["detail"]
    assert get_order(merchant, second["id"]).json() == second


def test_the_tracking_number_of_a_shipment_already_this_orders_is_accepted_again(merchant: str) -> None:
    order = new_order(merchant)
    shipment = post_shipment(merchant, order_id=order["id"], recipient=order["shipping_address"]).json()
    response = add_tracking(merchant, order["id"], shipment["parcels"][0]["tracking_number"])
    assert response.status == 201
    assert response.json()["order"]["shipment_ids"] == [shipment["id"]]
    assert log_types(merchant, order["id"]) == ["created", "shipped"]


def test_a_shipment_made_from_the_order_carries_its_address_email_and_language(merchant: str) -> None:
    shipping = address(first_name="Léa", last_name="Martin", address_1="3 place Bellecour", postal_code="69002",
                       email=None, language=None, phone=None)
    order = new_order(merchant, **order_body(
        shipping_address=shipping, billing_address=address(first_name="Léa", last_name="Martin", language="de")))
    shipment = add_tracking(merchant, order["id"], tracking_number()).json()["shipment"]
    recipient = shipment["recipient"]
    assert (recipient["address_1"], recipient["postal_code"], recipient["last_name"]) == \
        ("3 place Bellecour", "69002", "Martin")
    assert recipient["email"] == order["customer"]["email"]
    assert recipient["language"] == "de"


def test_the_customer_of_a_shipment_made_from_the_order_gets_its_email(merchant: str, stream: TableStream,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    outbox: Outbox = recording_outbox(monkeypatch)
    shipping = address(first_name="Léa", last_name="Martin", address_1="3 place Bellecour", postal_code="69002",
                       email=None)
    order = new_order(merchant, **order_body(shipping_address=shipping))
    add_tracking(merchant, order["id"], tracking_number())
    [created] = stream.published("ShipmentCreated")
    assert notify(created)["outcomes"] == {"ready_to_ship": "sent"}
    assert [email.to for email in outbox.sent] == [order["customer"]["email"]]


# --- a privacy export holds nothing of another customer -----------------------------------------------
def test_a_privacy_export_never_holds_another_customers_shipment(merchant: str) -> None:
    from tests.export_support import export_file

    theirs = post_shipment(merchant, recipient=address(first_name="Noé", last_name="Petit",
                                                       address_1="8 rue Mercière", postal_code="69002",
                                                       email="noe.petit@example.fr", phone="+33611223344")).json()
    order = new_order(merchant)
    assert add_tracking(merchant, order["id"], theirs["parcels"][0]["tracking_number"]).status == 409
    own = add_tracking(merchant, order["id"], tracking_number()).json()["shipment"]
    text = export_file(merchant, {"type": "customer_data", "customer_id": order["customer_id"],
                                  "format": "json"}).decode("utf-8")
    document = json.loads(text)
    assert [s["id"] for s in document["shipments"]] == [own["id"]]
    assert all(trace not in text for trace in ("Petit", "noe.petit@example.fr", "+33611223344", "8 rue Mercière",
                                               theirs["id"], theirs["parcels"][0]["tracking_number"]))


def test_a_privacy_export_leaves_out_a_named_shipment_that_belongs_to_another_order(merchant: str) -> None:
    """Links written before these rules existed: an order may name a shipment another order owns."""
    from shared.orders.store import OrderRepository
    from tests.export_support import export_file

    order, other = new_order(merchant), new_order(merchant, **order_body(
        customer={"username": "noe", "email": "noe.petit@example.fr", "last_name": "Petit"}))
    theirs = post_shipment(merchant, order_id=other["id"], recipient=address(last_name="Petit",
                                                                             email="noe.petit@example.fr")).json()
    orders = OrderRepository()
    stale = orders.get(merchant, order["id"], consistent=True)
    _force_shipment_ids(orders, merchant, stale, [theirs["id"]])
    text = export_file(merchant, {"type": "customer_data", "customer_id": order["customer_id"],
                                  "format": "json"}).decode("utf-8")
    assert json.loads(text)["shipments"] == []
    assert "noe.petit@example.fr" not in text and theirs["parcels"][0]["tracking_number"] not in text


def _force_shipment_ids(orders: Any, merchant: str, order: Any, shipment_ids: list[str]) -> None:
    from shared.orders.store import order_to_item

    changed = order.model_copy(update={"shipment_ids": shipment_ids})
    orders.table.put_item(Item=order_to_item(merchant, changed))
