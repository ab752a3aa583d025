"""Customers with the real orders domain: tags carried onto orders imported afterwards, a merge
relinking more orders than a transaction holds, and order addresses as duplicate candidates."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from functions.customers import merge_handler
from shared.customers.store import CustomerRepository
from shared.dynamo import keys
from shared.merchants.store import MerchantRepository
from shared.orders.store import OrderRepository, order_from_item, order_to_item
from shared.platform import aws, clock
from tests.component.customer_support import address, api, create
from tests.component.orders_support import list_orders, new_order


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    clock.use_fixed(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    return MerchantRepository().create("Atelier Lune").id


def _customer(username: str | None, email: str) -> dict[str, Any]:
    found = {"email": email, "first_name": "Léa", "last_name": "Martin"}
    return {**found, "username": username} if username else found


def test_tags_are_copied_onto_every_order_imported_afterwards(merchant: str) -> None:
    customer = create(merchant, username="lea.martin", email="lea.martin@example.fr").json()
    before = new_order(merchant, customer=_customer("lea.martin", "lea.martin@example.fr"))
    api(merchant, "PUT", "/v1/customers/{customer_id}/tags", customer_id=customer["id"], body={"tags": ["vip", "eu"]})
    by_username = new_order(merchant, customer=_customer("lea.martin", "other@example.fr"))
    by_email = new_order(merchant, customer=_customer(None, "LEA.MARTIN@example.fr"))
    assert before["tags"] == [] and before["customer_id"] == customer["id"]
    assert by_username["tags"] == by_email["tags"] == ["vip", "eu"]
    assert {by_username["customer_id"], by_email["customer_id"]} == {customer["id"]}
    assert {o["id"] for o in list_orders(merchant, tag="vip").json()["items"]} == {by_username["id"], by_email["id"]}


def test_an_order_for_a_new_customer_creates_a_record_of_its_store(merchant: str) -> None:
    order = new_order(merchant, store="etsy", customer=_customer("new.one", "new.one@example.fr"))
    record = api(merchant, "GET", "/v1/customers/{customer_id}", customer_id=order["customer_id"]).json()
    assert record["store"] == "etsy" and record["username"] == "new.one" and record["first_name"] == "Léa"


def test_orders_of_an_absorbed_customer_land_on_the_master(merchant: str) -> None:
    master = create(merchant, username="lea.martin", email="lea.martin@example.fr", tags=["vip"]).json()
    other = create(merchant, username="lea2", email="lea2@example.fr").json()
    api(merchant, "POST", "/v1/customers/{customer_id}/merge", customer_id=master["id"], body={"absorb": [other["id"]]})
    order = new_order(merchant, customer=_customer("lea2", "lea2@example.fr"))
    assert order["customer_id"] == master["id"] and order["tags"] == ["vip"]


def _clone_orders(merchant: str, template: dict[str, Any], count: int) -> list[str]:
    """Copies of an imported order (same customer), written directly: importing 150 orders one by
    one through moto's transactions would take minutes."""
    table = aws.table()
    item = table.get_item(Key=keys.order(merchant, template["id"]))["Item"]
    base = order_from_item(item)
    ids = []
    with table.batch_writer() as batch:
        for n in range(count):
            copy = base.model_copy(update={"id": f"{base.id}x{n:04d}", "order_number": None})
            batch.put_item(Item=order_to_item(merchant, copy))
            ids.append(copy.id)
    return ids


def test_a_merge_relinks_more_orders_than_one_transaction_holds(merchant: str) -> None:
    master = create(merchant, username="lea.martin", email="lea.martin@example.fr").json()
    absorbed = create(merchant, username="lea2", email="lea2@example.fr").json()
    first = new_order(merchant, customer=_customer("lea2", "lea2@example.fr"))
    orders = [first["id"], *_clone_orders(merchant, first, 149)]
    response = api(merchant, "POST", "/v1/customers/{customer_id}/merge", customer_id=master["id"],
                   body={"absorb": [absorbed["id"]]})
    assert response.status == 200, response.body
    # Whatever the request did not relink inline, the CustomerMerged worker does (idempotently).
    merge_handler.relink({"detail": {"merchant_id": merchant, "master_id": master["id"], "absorbed_id": absorbed["id"]}},
                         remaining_seconds=600, orders=OrderRepository(), customers=CustomerRepository())
    repository = OrderRepository()
    assert list(repository.order_ids_for_customer(merchant, absorbed["id"])) == []
    assert sorted(repository.order_ids_for_customer(merchant, master["id"])) == sorted(orders)
    assert all(repository.get(merchant, o).customer_id == master["id"] for o in orders[:5])
    page = list_orders(merchant, customer_id=master["id"], limit="100").json()
    assert len(page["items"]) == 100 and page["next_cursor"]


def test_order_addresses_make_duplicate_candidates(merchant: str) -> None:
    """Two customers whose orders ship to one address (written differently) under different emails."""
    ana = new_order(merchant, customer=_customer("ana", "ana@example.fr"),
                    shipping_address=address(address_1="3, Place Bellecour", postal_code="69002"))
    bob = new_order(merchant, customer=_customer("bob", "bob@example.fr"),
                    shipping_address=address(address_1="3 place bellecour", postal_code="69 002"))
    new_order(merchant, customer=_customer("cy", "cy@example.fr"), shipping_address=address(address_1="9 rue Neuve"))
    groups = api(merchant, "GET", "/v1/customers/duplicates").json()["groups"]
    assert [sorted(c["id"] for c in g["customers"]) for g in groups] == [sorted([ana["customer_id"], bob["customer_id"]])]
