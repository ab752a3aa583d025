"""`q` on the customer, order and shipment lists against moto (API.md): case and accents ignored,
from the search entries (never a Scan), one merchant's entries never another's, entries that follow
edits, merges, retention redaction and erasure, pages with cursors bound to their list, the bounds
of `q`, and `colis index-search` for records written before search existed."""

from __future__ import annotations

from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from cli import operations
from functions.shipments.handler import lambda_handler as shipments_api
from shared.dynamo import keys
from shared.platform import aws
from tests.apigw import api_event, call
from tests.component.customer_support import (
    FakeOrders,
    api,
    create,
    csv_bytes,
    import_file,
    listing,
    person,
    row,
)
from tests.component.orders_support import add_tracking, edit, list_orders, new_order
from tests.component.retention_support import (
    create_shipment,
    dynamodb_requests,
    new_merchant,
    run_schedule,
    travel,
)
from tests.component.test_retention_erasure import erase
from tests.factories import address


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    return new_merchant()


def names(response: Any) -> list[str]:
    assert response.status == 200, response.body
    return sorted(f"{c.get('first_name')} {c.get('last_name')}" for c in response.json()["items"])


def entries(partition: str) -> list[dict[str, Any]]:
    return aws.table().query(KeyConditionExpression=Key(keys.PK).eq(partition))["Items"]


def customer_terms(merchant: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for entry in entries(keys.customer_search_partition(merchant)):
        found.setdefault(str(entry["customer_id"]), set()).add(str(entry["term"]))
    return found


def order_terms(merchant: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for entry in entries(keys.order_search_partition(merchant)):
        found.setdefault(str(entry["order_id"]), set()).add(str(entry["term"]))
    return found


@pytest.fixture
def people(merchant: str) -> dict[str, str]:
    created = {}
    for key, body in {
        "lea": {"email": "Lea.Muller@Example.com", "first_name": "Léa", "last_name": "Müller", "tags": ["vip"]},
        "leah": {"username": "leah_92", "first_name": "Leah", "last_name": "Ørsted"},
        "jp": {"email": "jp@example.fr", "first_name": "Jean-Pierre", "last_name": "Straße"},
        "wang": {"email": "wang@example.cn", "name": "王小明"},
        "zoe": {"username": "zoe", "first_name": "ZOË", "last_name": "Lefèvre"},
    }.items():
        response = create(merchant, **body)
        assert response.status == 201, response.body
        created[key] = response.json()["id"]
    return created


# --- customers --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("q", "found"), [
    ("lea", ["Leah Ørsted", "Léa Müller"]),
    ("LÉA", ["Leah Ørsted", "Léa Müller"]),
    ("léa mü", ["Léa Müller"]),
    ("muller", ["Léa Müller"]),
    ("MÜLLER lea", ["Léa Müller"]),
    ("orsted", ["Leah Ørsted"]),
    ("lea.muller@ex", ["Léa Müller"]),
    ("LEA.MULLER@EXAMPLE.COM", ["Léa Müller"]),
    ("leah_", ["Leah Ørsted"]),
    ("pierre", ["Jean-Pierre Straße"]),
    ("jean-p", ["Jean-Pierre Straße"]),
    ("strasse", ["Jean-Pierre Straße"]),
    ("王", ["None None"]),
    ("zoe lefevre", ["ZOË Lefèvre"]),
    ("zoe", ["ZOË Lefèvre"]),  # its name and its username: once
    ("uller", []),  # a beginning of a word, not any part
    ("lea ørsted x", []),
])
def test_customers_are_found_by_name_email_or_username_whatever_the_case_and_accents(
        merchant: str, people: dict[str, str], q: str, found: list[str]) -> None:
    assert names(listing(merchant, q=q)) == found


def test_q_combines_with_the_other_filters(merchant: str, people: dict[str, str]) -> None:
    assert names(listing(merchant, q="lea", tag="vip")) == ["Léa Müller"]
    assert names(listing(merchant, q="lea", email="lea.muller@example.com")) == ["Léa Müller"]
    assert names(listing(merchant, q="orsted", email="lea.muller@example.com")) == []
    assert names(listing(merchant, q="leah", username="leah_92")) == ["Leah Ørsted"]


def test_the_search_reads_entries_and_records_never_a_scan(merchant: str, people: dict[str, str]) -> None:
    with dynamodb_requests() as calls:
        assert names(listing(merchant, q="lea")) == ["Leah Ørsted", "Léa Müller"]
    assert set(calls) <= {"Query", "BatchGetItem", "GetItem"}, calls
    assert calls["Query"] == 1


def test_another_merchants_customers_are_never_found(merchant: str, people: dict[str, str]) -> None:
    other = new_merchant("Other")
    assert names(listing(other, q="lea")) == []
    create(other, email="lea@other.example", first_name="Léa", last_name="Autre")
    assert names(listing(other, q="lea")) == ["Léa Autre"]
    assert names(listing(merchant, q="autre")) == []


def test_pages_follow_the_matched_words_with_cursors_bound_to_their_query(merchant: str) -> None:
    for n in range(7):
        assert create(merchant, email=f"anna{n}@example.com", first_name="Anna", last_name=f"Annabel{n}").status == 201
    seen: list[str] = []
    cursor = None
    while True:
        response = listing(merchant, q="ann", limit="3", **({"cursor": cursor} if cursor else {}))
        assert response.status == 200, response.body
        body = response.json()
        assert len(body["items"]) <= 3
        seen.extend(c["id"] for c in body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 7 and len(set(seen)) == 7  # each once, though each has three matching words
    first = listing(merchant, q="ann", limit="3").json()["next_cursor"]
    assert listing(merchant, q="anna", limit="3", cursor=first).status == 400
    assert listing(merchant, limit="3", cursor=first).status == 400


def test_a_rare_match_answers_within_a_read_budget_and_its_cursor_goes_on(merchant: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.customers import store

    for n in range(6):
        assert create(merchant, email=f"ann{n}@example.com", first_name=f"Ann{n}", last_name="Smith").status == 201
    monkeypatch.setattr(store, "SEARCH_READ_BUDGET", 2)
    pages, found, cursor = 0, [], None
    while True:
        # Read by its longest piece, `smith`: six entries, of which the fifth's record matches `ann5`.
        body = listing(merchant, q="smith ann5", limit="1", **({"cursor": cursor} if cursor else {})).json()
        pages, found, cursor = pages + 1, found + body["items"], body["next_cursor"]
        if not cursor:
            break
    assert [c["first_name"] for c in found] == ["Ann5"]
    assert pages > 2  # two entries a request (limit 1), and a page ends once the budget is read


@pytest.mark.parametrize("q", ["", "   ", "x" * 101])
def test_a_blank_or_overlong_q_is_422(merchant: str, q: str) -> None:
    response = listing(merchant, q=q)
    assert response.status == 422, response.body
    assert [e["field"] for e in response.json()["errors"]] == ["query.q"]
    if q and not q.strip():
        assert response.json()["errors"][0]["message"] == "must not be blank"


def test_a_q_of_control_characters_finds_nothing(merchant: str, people: dict[str, str]) -> None:
    assert names(listing(merchant, q="\x01")) == []


def test_an_edit_moves_the_entries(merchant: str, people: dict[str, str]) -> None:
    response = api(merchant, "PATCH", "/v1/customers/{customer_id}", customer_id=people["lea"],
                   body={"last_name": "Dubois", "email": "lea.dubois@example.com"})
    assert response.status == 200, response.body
    assert names(listing(merchant, q="muller")) == []
    assert names(listing(merchant, q="dubois")) == ["Léa Dubois"]
    assert names(listing(merchant, q="lea.dubois@")) == ["Léa Dubois"]
    assert customer_terms(merchant)[people["lea"]] == {"lea", "dubois", "lea.dubois@example.com"}


def test_a_merge_removes_the_absorbed_records_entries(merchant: str, people: dict[str, str]) -> None:
    from functions.customers import service
    from shared.customers.store import CustomerRepository

    service.merge(CustomerRepository(), FakeOrders(), merchant, people["wang"], [people["zoe"]])
    assert people["zoe"] not in customer_terms(merchant)
    # The master took the absorbed record's empty fields (first and last name, username).
    assert names(listing(merchant, q="lefevre")) == ["ZOË Lefèvre"]
    assert [c["id"] for c in listing(merchant, q="zoe").json()["items"]] == [people["wang"]]


def test_erasure_removes_the_entries_of_what_it_redacts(merchant: str, people: dict[str, str]) -> None:
    assert erase(merchant, people["lea"]).status == 200
    assert names(listing(merchant, q="muller")) == []
    assert names(listing(merchant, q="lea.muller")) == []
    # The first name is kept (DESIGN.md §1.6), and so is what search finds by it.
    assert customer_terms(merchant)[people["lea"]] == {"lea"}
    assert "müller" not in str(entries(keys.customer_search_partition(merchant))).casefold()
    assert "muller" not in str(entries(keys.customer_search_partition(merchant))).casefold()


def test_customers_imported_from_csv_are_found_and_their_updates_move_the_entries(merchant: str) -> None:
    created = import_file(merchant, csv_bytes([person("lmuller", "lea@example.com", **{"First Name": "Léa",
                                                                                        "Last Name": "Müller"})]))
    assert created["created"] == 1, created
    assert names(listing(merchant, q="muller")) == ["Léa Müller"]
    updated = import_file(merchant, csv_bytes([row(Username="lmuller", **{"Last Name": "Dubois"})]))
    assert updated["updated"] == 1, updated
    assert names(listing(merchant, q="muller")) == []
    assert names(listing(merchant, q="lmul dubois")) == ["Léa Dubois"]


# --- orders -----------------------------------------------------------------------------------------
def _order(merchant: str, number: str, first: str, last: str, email: str) -> dict[str, Any]:
    return new_order(merchant, order_number=number,
                     customer={"email": email, "first_name": first, "last_name": last},
                     billing_address=address(first_name=first, last_name=last),
                     shipping_address=address(first_name=first, last_name=last))


def order_numbers(response: Any) -> list[str]:
    assert response.status == 200, response.body
    return sorted(o["order_number"] for o in response.json()["items"])


def test_orders_are_found_by_number_customer_name_or_email(merchant: str) -> None:
    _order(merchant, "SO-1001", "Léa", "Müller", "lea@example.com")
    _order(merchant, "SO-1002", "Jörg", "Ångström", "jorg@example.de")
    _order(merchant, "WEB-77", "Lea", "Martin", "martin@example.fr")
    assert order_numbers(list_orders(merchant, q="so-100")) == ["SO-1001", "SO-1002"]
    assert order_numbers(list_orders(merchant, q="LEA")) == ["SO-1001", "WEB-77"]
    assert order_numbers(list_orders(merchant, q="lea muller")) == ["SO-1001"]
    assert order_numbers(list_orders(merchant, q="angstrom")) == ["SO-1002"]
    assert order_numbers(list_orders(merchant, q="jorg@")) == ["SO-1002"]
    assert order_numbers(list_orders(merchant, q="web-77", status="paid")) == ["WEB-77"]
    assert order_numbers(list_orders(merchant, q="web-77", status="open")) == []
    assert order_numbers(list_orders(merchant, q="lea", order_number="WEB-77")) == ["WEB-77"]
    assert order_numbers(list_orders(merchant, q="jorg", order_number="WEB-77")) == []
    assert order_numbers(list_orders(new_merchant("Other"), q="lea")) == []
    with dynamodb_requests() as calls:
        list_orders(merchant, q="lea")
    assert set(calls) <= {"Query", "BatchGetItem", "GetItem"} and calls["Query"] == 1, calls


@pytest.mark.parametrize("q", ["", "  ", "x" * 101])
def test_a_blank_or_overlong_q_on_orders_is_422(merchant: str, q: str) -> None:
    response = list_orders(merchant, q=q)
    assert response.status == 422, response.body


def test_a_renumbered_order_is_found_by_its_new_number_only(merchant: str) -> None:
    order = _order(merchant, "SO-1001", "Léa", "Müller", "lea@example.com")
    assert edit(merchant, order["id"], {"order_number": "SO-2001"}).status == 200
    assert order_numbers(list_orders(merchant, q="so-1")) == []
    assert order_numbers(list_orders(merchant, q="so-2")) == ["SO-2001"]


def test_retention_redaction_removes_the_orders_name_and_email_entries(merchant: str) -> None:
    order = _order(merchant, "SO-1001", "Léa", "Müller", "lea@example.com")
    assert add_tracking(merchant, order["id"], "3SYZXGSRCH001").status == 201
    travel(days=91)
    run_schedule()
    assert order_numbers(list_orders(merchant, q="muller")) == []
    assert order_numbers(list_orders(merchant, q="lea@")) == []
    assert order_numbers(list_orders(merchant, q="lea so-1001")) == ["SO-1001"]  # first name and number stay
    assert order_terms(merchant)[order["id"]] == {"so-1001", "lea"}


# --- shipments --------------------------------------------------------------------------------------
def test_shipments_are_found_by_a_part_of_the_recipients_name_whatever_its_accents(merchant: str) -> None:
    shipment = create_shipment(merchant, recipient=address(first_name="Léa", last_name="Müller"))
    create_shipment(merchant, recipient=address(first_name="Bob", last_name="Martin"))
    for q in ("lea", "LÉA MÜL", "uller", "muller"):
        response = call(shipments_api, api_event("GET", "/v1/shipments", query={"q": q}, merchant_id=merchant))
        assert response.status == 200, response.body
        assert [s["id"] for s in response.json()["items"]] == [shipment["id"]], q


# --- backfill -----------------------------------------------------------------------------------------
def _forget_entries(merchant: str) -> None:
    with aws.table().batch_writer() as writer:
        for partition in (keys.customer_search_partition(merchant), keys.order_search_partition(merchant)):
            for entry in entries(partition):
                writer.delete_item(Key={keys.PK: entry[keys.PK], keys.SK: entry[keys.SK]})


def test_index_search_writes_the_missing_entries_idempotently(merchant: str, people: dict[str, str]) -> None:
    _order(merchant, "SO-1001", "Léa", "Müller", "lea@example.com")
    before = (customer_terms(merchant), order_terms(merchant))
    found = names(listing(merchant, q="lea"))
    _forget_entries(merchant)
    assert names(listing(merchant, q="lea")) == [] and order_numbers(list_orders(merchant, q="so-")) == []
    first = operations.index_search()
    assert (customer_terms(merchant), order_terms(merchant)) == before
    assert names(listing(merchant, q="lea")) == found and len(found) == 3  # the order's customer too
    assert order_numbers(list_orders(merchant, q="so-")) == ["SO-1001"]
    assert operations.index_search() == first
    assert first == [{"merchant_id": merchant, "customer_entries": sum(map(len, before[0].values())),
                      "order_entries": sum(map(len, before[1].values())), "shipment_names_folded": 0}]


def test_index_search_folds_the_names_of_shipments_written_before(merchant: str) -> None:
    shipment = create_shipment(merchant, recipient=address(first_name="Léa", last_name="Müller"))
    key = keys.shipment(merchant, shipment["id"])
    aws.table().update_item(Key=key, UpdateExpression="SET name_search = :old", ExpressionAttributeValues={
        ":old": "léa müller"})  # as names were stored before: case folded only
    response = call(shipments_api, api_event("GET", "/v1/shipments", query={"q": "muller"}, merchant_id=merchant))
    assert response.json()["items"] == []
    assert operations.index_search(merchant)[0]["shipment_names_folded"] == 1
    response = call(shipments_api, api_event("GET", "/v1/shipments", query={"q": "muller"}, merchant_id=merchant))
    assert [s["id"] for s in response.json()["items"]] == [shipment["id"]]
    assert operations.index_search(merchant)[0]["shipment_names_folded"] == 0

