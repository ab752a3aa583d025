"""Customer exports against moto: the privacy export of one customer (JSON, or a zip of CSV tables)
holds everything about them and nothing about anyone else, also when another customer shares the
address or the batch; the customer list export is the import template and re-imports unchanged."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.notifications.model import NotificationState, NotificationTarget
from shared.notifications.store import NotificationRepository
from shared.platform import clock
from shared.shipments.model import TrackingEvent
from shared.shipments.store import ShipmentRepository
from tests.component.customer_support import all_customers, import_file
from tests.component.customer_support import api as customers_api
from tests.component.orders_support import add_note, add_tracking, new_order, order_body, refund
from tests.export_support import create_shipment, csv_rows, export_file, new_merchant, post_export
from tests.factories import address


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    return new_merchant()


SHARED_ADDRESS = {"address_1": "12 rue des Lilas", "city": "Lyon", "postal_code": "69003", "country": "FR"}


def customer_order(merchant: str, who: str, batch: str) -> dict[str, Any]:
    """An order of customer `who` at the shared address, shipped in batch `batch`, with a refund,
    a note, a tracking event and an email on record."""
    email = f"{who}@example.fr"
    person = {"first_name": who.capitalize(), "last_name": f"{who.capitalize()}son", "email": email,
              "phone": "+336" + "".join(str(ord(c) % 10) for c in who).ljust(8, "7")}
    order = new_order(merchant, **order_body(
        customer={"username": who, "email": email, "first_name": person["first_name"],
                  "last_name": person["last_name"]},
        billing_address=address(**SHARED_ADDRESS, **person), shipping_address=address(**SHARED_ADDRESS, **person)))
    shipment = create_shipment(merchant, batch_id=batch, order_id=order["id"],
                               recipient=address(**SHARED_ADDRESS, **person), parcels=2)
    linked = add_tracking(merchant, order["id"], shipment.parcels[0].tracking_number)
    assert linked.status == 201, linked.body
    assert add_note(merchant, order["id"], f"note about {who}").status == 201
    assert refund(merchant, order["id"], {"amounts": {"subtotal": "10.00"}, "reason": "damaged"},
                  key=f"refund-{who}").status == 201
    ShipmentRepository().record_event(merchant, shipment.id, TrackingEvent(
        parcel_id=shipment.parcels[0].id, tracking_number=shipment.parcels[0].tracking_number, status="in_transit",
        carrier_code="PCH", carrier_message="Pris en charge", occurred_at=datetime(2026, 3, 10, 15, tzinfo=UTC),
        received_at=clock.now(), location="Lyon"), dedup_key=f"evt-{who}")
    notifications = NotificationRepository()
    notifications.claim(NotificationTarget(merchant, "in_transit", shipment_id=shipment.id), language="fr",
                        recipient_email=email, state=NotificationState.sent)
    notifications.claim(NotificationTarget(merchant, "order_cancelled", order_id=order["id"]), language="fr",
                        recipient_email=email, state=NotificationState.skipped, reason="not asked")
    return {"order": order, "shipment": shipment, "customer_id": order["customer_id"], "email": email,
            "username": who, "phone": person["phone"], "last_name": person["last_name"]}


def traces_of(record: dict[str, Any]) -> list[str]:
    """Strings that would only be in a file if something of that customer leaked into it."""
    shipment = record["shipment"]
    return [record["email"], record["username"], record["last_name"], record["phone"], record["customer_id"],
            record["order"]["id"], record["order"]["order_number"], shipment.id,
            *(p.tracking_number for p in shipment.parcels), f"note about {record['username']}"]


@pytest.fixture
def neighbours(merchant: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Léa and her neighbour Noé: same address, shipments in the same batch."""
    return customer_order(merchant, "lea", "B-1"), customer_order(merchant, "noe", "B-1")


def privacy_export(merchant: str, customer_id: str, file_format: str) -> bytes:
    return export_file(merchant, {"type": "customer_data", "customer_id": customer_id, "format": file_format})


# --- privacy export --------------------------------------------------------------------------------
def test_the_json_privacy_export_holds_the_customer_their_orders_shipments_and_emails(
        merchant: str, neighbours: tuple[dict[str, Any], dict[str, Any]]) -> None:
    lea, _ = neighbours
    document = json.loads(privacy_export(merchant, lea["customer_id"], "json"))
    assert list(document) == ["customer", "orders", "shipments", "notifications"]
    assert (document["customer"]["id"], document["customer"]["email"]) == (lea["customer_id"], lea["email"])
    [order] = document["orders"]
    assert order["id"] == lea["order"]["id"]
    assert [line["sku"] for line in order["lines"]] == ["LAMP-01", "BULB-E27"]
    assert order["billing_address"]["address_1"] == order["shipping_address"]["address_1"] == "12 rue des Lilas"
    assert [(r["amounts"]["subtotal"], r["reason"]) for r in order["refunds"]] == [("10.00", "damaged")]
    assert [note["text"] for note in order["notes"]] == ["note about lea"]
    [shipment] = document["shipments"]
    assert shipment["id"] == lea["shipment"].id and len(shipment["parcels"]) == 2
    assert [(e["status"], e["carrier_message"]) for e in shipment["events"]] == [("in_transit", "Pris en charge")]
    assert sorted((n["milestone"], n["state"], n["recipient_email"]) for n in document["notifications"]) == [
        ("in_transit", "sent", lea["email"]), ("order_cancelled", "skipped", lea["email"])]


def test_the_json_privacy_export_holds_nothing_of_a_neighbour_in_the_same_batch(
        merchant: str, neighbours: tuple[dict[str, Any], dict[str, Any]]) -> None:
    lea, noe = neighbours
    text = privacy_export(merchant, lea["customer_id"], "json").decode("utf-8")
    assert all(trace in text for trace in traces_of(lea))
    leaked = [trace for trace in traces_of(noe) if trace in text]
    assert leaked == []


def csv_tables(data: bytes) -> dict[str, list[dict[str, str]]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {name.removesuffix(".csv"): csv_rows(archive.read(name)) for name in archive.namelist()}


def test_the_csv_privacy_export_is_a_zip_of_one_table_each(merchant: str,
                                                           neighbours: tuple[dict[str, Any], dict[str, Any]]) -> None:
    lea, _ = neighbours
    tables = csv_tables(privacy_export(merchant, lea["customer_id"], "csv"))
    assert list(tables) == ["customer", "orders", "order_lines", "refunds", "notes", "shipments", "tracking_events",
                            "notifications"]
    assert [(r["id"], r["email"], r["address.postal_code"]) for r in tables["customer"]] == [
        (lea["customer_id"], lea["email"], "")]
    [order] = tables["orders"]
    assert (order["id"], order["billing_address.postal_code"], order["customer.email"]) == (
        lea["order"]["id"], '="69003"', lea["email"])
    assert [(r["order_id"], r["sku"], r["quantity"]) for r in tables["order_lines"]] == [
        (lea["order"]["id"], "LAMP-01", "2"), (lea["order"]["id"], "BULB-E27", "1")]
    assert [(r["amounts.subtotal"], r["reason"]) for r in tables["refunds"]] == [("10.00", "damaged")]
    assert [r["text"] for r in tables["notes"]] == ["note about lea"]
    assert [r["parcel_index"] for r in tables["shipments"]] == ["1", "2"]
    assert tables["shipments"][0]["recipient_phone"] == "'" + lea["phone"]
    assert [r["status"] for r in tables["tracking_events"]] == ["in_transit"]
    assert len(tables["notifications"]) == 2


def test_the_csv_privacy_export_holds_nothing_of_a_neighbour(merchant: str,
                                                             neighbours: tuple[dict[str, Any], dict[str, Any]]) -> None:
    lea, noe = neighbours
    with zipfile.ZipFile(io.BytesIO(privacy_export(merchant, lea["customer_id"], "csv"))) as archive:
        text = "".join(archive.read(name).decode("utf-8-sig") for name in archive.namelist())
    assert [trace for trace in traces_of(noe) if trace in text] == []
    assert all(trace in text for trace in traces_of(lea))


def test_a_customer_without_orders_exports_their_record_alone(merchant: str) -> None:
    created = customers_api(merchant, "POST", "/v1/customers", body={"email": "solo@example.fr", "first_name": "Solo"})
    document = json.loads(privacy_export(merchant, created.json()["id"], "json"))
    assert document["customer"]["email"] == "solo@example.fr"
    assert (document["orders"], document["shipments"], document["notifications"]) == ([], [], [])


def test_the_privacy_export_of_a_merged_record_is_its_master_s_with_the_merged_records(merchant: str) -> None:
    master = customers_api(merchant, "POST", "/v1/customers", body={"email": "lea@example.fr"}).json()
    absorbed = customers_api(merchant, "POST", "/v1/customers", body={"email": "lea.m@example.fr"}).json()
    merged = customers_api(merchant, "POST", "/v1/customers/{customer_id}/merge", body={"absorb": [absorbed["id"]]},
                           customer_id=master["id"])
    assert merged.status == 200, merged.body
    document = json.loads(privacy_export(merchant, absorbed["id"], "json"))
    assert document["customer"]["id"] == master["id"]
    assert [r["email"] for r in document["customer"]["merged_records"]] == ["lea.m@example.fr"]


# --- customer list ---------------------------------------------------------------------------------
TEMPLATE_HEADER = ["Username", "Email", "First Name", "Last Name", "Full Name", "Company Name", "Phone",
                   "Address Line 1", "Address Line 2", "City", "State", "Postal Code", "Country Code", "Tags"]
# After the template's columns, what the import ignores.
EXTRA_HEADER = ["Customer ID", "Store", "Created At", "Erased At"]


def customer_list(merchant: str) -> bytes:
    return export_file(merchant, {"type": "customers", "format": "csv"})


def test_the_customer_list_is_in_the_import_template_s_columns(merchant: str) -> None:
    created = customers_api(merchant, "POST", "/v1/customers", body={
        "username": "00042", "email": "zoe@example.fr", "first_name": "Zoé", "last_name": "Müller",
        "company": "=Lune SARL", "phone": "+33612345678", "tags": ["vip", "lyon"],
        "address": {"address_1": "3 quai Voltaire", "address_2": "Bât. B", "city": "Lyon", "postal_code": "01234",
                    "country": "FR"}})
    data = customer_list(merchant)
    assert data.decode("utf-8-sig").split("\r\n", 1)[0].split(",") == TEMPLATE_HEADER + EXTRA_HEADER
    [row] = csv_rows(data)
    assert [row.pop(name) for name in EXTRA_HEADER] == [created.json()["id"], "manual", "2026-03-10T12:00:00Z", ""]
    # First on its line: no wrapper (a `;`-splitting spreadsheet would glue the line to it).
    assert row == {"Username": "00042", "Email": "zoe@example.fr", "First Name": "Zoé", "Last Name": "Müller",
                   "Full Name": "", "Company Name": "'=Lune SARL", "Phone": "'+33612345678",
                   "Address Line 1": "3 quai Voltaire", "Address Line 2": "Bât. B", "City": "Lyon", "State": "",
                   "Postal Code": '="01234"', "Country Code": "FR", "Tags": "vip;lyon"}


def test_the_customer_list_holds_masters_only_and_only_this_merchant_s(merchant: str) -> None:
    master = customers_api(merchant, "POST", "/v1/customers", body={"email": "a@example.fr"}).json()
    absorbed = customers_api(merchant, "POST", "/v1/customers", body={"email": "b@example.fr"}).json()
    customers_api(merchant, "POST", "/v1/customers/{customer_id}/merge", body={"absorb": [absorbed["id"]]},
                  customer_id=master["id"])
    other = new_merchant("Other shop")
    customers_api(other, "POST", "/v1/customers", body={"email": "c@example.fr"})
    assert [r["Email"] for r in csv_rows(customer_list(merchant))] == ["a@example.fr"]


def test_the_customer_list_re_imports_unchanged(merchant: str) -> None:
    bodies = [
        {"username": "00042", "email": "zoe@example.fr", "first_name": "Zoé", "last_name": "Müller",
         "company": "-Lune, Fils & Cie", "phone": "+33612345678", "tags": ["vip", "lyon"],
         "address": {"address_1": "3 quai Voltaire", "address_2": "Bât. B\nporte 2", "city": "Lyon",
                     "postal_code": "01234", "country": "FR"}},
        {"email": "ana@example.com", "name": "Ana Lima", "phone": "0612345678",
         "address": {"address_1": "1 Main St", "city": "Austin", "region": "TX", "postal_code": "73301",
                     "country": "US"}},
        {"username": "shop-1", "email": "shop@example.com", "company": "@Shop", "store": "shopify"},
    ]
    for body in bodies:
        assert customers_api(merchant, "POST", "/v1/customers", body=body).status == 201
    before = all_customers(merchant)
    data = customer_list(merchant)
    assert len(csv_rows(data)) == 3
    report = import_file(merchant, data)
    assert report["status"] == "done", report
    # Every row matches its record and would change nothing: unchanged, the shopify one too (an
    # import only refuses to *change* records of other stores), and nothing is created.
    assert (report["rows_processed"], report["created"], report["updated"], report["unchanged"],
            report["skipped"], report["errors"]) == (3, 0, 0, 3, 0, [])
    after = all_customers(merchant)
    unchanged = ("id", "username", "email", "first_name", "last_name", "name", "company", "phone", "address", "tags",
                 "store")
    assert [{k: c[k] for k in unchanged} for c in after] == [{k: c[k] for k in unchanged} for c in before]


def test_an_empty_customer_list_is_the_import_template_s_header_and_the_ignored_columns(merchant: str) -> None:
    from functions.customers.csv_rows import template_csv

    data = customer_list(merchant)
    assert data == "\ufeff{}\r\n".format(",".join(TEMPLATE_HEADER + EXTRA_HEADER)).encode("utf-8")
    assert template_csv().startswith("\ufeff{}\r\n".format(",".join(TEMPLATE_HEADER)).encode("utf-8"))


def test_a_privacy_export_request_for_another_merchant_s_customer_is_404(
        merchant: str, neighbours: tuple[dict[str, Any], dict[str, Any]]) -> None:
    lea, _ = neighbours
    other = new_merchant("Other shop")
    assert post_export(other, {"type": "customer_data", "customer_id": lea["customer_id"]}).status == 404
