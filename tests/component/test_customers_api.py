"""Customer records against moto: unique identifiers (also under concurrent creation), stores,
reads and lists, PATCH, no DELETE, tags carried onto imported orders, merges rule by rule, and
duplicate candidates."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from functions.customers import merge_handler, service
from shared.customers.items import address_entry_item, claim_item
from shared.customers.rules import address_fingerprint
from shared.customers.store import CustomerRepository
from shared.dynamo import keys
from shared.events.outbox import outbox_events
from shared.merchants.store import MerchantRepository
from shared.platform import aws, clock
from shared.values.models import Address
from tests.component.customer_support import (
    FakeOrders,
    address,
    api,
    atomic_dynamodb,
    create,
    get,
    listing,
)


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    clock.use_fixed(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    return MerchantRepository().create("Atelier Lune").id


def _ids(response: Any) -> list[str]:
    return [c["id"] for c in response.json()["items"]]


# --- records and unique identifiers -----------------------------------------------------------------
def test_a_new_customer_is_manual_with_its_fields(merchant: str) -> None:
    response = create(merchant, username="camille.d", email="Camille@Example.fr", first_name="Camille",
                      last_name="Dupont", company="Atelier", phone="+33698765432", address=address(), tags=["vip"])
    assert response.status == 201
    customer = response.json()
    assert customer["id"].startswith("cus_") and customer["store"] == "manual" and customer["merged_into"] is None
    assert customer["email"] == "Camille@Example.fr" and customer["tags"] == ["vip"]
    assert customer["created_at"] == "2026-03-10T12:00:00Z" and customer["erased_at"] is None
    assert get(merchant, customer["id"]).json() == customer


def test_a_customer_of_a_sales_channel_keeps_its_store(merchant: str) -> None:
    assert create(merchant, email="a@example.com", store="shopify").json()["store"] == "shopify"


def test_a_customer_needs_a_username_or_an_email(merchant: str) -> None:
    response = create(merchant, first_name="Nobody")
    assert response.status == 422
    assert listing(merchant).json()["items"] == []


@pytest.mark.parametrize("body", [{"email": "not-an-email"}, {"username": "x", "tags": ["a;b"]},
                                  {"username": "x", "tags": [f"t{n}" for n in range(41)]},
                                  {"username": "x", "active": False}, {"username": "x", "store": ""}])
def test_invalid_customers_are_422(merchant: str, body: dict[str, Any]) -> None:
    assert create(merchant, **body).status == 422


def test_a_taken_username_is_409_and_nothing_is_written(merchant: str) -> None:
    first = create(merchant, username="camille", email="one@example.com").json()
    response = create(merchant, username="camille", email="two@example.com")
    assert response.status == 409 and first["id"] in response.json()["detail"]
    assert _ids(listing(merchant)) == [first["id"]]
    assert listing(merchant, email="two@example.com").json()["items"] == []


def test_emails_are_unique_case_insensitively(merchant: str) -> None:
    create(merchant, email="Camille.Dupont@Example.FR")
    assert create(merchant, email="camille.dupont@example.fr").status == 409
    assert create(merchant, username="other", email="CAMILLE.DUPONT@EXAMPLE.FR").status == 409


def test_usernames_compare_exactly_after_trimming(merchant: str) -> None:
    create(merchant, username="Camille")
    assert create(merchant, username="  Camille ").status == 409
    assert create(merchant, username="camille").status == 201  # only emails ignore case


def test_identifiers_are_unique_per_merchant_only(merchant: str) -> None:
    other = MerchantRepository().create("Other").id
    assert create(merchant, username="camille", email="c@example.fr").status == 201
    assert create(other, username="camille", email="c@example.fr").status == 201


def test_concurrent_creations_of_one_email_make_exactly_one_customer(merchant: str) -> None:
    barrier = threading.Barrier(8)

    def attempt(n: int) -> int:
        barrier.wait()
        return create(merchant, username=f"user{n}", email="Same@Example.com").status

    with atomic_dynamodb(), ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(attempt, range(8)))
    assert sorted(statuses) == [201] + [409] * 7
    assert len(listing(merchant).json()["items"]) == 1


def test_concurrent_order_imports_for_a_new_customer_share_one_record(merchant: str) -> None:
    customers = CustomerRepository()
    barrier = threading.Barrier(8)

    def import_order(n: int) -> str:
        barrier.wait()
        return customers.find_or_create_for_order(merchant, store="shopify", username=None, email="NEW@example.com",
                                                  first_name="Ana", last_name=None).id

    with atomic_dynamodb(), ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(import_order, range(8)))
    assert len(ids) == 1
    [customer] = listing(merchant).json()["items"]
    assert customer["id"] in ids and customer["store"] == "shopify" and customer["first_name"] == "Ana"


def test_order_import_matches_by_username_then_email_and_creates_with_the_orders_store(merchant: str) -> None:
    customers = CustomerRepository()
    known = create(merchant, username="ana", email="ana@example.com").json()
    by_username = customers.find_or_create_for_order(merchant, store="shopify", username="ana",
                                                     email="changed@example.com", first_name=None, last_name=None)
    by_email = customers.find_or_create_for_order(merchant, store="shopify", username="unknown",
                                                  email="ANA@example.com", first_name=None, last_name=None)
    new = customers.find_or_create_for_order(merchant, store="etsy", username=None, email="bo@example.com",
                                             first_name="Bo", last_name="Li")
    assert by_username.id == known["id"] == by_email.id
    assert new.store == "etsy" and new.id != known["id"]
    assert get(merchant, new.id).json()["store"] == "etsy"


def test_a_claim_left_by_a_crashed_import_is_taken_over_once_stale(merchant: str) -> None:
    customers = CustomerRepository()
    claim = keys.customer_email(merchant, "lost@example.com")
    customers.batch_write([claim_item(claim, "email", "cus_neverwritten", import_id="imp_crashed")])
    assert create(merchant, email="lost@example.com").status == 409  # it may still be written
    clock.advance(timedelta(minutes=6))
    assert create(merchant, email="lost@example.com").status == 201


# --- reads and lists ----------------------------------------------------------------------------------
def test_list_by_username_email_or_tag(merchant: str) -> None:
    ana = create(merchant, username="ana", email="ana@example.com", tags=["vip", "wholesale"]).json()
    bo = create(merchant, username="bo", email="bo@example.com", tags=["vip"]).json()
    create(merchant, username="cy", email="cy@example.com")
    assert _ids(listing(merchant, username="ana")) == [ana["id"]]
    assert _ids(listing(merchant, email="BO@EXAMPLE.COM")) == [bo["id"]]
    assert _ids(listing(merchant, username="ana", email="bo@example.com")) == []
    assert _ids(listing(merchant, username="nobody")) == []
    assert set(_ids(listing(merchant, tag="vip"))) == {ana["id"], bo["id"]}
    assert _ids(listing(merchant, tag="wholesale")) == [ana["id"]]
    assert len(_ids(listing(merchant))) == 3


def test_lists_page_with_a_cursor_bound_to_the_merchant(merchant: str) -> None:
    for n in range(5):
        clock.advance(timedelta(seconds=1))
        create(merchant, username=f"u{n}", tags=["t"])
    first = listing(merchant, tag="t", limit="2").json()
    second = listing(merchant, tag="t", limit="2", cursor=first["next_cursor"]).json()
    assert len(first["items"]) == 2 and len(second["items"]) == 2
    assert not {c["id"] for c in first["items"]} & {c["id"] for c in second["items"]}
    other = MerchantRepository().create("Other").id
    assert listing(other, tag="t", cursor=first["next_cursor"]).status == 400
    assert listing(merchant, limit="101").status == 422


def test_another_merchants_customer_is_404(merchant: str) -> None:
    customer = create(merchant, username="ana").json()
    other = MerchantRepository().create("Other").id
    assert get(other, customer["id"]).status == 404
    assert get(merchant, "cus_unknown").status == 404


# --- PATCH, no DELETE, no deactivation ------------------------------------------------------------------
def test_patch_replaces_given_fields_and_null_clears(merchant: str) -> None:
    customer = create(merchant, username="ana", email="ana@example.com", first_name="Ana", phone="+331").json()
    response = api(merchant, "PATCH", "/v1/customers/{customer_id}", customer_id=customer["id"],
                   body={"last_name": "Lima", "phone": None, "address": address()})
    assert response.status == 200
    patched = response.json()
    assert patched["first_name"] == "Ana" and patched["last_name"] == "Lima" and patched["phone"] is None
    assert patched["address"]["city"] == "Lyon"


def test_patching_the_email_moves_its_uniqueness(merchant: str) -> None:
    customer = create(merchant, email="old@example.com").json()
    create(merchant, email="taken@example.com")
    path = {"customer_id": customer["id"]}
    assert api(merchant, "PATCH", "/v1/customers/{customer_id}", body={"email": "TAKEN@example.com"}, **path).status == 409
    assert api(merchant, "PATCH", "/v1/customers/{customer_id}", body={"email": "new@example.com"}, **path).status == 200
    assert _ids(listing(merchant, email="new@example.com")) == [customer["id"]]
    assert create(merchant, email="old@example.com").status == 201  # released


def test_a_customer_keeps_a_username_or_an_email(merchant: str) -> None:
    customer = create(merchant, email="ana@example.com").json()
    response = api(merchant, "PATCH", "/v1/customers/{customer_id}", customer_id=customer["id"], body={"email": None})
    assert response.status == 422


def test_customers_cannot_be_deleted_or_deactivated(merchant: str) -> None:
    customer = create(merchant, username="ana").json()
    response = api(merchant, "DELETE", "/v1/customers/{customer_id}", customer_id=customer["id"])
    assert response.status == 405 and response.headers["allow"] == "GET, PATCH"
    for body in ({"active": False}, {"status": "inactive"}, {"deleted": True}):
        assert api(merchant, "PATCH", "/v1/customers/{customer_id}", customer_id=customer["id"], body=body).status == 422
    assert get(merchant, customer["id"]).status == 200


# --- tags -------------------------------------------------------------------------------------------------
def test_put_tags_sets_and_removes(merchant: str) -> None:
    customer = create(merchant, username="ana", tags=["old"]).json()
    path = {"customer_id": customer["id"]}
    response = api(merchant, "PUT", "/v1/customers/{customer_id}/tags", body={"tags": ["vip", " fraud risk ", "vip"]}, **path)
    assert response.status == 200 and response.json()["tags"] == ["vip", "fraud risk"]
    assert _ids(listing(merchant, tag="old")) == []
    assert _ids(listing(merchant, tag="fraud risk")) == [customer["id"]]
    assert api(merchant, "PUT", "/v1/customers/{customer_id}/tags", body={"tags": []}, **path).json()["tags"] == []
    assert _ids(listing(merchant, tag="vip")) == []


def test_tags_are_carried_by_every_order_imported_afterwards(merchant: str) -> None:
    """Order import asks `find_or_create_for_order` for the customer and copies its tags."""
    customers = CustomerRepository()
    customer = create(merchant, username="ana", email="ana@example.com").json()
    before = customers.find_or_create_for_order(merchant, store="shopify", username="ana", email="ana@example.com",
                                                first_name=None, last_name=None)
    api(merchant, "PUT", "/v1/customers/{customer_id}/tags", customer_id=customer["id"], body={"tags": ["vip"]})
    after = customers.find_or_create_for_order(merchant, store="shopify", username=None, email="ANA@example.com",
                                               first_name=None, last_name=None)
    assert before.tags == [] and after.tags == ["vip"]


# --- merge ------------------------------------------------------------------------------------------------
def _merge(merchant: str, master_id: str, absorb: list[str], orders: FakeOrders | None = None,
           monkeypatch: pytest.MonkeyPatch | None = None) -> Any:
    if monkeypatch is not None:
        monkeypatch.setattr("functions.customers.handler._orders", lambda: orders or FakeOrders())
    return api(merchant, "POST", "/v1/customers/{customer_id}/merge", customer_id=master_id, body={"absorb": absorb})


@pytest.fixture
def orders(monkeypatch: pytest.MonkeyPatch) -> FakeOrders:
    fake = FakeOrders()
    monkeypatch.setattr("functions.customers.handler._orders", lambda: fake)
    return fake


def test_merge_fills_the_masters_empty_fields_and_keeps_its_values_on_conflicts(merchant: str, orders: FakeOrders) -> None:
    master = create(merchant, username="ana", first_name="Ana", phone="+3311", store="shopify").json()
    other = create(merchant, email="ana.l@example.com", first_name="Anna", last_name="Lima", company="Lima SA",
                   phone="+3399", address=address()).json()
    merged = _merge(merchant, master["id"], [other["id"]]).json()
    assert merged["id"] == master["id"] and merged["merged_into"] is None
    assert merged["first_name"] == "Ana" and merged["phone"] == "+3311" and merged["store"] == "shopify"
    assert merged["email"] == "ana.l@example.com" and merged["last_name"] == "Lima" and merged["company"] == "Lima SA"
    assert merged["address"]["city"] == "Lyon"


def test_merge_unites_tags_masters_first(merchant: str, orders: FakeOrders) -> None:
    master = create(merchant, username="a", tags=["vip", "eu"]).json()
    other = create(merchant, username="b", tags=["eu", "wholesale"]).json()
    assert _merge(merchant, master["id"], [other["id"]]).json()["tags"] == ["vip", "eu", "wholesale"]
    assert _ids(listing(merchant, tag="wholesale")) == [master["id"]]


def test_absorbed_ids_usernames_and_emails_resolve_to_the_master(merchant: str, orders: FakeOrders) -> None:
    master = create(merchant, username="ana", email="ana@example.com").json()
    other = create(merchant, username="ana2", email="Ana.Two@example.com").json()
    _merge(merchant, master["id"], [other["id"]])
    assert get(merchant, other["id"]).json()["id"] == master["id"]
    assert _ids(listing(merchant, username="ana2")) == [master["id"]]
    assert _ids(listing(merchant, email="ana.two@EXAMPLE.com")) == [master["id"]]
    assert _ids(listing(merchant)) == [master["id"]]  # the absorbed record stays, out of the list
    raw = CustomerRepository().find(merchant, other["id"])
    assert raw is not None and raw.merged_into == master["id"]
    # A new customer cannot take the absorbed identifiers back.
    assert create(merchant, username="ana2").status == 409
    # New orders under the absorbed email land on the master.
    found = CustomerRepository().find_or_create_for_order(merchant, store="shopify", username=None,
                                                          email="ANA.TWO@example.com", first_name=None, last_name=None)
    assert found.id == master["id"]


def test_merge_relinks_orders_of_the_absorbed_records(merchant: str, orders: FakeOrders) -> None:
    master = create(merchant, username="a").json()
    b, c = create(merchant, username="b").json(), create(merchant, username="c").json()
    orders.add(master["id"], 2)
    orders.add(b["id"], 3)
    orders.add(c["id"], 4)
    assert _merge(merchant, master["id"], [b["id"], c["id"]]).status == 200
    assert len(orders.orders_of(master["id"])) == 9
    assert orders.orders_of(b["id"]) == orders.orders_of(c["id"]) == []


def test_a_master_with_more_orders_than_a_transaction_holds_merges_in_batches(merchant: str) -> None:
    """Inline relinking stops at its deadline; the CustomerMerged worker continues, repeatedly if
    its own time runs out, until every order points at the master."""
    customers, orders = CustomerRepository(), FakeOrders()
    master = create(merchant, username="big").json()
    absorbed = create(merchant, username="bigger").json()
    orders.add(master["id"], 150)
    absorbed_orders = orders.add(absorbed["id"], 2_500)  # 25 transactions' worth
    merged = service.merge(customers, orders, merchant, master["id"], [absorbed["id"]], relink_seconds=0)
    assert merged.id == master["id"] and len(orders.orders_of(absorbed["id"])) == 2_500  # nothing inline
    event = {"detail": {"merchant_id": merchant, "master_id": master["id"], "absorbed_id": absorbed["id"]}}
    with pytest.raises(merge_handler.RelinkUnfinished):
        merge_handler.relink(event, remaining_seconds=0, orders=orders, customers=customers)  # one batch, then out of time
    assert 0 < len(orders.orders_of(master["id"])) - 150 < 2_500
    merge_handler.relink(event, remaining_seconds=600, orders=orders, customers=customers)  # the retry finishes
    assert orders.orders_of(absorbed["id"]) == []
    assert set(absorbed_orders) <= set(orders.orders_of(master["id"]))
    calls = orders.relink_calls
    merge_handler.relink(event, remaining_seconds=600, orders=orders, customers=customers)  # duplicate event: no-op
    assert orders.relink_calls == calls


def test_a_retried_merge_continues_where_it_stopped(merchant: str, orders: FakeOrders,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    master = create(merchant, username="a").json()
    b, c = create(merchant, username="b", tags=["x"]).json(), create(merchant, username="c", tags=["y"]).json()
    orders.add(b["id"], 3)
    real = CustomerRepository.absorb
    calls = {"n": 0}

    def crash_on_second(self: CustomerRepository, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("Lambda crashed")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(CustomerRepository, "absorb", crash_on_second)
    assert _merge(merchant, master["id"], [b["id"], c["id"]]).status == 500
    monkeypatch.setattr(CustomerRepository, "absorb", real)
    retried = _merge(merchant, master["id"], [b["id"], c["id"]])
    assert retried.status == 200 and retried.json()["tags"] == ["x", "y"]
    assert orders.orders_of(master["id"]) and not orders.orders_of(b["id"])


@pytest.mark.parametrize("case", ["itself", "into_absorbed", "already_absorbed_elsewhere"])
def test_refused_merges_are_409_and_change_nothing(merchant: str, orders: FakeOrders, case: str) -> None:
    a, b, c = (create(merchant, username=n).json() for n in ("a", "b", "c"))
    _merge(merchant, a["id"], [b["id"]])
    master, absorb = {"itself": (c["id"], [c["id"]]), "into_absorbed": (b["id"], [c["id"]]),
                      "already_absorbed_elsewhere": (c["id"], [b["id"]])}[case]
    before = {n: CustomerRepository().find(merchant, x["id"]) for n, x in (("a", a), ("b", b), ("c", c))}
    response = _merge(merchant, master, absorb)
    assert response.status == 409, response.body
    assert {n: CustomerRepository().find(merchant, x["id"]) for n, x in (("a", a), ("b", b), ("c", c))} == before


def test_merging_an_unknown_customer_is_404(merchant: str, orders: FakeOrders) -> None:
    a = create(merchant, username="a").json()
    assert _merge(merchant, a["id"], ["cus_unknown"]).status == 404
    assert _merge(merchant, "cus_unknown", [a["id"]]).status == 404


def test_merging_again_what_is_already_merged_is_harmless(merchant: str, orders: FakeOrders) -> None:
    a, b = create(merchant, username="a").json(), create(merchant, username="b").json()
    first = _merge(merchant, a["id"], [b["id"]]).json()
    again = _merge(merchant, a["id"], [b["id"]])
    assert again.status == 200 and again.json()["tags"] == first["tags"]


def test_a_chain_of_merges_resolves_to_the_last_master(merchant: str, orders: FakeOrders) -> None:
    a, b, c = (create(merchant, username=n).json() for n in ("a", "b", "c"))
    orders.add(c["id"], 2)
    _merge(merchant, b["id"], [c["id"]])
    _merge(merchant, a["id"], [b["id"]])
    assert get(merchant, c["id"]).json()["id"] == a["id"]
    assert _ids(listing(merchant, username="c")) == [a["id"]]
    assert sorted(CustomerRepository().absorbed_ids(merchant, a["id"])) == sorted([b["id"], c["id"]])
    # The first merge's worker runs late: the orders go to the current master.
    merge_handler.relink({"detail": {"merchant_id": merchant, "master_id": b["id"], "absorbed_id": c["id"]}},
                         remaining_seconds=600, orders=orders, customers=CustomerRepository())
    assert len(orders.orders_of(a["id"])) == 2


def test_a_merge_event_is_written_with_the_merge(merchant: str, orders: FakeOrders) -> None:
    a, b = create(merchant, username="a").json(), create(merchant, username="b").json()
    _merge(merchant, a["id"], [b["id"]])
    item = aws.table().get_item(Key=keys.customer(merchant, a["id"]))["Item"]
    assert item["outbox"]["detail_type"] == "CustomerMerged"
    assert outbox_events(item["outbox"]) == [{"merchant_id": merchant, "master_id": a["id"], "absorbed_id": b["id"]}]


# --- duplicates ---------------------------------------------------------------------------------------------
def test_fingerprints_ignore_case_spacing_punctuation_and_accents() -> None:
    one = Address(address_1="12, Rue de l'Église", city="Lyon", postal_code="69 003", country="fr")
    two = Address(address_1="12 RUE DE L EGLISE", city="LYON", postal_code="69003", country="FR")
    other = Address(address_1="14 rue de l'Église", city="Lyon", postal_code="69003", country="FR")
    assert address_fingerprint(one) == address_fingerprint(two) != address_fingerprint(other)
    assert "eglise" not in address_fingerprint(one).casefold()  # no address in index keys


def _order_address(merchant: str, order_id: str, customer_id: str, email: str, **overrides: Any) -> None:
    """What order import puts for each imported order's shipping address."""
    aws.table().put_item(Item=address_entry_item(merchant, order_id, customer_id, email,
                                                 Address(**address(**overrides))))


def test_duplicates_are_customers_sharing_an_address_under_different_emails(merchant: str) -> None:
    ana = create(merchant, email="ana@example.com", address=address(address_1="12, rue des Lilas")).json()
    anna = create(merchant, email="anna.l@example.com").json()
    bo = create(merchant, email="bo@example.com", address=address(address_1="3 quai Voltaire", postal_code="75007",
                                                                   city="Paris")).json()
    cy = create(merchant, email="cy@example.com").json()
    _order_address(merchant, "ord_1", anna["id"], "anna.l@example.com", address_1="12 RUE DES LILAS")
    _order_address(merchant, "ord_2", ana["id"], "ana@example.com")  # same customer again: no group by itself
    _order_address(merchant, "ord_3", cy["id"], "cy@example.com", address_1="99 avenue Foch", postal_code="75016")
    response = api(merchant, "GET", "/v1/customers/duplicates")
    assert response.status == 200
    groups = response.json()["groups"]
    assert [sorted(c["id"] for c in g["customers"]) for g in groups] == [sorted([ana["id"], anna["id"]])]
    assert groups[0]["address_key"].startswith("FR-")
    assert bo["id"] not in str(groups)


def test_merged_duplicates_are_no_longer_candidates(merchant: str, orders: FakeOrders) -> None:
    ana = create(merchant, email="ana@example.com", address=address()).json()
    anna = create(merchant, email="anna@example.com", address=address()).json()
    assert len(api(merchant, "GET", "/v1/customers/duplicates").json()["groups"]) == 1
    _merge(merchant, ana["id"], [anna["id"]])
    assert api(merchant, "GET", "/v1/customers/duplicates").json()["groups"] == []


def test_duplicates_page_by_group_and_are_served_by_a_query(merchant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(3):
        for who in ("a", "b"):
            create(merchant, email=f"{who}{n}@example.com", address=address(address_1=f"{n} rue Haute"))
    table = aws.table()
    scans: list[Any] = []
    monkeypatch.setattr(type(table), "scan", lambda *a, **k: scans.append(k))
    first = api(merchant, "GET", "/v1/customers/duplicates", query={"limit": "2"}).json()
    second = api(merchant, "GET", "/v1/customers/duplicates", query={"limit": "2", "cursor": first["next_cursor"]}).json()
    assert len(first["groups"]) == 2 and len(second["groups"]) == 1 and second["next_cursor"] is None
    assert not scans
    entries = table.query(IndexName="gsi2", KeyConditionExpression=Key("gsi2pk").eq(keys.addresses_of_merchant(merchant)))
    assert entries["Count"] == 6


def test_changing_a_customers_address_moves_its_entry(merchant: str) -> None:
    ana = create(merchant, email="ana@example.com", address=address()).json()
    create(merchant, email="anna@example.com", address=address())
    api(merchant, "PATCH", "/v1/customers/{customer_id}", customer_id=ana["id"],
        body={"address": address(address_1="1 place Bellecour")})
    assert api(merchant, "GET", "/v1/customers/duplicates").json()["groups"] == []

