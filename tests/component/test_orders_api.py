"""Orders API against moto: import, customer link, lists served by indexes, edits and their
warnings, notes and the activity log (DESIGN.md §1.3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from functions.customers import handler as customers_module
from shared.customers.store import CustomerRepository
from shared.merchants.model import FeeSettings
from shared.merchants.store import MerchantRepository
from shared.orders.store import OrderRepository
from shared.platform import clock
from tests.apigw import ApiResponse, api_event, call
from tests.component.orders_support import (
    activity,
    add_note,
    cancel,
    edit,
    get_order,
    import_order,
    list_orders,
    new_order,
    order_body,
)
from tests.factories import address


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    clock.use_fixed(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    return MerchantRepository().create("Atelier Lune").id


def create_customer(merchant: str, **body: Any) -> dict[str, Any]:
    response = call(customers_module.lambda_handler, api_event("POST", "/v1/customers", body=body,
                                                               merchant_id=merchant))
    assert response.status == 201, response.body
    return response.json()


def ids(response: ApiResponse) -> list[str]:
    assert response.status == 200, response.body
    return [o["id"] for o in response.json()["items"]]


# --- import ---------------------------------------------------------------------------------------
def test_an_imported_order_keeps_what_was_sent_and_gains_ids_statuses_totals_and_fee(merchant: str) -> None:
    body = order_body()
    response = import_order(merchant, body)
    assert response.status == 201
    order = response.json()
    assert order["id"].startswith("ord_") and order["customer_id"].startswith("cus_")
    for field in ("order_number", "store", "customer", "currency", "display_currency", "exchange_rate",
                  "payment_mode", "guarantee", "package_dimensions", "amounts"):
        assert order[field] == body[field], field
    assert order["billing_address"] == {**dict.fromkeys(("name", "company", "address_2", "region")),
                                        **body["billing_address"]}
    assert order["shipping_address"]["address_1"] == "3 place Bellecour"
    assert order["lines"][0] == body["lines"][0]
    assert (order["status"], order["refund_status"], order["total"]) == ("paid", "none", "120.00")
    assert order["refunded"] == {"subtotal": "0.00", "shipping": "0.00", "duties_taxes": "0.00", "total": "0.00"}
    # Colis fee on 120.00 with the default terms: 5 % + 0.30 = 6.30, of which 2.9 % = 3.48 is the card's.
    assert order["fee_terms"] == {"rate_percent": "5.0", "fixed": "0.30", "card_percent": "2.9"}
    assert order["fee"] == {"amount": "6.30", "card_part": "3.48", "returned": "0.00"}
    # 2 x 1.2 kg + 0.1 kg = 2.5 kg physical; 40 x 30 x 20 cm / 5000 = 4.8 kg dimensional.
    assert order["estimated_weight"] == {"value": "4.800", "unit": "kg"}
    assert order["shipment_ids"] == [] and order["created_at"] == "2026-03-10T12:00:00Z"
    assert get_order(merchant, order["id"]).json() == order


def test_amounts_are_shown_in_the_currency_precision(merchant: str) -> None:
    order = new_order(merchant, amounts={"subtotal": "100", "shipping": "9.9", "duties": "0", "taxes": "0"},
                      lines=[{"sku": "A", "name": "A", "quantity": 1, "unit_price": "100"}])
    assert order["amounts"] == {"subtotal": "100.00", "shipping": "9.90", "duties": "0.00", "taxes": "0.00"}
    assert order["lines"][0]["unit_price"] == "100.00" and order["total"] == "109.90"


def test_an_external_order_is_open(merchant: str) -> None:
    assert new_order(merchant, payment_mode="external")["status"] == "open"


def test_fee_terms_are_copied_from_settings_at_import(merchant: str) -> None:
    merchants = MerchantRepository()
    merchants.set_fees(merchant, FeeSettings(rate_percent=Decimal("4"), fixed=Decimal("0.25"),
                                             card_percent=Decimal("1.5")))
    order = new_order(merchant)
    assert order["fee_terms"] == {"rate_percent": "4", "fixed": "0.25", "card_percent": "1.5"}
    assert order["fee"] == {"amount": "5.05", "card_part": "1.80", "returned": "0.00"}
    merchants.set_fees(merchant, FeeSettings(rate_percent=Decimal("9")))
    assert get_order(merchant, order["id"]).json()["fee"]["amount"] == "5.05"


def test_the_order_is_linked_to_the_customer_by_username_else_by_email(merchant: str) -> None:
    by_username = create_customer(merchant, username="lea.martin", email="other@example.fr")
    by_email = create_customer(merchant, email="Paul.Henry@Example.fr")
    first = new_order(merchant)  # username lea.martin, email lea.martin@example.fr
    second = new_order(merchant, customer={"email": "paul.henry@example.fr"})
    assert first["customer_id"] == by_username["id"]
    assert second["customer_id"] == by_email["id"]


def test_a_missing_customer_is_created_as_a_record_of_the_orders_store(merchant: str) -> None:
    order = new_order(merchant, store="shopify-fr", customer={"username": "zoe", "email": "zoe@example.fr",
                                                              "first_name": "Zoé"})
    customer = CustomerRepository().get(merchant, order["customer_id"])
    assert (customer.store, customer.username, customer.email, customer.first_name) == \
        ("shopify-fr", "zoe", "zoe@example.fr", "Zoé")
    assert new_order(merchant, store="shopify-fr", customer={"username": "zoe", "email": "zoe@example.fr"}
                     )["customer_id"] == customer.id


def test_an_order_without_a_store_creates_a_manual_record(merchant: str) -> None:
    order = new_order(merchant, store=None, customer={"email": "sans.boutique@example.fr"})
    assert CustomerRepository().get(merchant, order["customer_id"]).store == "manual"


def test_the_customers_tags_are_copied_onto_orders_imported_afterwards(merchant: str) -> None:
    customer = create_customer(merchant, username="lea.martin", email="lea.martin@example.fr", tags=["vip", "b2b"])
    first = new_order(merchant)
    assert first["tags"] == ["vip", "b2b"]
    call(customers_module.lambda_handler, api_event("PUT", "/v1/customers/{customer_id}/tags",
                                                    path_params={"customer_id": customer["id"]},
                                                    body={"tags": ["wholesale"]}, merchant_id=merchant))
    assert new_order(merchant)["tags"] == ["wholesale"]
    assert get_order(merchant, first["id"]).json()["tags"] == ["vip", "b2b"]


def test_a_taken_order_number_is_409_and_nothing_is_written(merchant: str) -> None:
    new_order(merchant, order_number="#5000")
    response = import_order(merchant, order_number="#5000")
    assert response.status == 409 and "#5000" in response.json()["detail"]
    assert len(ids(list_orders(merchant))) == 1


def test_the_same_order_number_is_free_for_another_merchant(merchant: str) -> None:
    other = MerchantRepository().create("Other").id
    assert import_order(merchant, order_number="#1").status == 201
    assert import_order(other, order_number="#1").status == 201


@pytest.mark.parametrize("change", [
    {"amounts": {"subtotal": "100.001", "shipping": "0", "duties": "0", "taxes": "0"}},
    {"currency": "JPY"},  # the line prices and amounts have cents
    {"currency": "EURO"},
    {"display_currency": "USD", "exchange_rate": None},
    {"display_currency": None, "exchange_rate": "1.1"},
    {"exchange_rate": "0"},
    {"lines": []},
    {"lines": [{"sku": "A", "name": "A", "quantity": 1, "unit_price": "1"}] * 2},
    {"lines": [{"sku": "A", "name": "A", "quantity": 0, "unit_price": "1"}]},
    {"lines": [{"sku": "A", "name": "A", "quantity": 1, "unit_price": "1", "hs_code": "12"}]},
    {"customer": {"username": "x"}},
    {"customer": {"email": "not-an-email"}},
    {"payment_mode": "cash"},
    {"shipping_address": address(country="France")},
    {"estimated_weight": "3"},
    {"status": "shipped"},
])
def test_invalid_orders_are_422(merchant: str, change: dict[str, Any]) -> None:
    response = import_order(merchant, order_body(**change))
    assert response.status == 422, response.body
    assert response.headers["content-type"] == "application/problem+json"
    assert ids(list_orders(merchant)) == []


def test_malformed_json_is_400(merchant: str) -> None:
    assert import_order(merchant, "{not json").status == 400  # type: ignore[arg-type]


def test_another_merchants_order_is_404(merchant: str) -> None:
    order = new_order(merchant)
    other = MerchantRepository().create("Other").id
    assert get_order(other, order["id"]).status == 404
    assert edit(other, order["id"], {"order_number": "#9"}).status == 404
    assert add_note(other, order["id"], "hello").status == 404
    assert activity(other, order["id"]).status == 404
    assert cancel(other, order["id"]).status == 404
    assert get_order(merchant, "ord_unknown").status == 404


# --- lists ----------------------------------------------------------------------------------------
def test_lists_filter_by_status_number_customer_and_tag_newest_first(merchant: str) -> None:
    create_customer(merchant, username="lea.martin", email="lea.martin@example.fr", tags=["vip"])
    made = []
    for minute in range(4):
        clock.use_fixed(datetime(2026, 3, 10, 12, minute, tzinfo=UTC))
        made.append(new_order(merchant, payment_mode="external" if minute == 3 else "platform",
                              customer={"email": "paul@example.fr"} if minute == 2 else order_body()["customer"]))
    lea, paul = made[0]["customer_id"], made[2]["customer_id"]
    cancel(merchant, made[1]["id"])
    assert ids(list_orders(merchant)) == [o["id"] for o in reversed(made)]
    assert ids(list_orders(merchant, status="paid")) == [made[2]["id"], made[0]["id"]]
    assert ids(list_orders(merchant, status="cancelled")) == [made[1]["id"]]
    assert ids(list_orders(merchant, status="open")) == [made[3]["id"]]
    assert ids(list_orders(merchant, order_number=made[2]["order_number"])) == [made[2]["id"]]
    assert ids(list_orders(merchant, order_number="#nope")) == []
    assert ids(list_orders(merchant, customer_id=lea)) == [made[3]["id"], made[1]["id"], made[0]["id"]]
    assert ids(list_orders(merchant, customer_id=paul)) == [made[2]["id"]]
    assert ids(list_orders(merchant, tag="vip")) == [made[3]["id"], made[1]["id"], made[0]["id"]]
    assert ids(list_orders(merchant, tag="vip", status="paid")) == [made[0]["id"]]
    assert ids(list_orders(merchant, customer_id=lea, status="open", tag="vip")) == [made[3]["id"]]
    assert ids(list_orders(merchant, order_number=made[0]["order_number"], status="open")) == []
    assert list_orders(merchant, status="lost").status == 422


def test_list_pages_follow_the_cursor_and_a_cursor_from_elsewhere_is_400(merchant: str) -> None:
    made = []
    for minute in range(5):
        clock.use_fixed(datetime(2026, 3, 10, 12, minute, tzinfo=UTC))
        made.append(new_order(merchant)["id"])
    for query in ({}, {"status": "paid"}, {"customer_id": get_order(merchant, made[0]).json()["customer_id"]}):
        seen, cursor = [], None
        while True:
            page = list_orders(merchant, limit="2", **query, **({"cursor": cursor} if cursor else {})).json()
            seen += [o["id"] for o in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == list(reversed(made)), query
    cursor = list_orders(merchant, limit="1").json()["next_cursor"]
    assert list_orders(merchant, limit="1", status="paid", cursor=cursor).status == 400
    other = MerchantRepository().create("Other").id
    assert list_orders(other, limit="1", cursor=cursor).status == 400
    assert list_orders(merchant, limit="1", cursor=cursor[:-2] + "xx").status == 400


@pytest.mark.parametrize("limit", ["0", "101", "many"])
def test_limit_outside_1_to_100_is_422(merchant: str, limit: str) -> None:
    assert list_orders(merchant, limit=limit).status == 422


# --- edits ----------------------------------------------------------------------------------------
def test_an_address_edit_on_a_platform_order_warns_of_landed_cost_and_fraud_protection(merchant: str) -> None:
    order = new_order(merchant)
    moved = {**order_body()["shipping_address"], "address_1": "8 quai Saint-Vincent", "postal_code": "69001"}
    response = edit(merchant, order["id"], {"shipping_address": moved})
    assert response.status == 200
    assert response.json()["warnings"] == ["landed_cost_may_differ", "fraud_protection_void"]
    assert response.json()["order"]["shipping_address"]["address_1"] == "8 quai Saint-Vincent"
    assert get_order(merchant, order["id"]).json()["shipping_address"]["postal_code"] == "69001"


def test_an_address_edit_on_an_external_order_warns_of_landed_cost_only(merchant: str) -> None:
    order = new_order(merchant, payment_mode="external")
    response = edit(merchant, order["id"], {"billing_address": address(city="Villeurbanne")})
    assert response.json()["warnings"] == ["landed_cost_may_differ"]


def test_hs_code_or_price_edits_of_a_guarantee_order_warn_guarantee_void(merchant: str) -> None:
    guaranteed = new_order(merchant, guarantee=True)
    plain = new_order(merchant)
    change = {"lines": [{"sku": "LAMP-01", "hs_code": "9405.11", "unit_price": "38.00"}]}
    response = edit(merchant, guaranteed["id"], change)
    assert response.json()["warnings"] == ["guarantee_void"]
    assert response.json()["order"]["lines"][0] == {**guaranteed["lines"][0], "hs_code": "9405.11",
                                                         "unit_price": "38.00"}
    assert response.json()["order"]["amounts"] == guaranteed["amounts"]  # what was paid does not change
    assert edit(merchant, plain["id"], change).json()["warnings"] == []


def test_the_order_number_can_be_added_or_changed_and_stays_unique(merchant: str) -> None:
    order = new_order(merchant, order_number=None)
    other = new_order(merchant, order_number="#42")
    assert edit(merchant, order["id"], {"order_number": "#42"}).status == 409
    assert edit(merchant, order["id"], {"order_number": "#43"}).json()["order"]["order_number"] == "#43"
    assert edit(merchant, order["id"], {"order_number": "#44"}).status == 200
    assert ids(list_orders(merchant, order_number="#43")) == []
    assert ids(list_orders(merchant, order_number="#44")) == [order["id"]]
    assert edit(merchant, other["id"], {"order_number": "#43"}).status == 200  # freed by the change
    assert import_order(merchant, order_number="#44").status == 409


def test_estimated_weight_is_not_editable(merchant: str) -> None:
    order = new_order(merchant)
    response = edit(merchant, order["id"], {"estimated_weight": {"value": "1.000", "unit": "kg"}})
    assert response.status == 422
    assert "not editable" in json.dumps(response.json())
    assert get_order(merchant, order["id"]).json() == order


@pytest.mark.parametrize("body", [{"currency": "USD"}, {"order_number": None}, {"lines": [{"sku": "NOPE",
                                                                                          "hs_code": "940520"}]},
                                  {"lines": [{"sku": "LAMP-01", "unit_price": "1.001"}]}])
def test_other_invalid_edits_are_422(merchant: str, body: dict[str, Any]) -> None:
    order = new_order(merchant)
    assert edit(merchant, order["id"], body).status == 422
    assert get_order(merchant, order["id"]).json() == order


def test_a_cancelled_order_is_not_editable_but_takes_notes(merchant: str) -> None:
    order = new_order(merchant)
    assert cancel(merchant, order["id"]).status == 200
    response = edit(merchant, order["id"], {"order_number": "#999"})
    assert response.status == 409 and "notes" in response.json()["detail"]
    assert add_note(merchant, order["id"], "Le client a rappelé.").status == 201


# --- notes and the activity log -------------------------------------------------------------------
def test_the_activity_log_records_every_change_with_what_changed_oldest_first(merchant: str) -> None:
    order = new_order(merchant, order_number="#7")
    edit(merchant, order["id"], {"order_number": "#8"})
    note = add_note(merchant, order["id"], "Appeler avant livraison").json()
    edit(merchant, order["id"], {"shipping_address": {**order["shipping_address"], "postal_code": "69009",
                                                      "phone": "+33611111111"}})
    edit(merchant, order["id"], {"lines": [{"sku": "BULB-E27", "unit_price": "18.00"}]})
    cancel(merchant, order["id"], reason="Rupture de stock")
    entries = activity(merchant, order["id"]).json()["items"]
    assert [e["type"] for e in entries] == ["created", "edited", "note", "edited", "edited", "cancelled",
                                            "refunded"]
    assert entries[1]["changes"] == [{"field": "order_number", "from": "#7", "to": "#8"}]
    assert entries[2] == note and note["text"] == "Appeler avant livraison" and note["id"].startswith("note_")
    assert entries[3]["changes"] == [{"field": "shipping_address", "changed": ["postal_code", "phone"]}]
    assert entries[3]["details"] == {"warnings": ["landed_cost_may_differ", "fraud_protection_void"]}
    assert entries[4]["changes"] == [{"field": "lines.unit_price", "sku": "BULB-E27", "from": "20.00",
                                      "to": "18.00"}]
    assert entries[5]["text"] == "Rupture de stock"


def test_the_activity_log_holds_no_personal_data_the_order_no_longer_holds(merchant: str) -> None:
    order = new_order(merchant)
    edit(merchant, order["id"], {"shipping_address": address(address_1="1 rue Neuve", postal_code="69001")})
    edit(merchant, order["id"], {"shipping_address": address(address_1="2 rue Vieille", postal_code="69005")})
    log = json.dumps(activity(merchant, order["id"]).json())
    for old in ("3 place Bellecour", "69002", "1 rue Neuve", "69001", "2 rue Vieille", "lea.martin@example.fr"):
        assert old not in log


def test_the_activity_log_pages_oldest_first(merchant: str) -> None:
    order = new_order(merchant)
    for number in range(4):
        add_note(merchant, order["id"], f"note {number}")
    first = activity(merchant, order["id"], limit="3").json()
    second = activity(merchant, order["id"], limit="3", cursor=first["next_cursor"]).json()
    assert [e.get("text") for e in first["items"] + second["items"]] == [None, "note 0", "note 1", "note 2",
                                                                         "note 3"]
    assert second["next_cursor"] is None


def test_an_empty_note_is_422(merchant: str) -> None:
    order = new_order(merchant)
    assert add_note(merchant, order["id"], "   ").status == 422


# --- what other areas use -------------------------------------------------------------------------
def test_customer_merges_find_and_relink_a_customers_orders(merchant: str) -> None:
    first, second = new_order(merchant), new_order(merchant)
    stranger = new_order(merchant, customer={"email": "someone@example.fr"})
    orders = OrderRepository()
    absorbed = first["customer_id"]
    assert sorted(orders.order_ids_for_customer(merchant, absorbed)) == sorted([first["id"], second["id"]])
    assert orders.relink_customer(merchant, first["id"], absorbed, "cus_master") is True
    assert orders.relink_customer(merchant, first["id"], absorbed, "cus_master") is True  # idempotent
    assert orders.relink_customer(merchant, stranger["id"], absorbed, "cus_master") is False
    assert orders.relink_customer(merchant, "ord_missing", absorbed, "cus_master") is False
    assert list(orders.order_ids_for_customer(merchant, absorbed)) == [second["id"]]
    assert list(orders.order_ids_for_customer(merchant, "cus_master")) == [first["id"]]
    assert ids(list_orders(merchant, customer_id="cus_master")) == [first["id"]]
    assert activity(merchant, first["id"]).json()["items"][-1]["details"] == {
        "from_customer_id": absorbed, "to_customer_id": "cus_master"}


def test_a_customer_merge_through_the_customers_api_moves_the_orders_to_the_master(merchant: str) -> None:
    master = create_customer(merchant, username="lea.martin", email="lea.martin@example.fr")
    duplicate = create_customer(merchant, email="lea.m@example.fr")
    kept = new_order(merchant)
    moved = [new_order(merchant, customer={"email": "lea.m@example.fr"}) for _ in range(3)]
    assert {o["customer_id"] for o in moved} == {duplicate["id"]}
    response = call(customers_module.lambda_handler, api_event(
        "POST", "/v1/customers/{customer_id}/merge", path_params={"customer_id": master["id"]},
        body={"absorb": [duplicate["id"]]}, merchant_id=merchant))
    assert response.status == 200, response.body
    assert sorted(ids(list_orders(merchant, customer_id=master["id"]))) == sorted([kept["id"],
                                                                                  *(o["id"] for o in moved)])
    assert ids(list_orders(merchant, customer_id=duplicate["id"])) == []


def test_the_repository_gives_notifications_what_a_cancellation_email_needs(merchant: str) -> None:
    order = OrderRepository().get(merchant, new_order(merchant)["id"])
    assert (order.customer.email, order.shipping_address.language, order.shipping_address.country,
            order.order_number) == ("lea.martin@example.fr", "fr", "FR", order.order_number)


def test_orders_created_on_other_days_keep_their_creation_time(merchant: str) -> None:
    clock.use_fixed(datetime(2026, 3, 10, tzinfo=UTC) + timedelta(days=3, hours=1))
    assert new_order(merchant)["created_at"] == "2026-03-13T01:00:00Z"


# --- idempotent import ----------------------------------------------------------------------------
def _import_with_key(merchant: str, body: dict[str, Any], key: str) -> ApiResponse:
    from functions.orders import handler as orders_module

    return call(orders_module.lambda_handler, api_event("POST", "/v1/orders", body=body, merchant_id=merchant,
                                                        headers={"Idempotency-Key": key}))


def test_a_retried_import_with_the_same_key_answers_the_first_order_and_creates_nothing(merchant: str) -> None:
    body = order_body(order_number=None)
    first = _import_with_key(merchant, body, "storefront-42")
    again = _import_with_key(merchant, body, "storefront-42")
    assert first.status == again.status == 201
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert ids(list_orders(merchant)) == [first.json()["id"]]
    other = _import_with_key(merchant, body, "storefront-43")  # a new key is a new order
    assert other.status == 201 and other.json()["id"] != first.json()["id"]


def test_the_same_key_with_another_body_is_409_and_changes_nothing(merchant: str) -> None:
    first = _import_with_key(merchant, order_body(order_number=None), "k-1")
    changed = order_body(order_number=None)
    changed["customer"]["email"] = "someone.else@example.fr"
    refused = _import_with_key(merchant, changed, "k-1")
    assert refused.status == 409 and refused.headers["content-type"] == "application/problem+json"
    assert ids(list_orders(merchant)) == [first.json()["id"]]


def test_import_keys_are_per_merchant_and_expire_after_a_day(merchant: str) -> None:
    other = MerchantRepository().create("Other Shop").id
    body = order_body(order_number=None)
    mine = _import_with_key(merchant, body, "shared-key").json()["id"]
    theirs = _import_with_key(other, body, "shared-key")
    assert theirs.status == 201 and theirs.json()["id"] != mine
    clock.use_fixed(clock.now() + timedelta(hours=25))
    later = _import_with_key(merchant, body, "shared-key")
    assert later.status == 201 and "idempotent-replayed" not in later.headers
    assert later.json()["id"] != mine
