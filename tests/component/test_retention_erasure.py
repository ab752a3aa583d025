"""Redaction beyond the shipment item, and erasure on request, against moto: the order a shipment
fulfils (addresses, email, address changes in its activity log, its duplicate-address entry), the
notification records, and `POST /v1/customers/{id}/erase` on a customer with merged records,
orders and shipments."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.retention import erasure
from functions.retention.actions import Repositories
from functions.retention.erase_handler import lambda_handler as erase_api
from shared.customers.store import CustomerRepository
from shared.dynamo import keys
from shared.errors import Unavailable
from shared.notifications.model import NotificationTarget
from shared.notifications.store import NotificationRepository
from shared.orders.store import OrderRepository
from shared.platform import aws, clock
from tests.apigw import ApiResponse, api_event, call
from tests.component.customer_support import api as customers_api
from tests.component.orders_support import activity, add_tracking, edit, get_order, new_order
from tests.component.retention_support import get_shipment, new_merchant, run_schedule, travel
from tests.factories import address

PERSONAL = ("Martin", "Bellecour", "Lilas", "69002", "69003", "+33698765432", "lea.martin@example.fr",
            "camille@example.fr")


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    return new_merchant()


def erase(merchant: str, customer_id: str) -> ApiResponse:
    return call(erase_api, api_event("POST", "/v1/customers/{customer_id}/erase", path_params={"customer_id": customer_id},
                                     merchant_id=merchant))


def holds_personal_data(value: Any) -> list[str]:
    text = json.dumps(value, default=str)
    return [p for p in PERSONAL if p in text]


def order_items(merchant: str, order_id: str) -> list[dict[str, Any]]:
    from boto3.dynamodb.conditions import Key

    return aws.table().query(KeyConditionExpression=Key(keys.PK).eq(keys.order_partition(merchant, order_id)))["Items"]


# --- the order a shipment fulfils -----------------------------------------------------------------
def _shipped_order(merchant: str, number: str) -> tuple[dict[str, Any], dict[str, Any]]:
    order = new_order(merchant)
    changed = edit(merchant, order["id"], {"shipping_address": address(first_name="Léa", last_name="Martin",
                                                                       address_1="3 place Bellecour", postal_code="69002",
                                                                       phone="+33611223344", email="lea.martin@example.fr")})
    assert changed.status == 200, changed.body
    NotificationRepository().claim(NotificationTarget(merchant, "order_cancelled", order_id=order["id"]),
                                   language="fr", recipient_email="lea.martin@example.fr")
    shipment = add_tracking(merchant, order["id"], number).json()["shipment"]
    NotificationRepository().claim(NotificationTarget(merchant, "ready_to_ship", shipment_id=shipment["id"]),
                                   language="fr", recipient_email="lea.martin@example.fr")
    return order, shipment


def _legacy_address_change(merchant: str, order_id: str) -> None:
    """An activity entry that logged values (what the orders area avoids): retention redacts it too."""
    aws.table().put_item(Item={**keys.order_activity(merchant, order_id, 999, 0), "id": "act_legacy", "type": "edited",
                               "at": "2026-03-10T12:00:00.000Z",
                               "changes": [{"field": "billing_address", "from": "12 rue des Lilas, 69003 Lyon",
                                            "to": "3 place Bellecour, 69002 Lyon"},
                                           {"field": "lines.unit_price", "sku": "LAMP-01", "from": "40.00", "to": "45.00"}]})


def test_the_order_its_log_and_its_emails_are_redacted_with_the_shipment(merchant: str) -> None:
    order, shipment = _shipped_order(merchant, "3SYZXGORD0001")
    _legacy_address_change(merchant, order["id"])
    assert aws.table().get_item(Key=keys.address_entry(merchant, order["id"])).get("Item") is not None
    travel(days=90)
    run_schedule()
    after = get_order(merchant, order["id"]).json()
    for which in ("shipping_address", "billing_address"):
        assert after[which]["first_name"] == "Léa" and after[which]["city"] == "Lyon"
        assert {after[which][f] for f in ("last_name", "address_1", "postal_code", "phone", "email")} == {"redacted"}
    assert after["customer"]["email"] == "redacted" and after["customer"]["last_name"] == "redacted"
    assert after["customer"]["first_name"] == "Léa" and after["redacted_at"] is not None
    assert holds_personal_data(after) == []
    log = activity(merchant, order["id"], limit="100").json()["items"]
    assert holds_personal_data(log) == []
    legacy = next(entry for entry in log if entry.get("changes") and len(entry["changes"]) == 2)
    assert legacy["changes"][1] == {"field": "lines.unit_price", "sku": "LAMP-01", "from": "40.00", "to": "45.00"}
    notifications = NotificationRepository()
    assert [n.recipient_email for n in notifications.for_order(merchant, order["id"])] == ["redacted"]
    assert [n.recipient_email for n in notifications.for_shipment(merchant, shipment["id"])] == ["redacted"]
    assert aws.table().get_item(Key=keys.address_entry(merchant, order["id"])).get("Item") is None
    assert holds_personal_data(order_items(merchant, order["id"])) == []
    assert get_shipment(merchant, shipment["id"]).json()["recipient"]["last_name"] == "redacted"


def test_an_order_redacted_once_is_not_written_again(merchant: str) -> None:
    order, _ = _shipped_order(merchant, "3SYZXGORD0002")
    travel(days=90)
    run_schedule()
    version = OrderRepository().get(merchant, order["id"], consistent=True).version
    erasure._erase_order(Repositories.default(), merchant, order["id"], clock.now())
    assert OrderRepository().get(merchant, order["id"], consistent=True).version == version


def test_new_data_on_a_redacted_order_is_redacted_again(merchant: str) -> None:
    order, _ = _shipped_order(merchant, "3SYZXGORD0003")
    travel(days=90)
    run_schedule()
    edit(merchant, order["id"], {"billing_address": address(first_name="Léa", last_name="Martin")})
    erasure._erase_order(Repositories.default(), merchant, order["id"], clock.now())
    assert get_order(merchant, order["id"]).json()["billing_address"]["last_name"] == "redacted"


# --- erasure on request ---------------------------------------------------------------------------
@pytest.fixture
def customer(merchant: str) -> dict[str, Any]:
    """Léa with an address, two orders (one shipped), and an absorbed duplicate that has its own order."""
    created = customers_api(merchant, "POST", "/v1/customers", body={
        "username": "lea.martin", "email": "lea.martin@example.fr", "first_name": "Léa", "last_name": "Martin",
        "phone": "+33698765432", "company": "Atelier Léa", "address": address(first_name="Léa", last_name="Martin"),
        "tags": ["vip"]})
    assert created.status == 201, created.body
    duplicate = customers_api(merchant, "POST", "/v1/customers", body={
        "email": "l.martin@example.fr", "last_name": "Martin", "address": address()}).json()
    shipped = new_order(merchant)
    other = new_order(merchant)
    assert shipped["customer_id"] == other["customer_id"] == created.json()["id"]
    duplicate_order = new_order(merchant, customer={"email": "l.martin@example.fr", "last_name": "Martin"})
    assert duplicate_order["customer_id"] == duplicate["id"]
    shipment = add_tracking(merchant, shipped["id"], "3SYZXGERASE01").json()["shipment"]
    merged = customers_api(merchant, "POST", "/v1/customers/{customer_id}/merge", customer_id=created.json()["id"],
                           body={"absorb": [duplicate["id"]]})
    assert merged.status == 200, merged.body
    return {"id": created.json()["id"], "duplicate_id": duplicate["id"], "orders": [shipped["id"], other["id"]],
            "duplicate_order": duplicate_order["id"], "shipment": shipment["id"]}


def test_erasure_redacts_the_customer_its_merged_records_orders_and_shipments_now(merchant: str,
                                                                                 customer: dict[str, Any]) -> None:
    stranger = new_order(merchant, customer={"email": "paul@example.fr", "first_name": "Paul", "last_name": "Durand"},
                         shipping_address=address(first_name="Paul", last_name="Durand"))
    response = erase(merchant, customer["id"])
    assert response.status == 200, response.body
    erased = response.json()
    assert erased["id"] == customer["id"] and erased["erased_at"] is not None
    assert (erased["first_name"], erased["last_name"], erased["email"], erased["phone"]) == \
        ("Léa", "redacted", "redacted", "redacted")
    assert (erased["username"], erased["company"], erased["tags"]) == ("lea.martin", "Atelier Léa", ["vip"])
    assert erased["address"]["address_1"] == "redacted" and erased["address"]["city"] == "Lyon"
    assert holds_personal_data(erased) == []
    absorbed = CustomerRepository().find(merchant, customer["duplicate_id"], consistent=True)
    assert absorbed is not None and absorbed.erased_at is not None and holds_personal_data(absorbed.model_dump()) == []
    for order_id in [*customer["orders"], customer["duplicate_order"]]:
        assert holds_personal_data(get_order(merchant, order_id).json()) == []
    assert get_shipment(merchant, customer["shipment"]).json()["recipient"]["last_name"] == "redacted"
    assert get_order(merchant, stranger["id"]).json()["shipping_address"]["last_name"] == "Durand"


def test_after_erasure_the_email_no_longer_finds_the_customer_nor_its_address_a_duplicate(
        merchant: str, customer: dict[str, Any]) -> None:
    customers = CustomerRepository()
    assert customers.find_by_email(merchant, "lea.martin@example.fr", consistent=True) is not None
    erase(merchant, customer["id"])
    assert customers.find_by_email(merchant, "lea.martin@example.fr", consistent=True) is None
    assert customers.find_by_email(merchant, "l.martin@example.fr", consistent=True) is None
    assert customers.find_by_username(merchant, "lea.martin", consistent=True).id == customer["id"]
    for owner in (customer["id"], customer["duplicate_id"], *customer["orders"]):
        assert aws.table().get_item(Key=keys.address_entry(merchant, owner)).get("Item") is None


def test_erasure_is_idempotent_and_an_absorbed_id_answers_with_its_master(merchant: str,
                                                                          customer: dict[str, Any]) -> None:
    first = erase(merchant, customer["id"]).json()
    travel(days=1)
    again = erase(merchant, customer["duplicate_id"])
    assert again.status == 200 and again.json() == first


def test_erasing_an_unknown_or_another_merchants_customer_is_404(merchant: str, customer: dict[str, Any]) -> None:
    assert erase(merchant, "cus_nope").status == 404
    other = new_merchant("Other")
    response = erase(other, customer["id"])
    assert response.status == 404 and response.headers["content-type"] == "application/problem+json"
    assert CustomerRepository().get(merchant, customer["id"]).erased_at is None


def test_an_erasure_cut_short_is_finished_by_the_same_request_again(merchant: str, customer: dict[str, Any]) -> None:
    budget = iter([60.0])
    with pytest.raises(Unavailable):
        erasure.erase_customer(Repositories.default(), CustomerRepository(), merchant, customer["id"], clock.now(),
                               seconds_left=lambda: next(budget, 0.0))
    assert holds_personal_data(get_order(merchant, customer["orders"][0]).json()) == []
    assert "Martin" in json.dumps(get_order(merchant, customer["orders"][1]).json())
    assert erase(merchant, customer["id"]).status == 200
    assert holds_personal_data(get_order(merchant, customer["orders"][1]).json()) == []



def test_an_erasure_right_after_a_shipment_was_created_for_the_customers_order_reaches_it(merchant: str) -> None:
    from functions.shipments.handler import lambda_handler as shipments_api
    from tests.factories import shipment_body

    order = new_order(merchant)
    body = shipment_body(order_id=order["id"], recipient=order["shipping_address"])
    created = call(shipments_api, api_event("POST", "/v1/shipments", body=body, merchant_id=merchant))
    assert created.status == 201, created.body
    # No stream and no worker ran: the shipment reaches the erasure through the order it was created for.
    assert erase(merchant, order["customer_id"]).status == 200
    recipient = get_shipment(merchant, created.json()["id"]).json()["recipient"]
    assert recipient["last_name"] == "redacted" and recipient["email"] == "redacted"
    assert holds_personal_data(recipient) == []
