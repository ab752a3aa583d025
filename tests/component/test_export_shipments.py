"""Shipment exports against moto: filters one by one, header, one row per parcel, amounts on the
first parcel's row, recipient names, redacted values, XLSX, progress, and never a table scan."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import openpyxl
import pytest

from shared.exports.model import ExportStatus
from shared.exports.store import ExportRepository
from shared.platform import aws, clock
from shared.shipments.store import ShipmentRepository
from tests.component.orders_support import new_order
from tests.export_support import (
    API_MD_HEADER,
    bulk_shipments,
    create_shipment,
    csv_rows,
    export_file,
    export_rows,
    get_export,
    leftovers,
    new_merchant,
    requested,
    run,
    worker,
    write_shipment_item,
)
from tests.factories import address


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    return new_merchant()


@pytest.fixture
def dynamodb_calls(aws_env: dict[str, Any]) -> Iterator[Counter[str]]:
    """DynamoDB requests by operation (and Query by index), as the table's client sends them."""
    calls: Counter[str] = Counter()

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        calls[model.name] += 1
        if model.name == "Query":
            calls[f"Query:{params.get('IndexName', 'table')}"] += 1

    events = aws.table().meta.client.meta.events
    events.register("before-parameter-build.dynamodb.*", record)
    yield calls
    events.unregister("before-parameter-build.dynamodb.*", record)


def ids(rows: list[dict[str, str]]) -> set[str]:
    return {row["shipment_id"] for row in rows}


def at(day: int, hour: int = 12, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


# --- header and rows -----------------------------------------------------------------------------
def test_the_header_is_api_md_s_columns_in_order(merchant: str) -> None:
    create_shipment(merchant)
    data = export_file(merchant, {"type": "shipments", "format": "csv"})
    header_line = data.decode("utf-8-sig").split("\r\n", 1)[0]
    assert header_line.split(",") == API_MD_HEADER


def test_a_merchant_without_shipments_gets_a_header_only_file(merchant: str) -> None:
    data = export_file(merchant, {"type": "shipments", "format": "csv"})
    assert data == b"\xef\xbb\xbf" + ",".join(API_MD_HEADER).encode() + b"\r\n"


def test_one_row_per_parcel_with_the_parcel_s_own_columns(merchant: str) -> None:
    body_parcels = [{"tracking_number": "TRK1", "tracking_url": "https://t.example/1", "weight": "2.5"},
                    {"tracking_number": "TRK2"}, {"tracking_number": "TRK3", "weight": "0.75"}]
    shipment = create_shipment(merchant, parcels=body_parcels)
    rows = export_rows(merchant)
    assert [(r["parcel_index"], r["parcel_count"], r["tracking_number"], r["tracking_url"], r["weight"])
            for r in rows] == [("1", "3", "TRK1", "https://t.example/1", "2.5"), ("2", "3", "TRK2", "", "1.2"),
                               ("3", "3", "TRK3", "", "0.75")]
    assert {r["shipment_id"] for r in rows} == {shipment.id}
    # Shipment columns repeat on every row.
    assert {(r["recipient_city"], r["carrier"], r["length"], r["currency"]) for r in rows} == {
        ("Lyon", "colissimo", "30", "EUR")}


def test_shipment_amounts_are_on_the_first_parcel_s_row_only(merchant: str) -> None:
    create_shipment(merchant, parcels=3, insurance_amount="100.00",
                    fees={"shipping": "6.90", "provincial_tax": "0.45", "federal_tax": "0.35", "postage": "5.10",
                          "insurance": "1.20"})
    rows = export_rows(merchant)
    amounts = ("value", "insurance_amount", "shipping_fee", "provincial_tax", "federal_tax", "postage_fee",
               "insurance_fee")
    assert [tuple(r[c] for c in amounts) for r in rows] == [
        ("49.90", "100.00", "6.90", "0.45", "0.35", "5.10", "1.20"), ("",) * 7, ("",) * 7]
    assert sum(float(r["value"] or 0) for r in rows) == pytest.approx(49.90)


def test_every_column_of_a_full_shipment(merchant: str) -> None:
    order_id = new_order(merchant)["id"]
    shipment = create_shipment(
        merchant, order_id=order_id, store="Boutique Lyon", batch_id="B-7", ship_date="2026-03-11",
        signature_confirmation=True, insurance_amount="50",
        recipient=address(company="Lune SARL", address_2="Bâtiment B", region="ARA"),
        return_address={"first_name": "Atelier", "last_name": "Lune", "address_1": "5 quai Voltaire",
                        "address_2": "Cour", "city": "Paris", "region": "IDF", "postal_code": "75007",
                        "country": "FR"},
        package={"type": "box", "size_unit": "in", "length": "12.5", "width": "8", "height": "4",
                 "weight_unit": "lb", "weight": "3.25", "contents": "gift", "description": "Théière",
                 "value": "120.00", "currency": "CAD"})
    [row] = export_rows(merchant)
    number = shipment.parcels[0].tracking_number
    assert row == {
        "shipment_id": shipment.id, "status": "pre_transit", "recipient_name": "Camille Dupont",
        "recipient_company": "Lune SARL", "recipient_address_1": "12 rue des Lilas", "recipient_address_2": "Bâtiment B",
        "recipient_city": "Lyon", "recipient_region": "ARA", "recipient_postal_code": '="69003"',
        "recipient_country": "FR", "recipient_phone": "'+33698765432", "recipient_email": "camille@example.fr",
        "return_name": "Atelier Lune", "return_address_1": "5 quai Voltaire", "return_address_2": "Cour",
        "return_city": "Paris", "return_region": "IDF", "return_postal_code": '="75007"', "return_country": "FR",
        "contents": "gift", "description": "Théière", "value": "120.00", "currency": "CAD", "order_id": order_id,
        "store": "Boutique Lyon", "package_type": "box", "size_unit": "in", "length": "12.5", "width": "8",
        "height": "4", "weight_unit": "lb", "weight": "3.25", "insurance_amount": "50.00",
        "signature_confirmation": "true", "postage_type": "standard", "carrier": "colissimo",
        "tracking_number": number, "tracking_url": "", "ship_date": "2026-03-11", "shipping_fee": "6.90",
        "provincial_tax": "", "federal_tax": "", "postage_fee": "", "insurance_fee": "",
        "created_at": "2026-03-10T12:00:00Z", "batch_id": "B-7", "parcel_index": "1", "parcel_count": "1"}


@pytest.mark.parametrize(("recipient", "expected"), [
    ({"first_name": "Camille", "last_name": "Dupont"}, "Camille Dupont"),
    ({"first_name": None, "last_name": None, "name": "Camille D."}, "Camille D."),
    ({"first_name": "Camille", "last_name": None, "name": None}, "Camille"),
    ({"first_name": "Camille", "last_name": "Dupont", "name": "Ignored"}, "Camille Dupont"),
])
def test_recipient_name_is_first_and_last_name_or_name(merchant: str, recipient: dict[str, Any],
                                                       expected: str) -> None:
    create_shipment(merchant, recipient=address(**recipient))
    assert [r["recipient_name"] for r in export_rows(merchant)] == [expected]


def test_redacted_fields_export_as_redacted_in_text_and_digit_columns(merchant: str) -> None:
    shipment = create_shipment(merchant, parcels=2)
    # What retention leaves (DESIGN.md §1.6): the first name kept, the rest of the personal data replaced.
    write_shipment_item(merchant, shipment, **{
        "recipient.last_name": "redacted", "recipient.address_1": "redacted", "recipient.postal_code": "redacted",
        "recipient.phone": "redacted", "recipient.email": "redacted", "redacted_at": "2026-06-08T12:00:00.000Z"})
    rows = export_rows(merchant)
    assert len(rows) == 2
    for row in rows:
        assert (row["recipient_name"], row["recipient_address_1"], row["recipient_postal_code"],
                row["recipient_phone"], row["recipient_email"]) == (
            "Camille redacted", "redacted", "redacted", "redacted", "redacted")
        assert (row["recipient_city"], row["recipient_country"]) == ("Lyon", "FR")


def test_redacted_in_a_number_column_stays_the_word(merchant: str) -> None:
    from functions.export.columns import SHIPMENT_COLUMNS
    from functions.export.spreadsheet import CsvExportWriter

    out = io.BytesIO()
    with CsvExportWriter(out, SHIPMENT_COLUMNS) as writer:
        writer.write_row({"value": "redacted", "weight": "redacted", "recipient_phone": "redacted"})
    row = csv_rows(out.getvalue())[0]
    assert (row["value"], row["weight"], row["recipient_phone"]) == ("redacted", "redacted", "redacted")


# --- filters, one by one ---------------------------------------------------------------------------
def test_created_from_as_a_date_starts_at_midnight_utc(merchant: str) -> None:
    before = create_shipment(merchant, at=at(4, 23, 59))
    first = create_shipment(merchant, at=at(5, 0, 0))
    later = create_shipment(merchant, at=at(9))
    assert ids(export_rows(merchant, {"created_from": "2026-03-05"})) == {first.id, later.id}
    assert before.id not in ids(export_rows(merchant, {"created_from": "2026-03-05"}))


def test_created_to_as_a_date_includes_that_whole_utc_day(merchant: str) -> None:
    early = create_shipment(merchant, at=at(5, 0, 0))
    late = create_shipment(merchant, at=at(5, 23, 59))
    after = create_shipment(merchant, at=at(6, 0, 0))
    assert ids(export_rows(merchant, {"created_to": "2026-03-05"})) == {early.id, late.id}
    assert after.id not in ids(export_rows(merchant, {"created_to": "2026-03-05"}))


def test_date_time_bounds_are_inclusive_from_and_exclusive_to(merchant: str) -> None:
    on_from = create_shipment(merchant, at=at(5, 10, 0))
    inside = create_shipment(merchant, at=at(5, 11, 0))
    on_to = create_shipment(merchant, at=at(5, 12, 0))
    filters = {"created_from": "2026-03-05T10:00:00Z", "created_to": "2026-03-05T12:00:00Z"}
    assert ids(export_rows(merchant, filters)) == {on_from.id, inside.id}
    assert on_to.id not in ids(export_rows(merchant, filters))


def test_a_range_over_several_months_reads_each_month_bucket(merchant: str, dynamodb_calls: Counter[str]) -> None:
    january = create_shipment(merchant, at=at(15, month=1))
    february = create_shipment(merchant, at=at(15, month=2))
    march = create_shipment(merchant, at=at(1, month=3))
    create_shipment(merchant, at=at(31, month=12).replace(year=2025))
    dynamodb_calls.clear()
    rows = export_rows(merchant, {"created_from": "2026-01-01", "created_to": "2026-03-31"})
    assert ids(rows) == {january.id, february.id, march.id}
    assert dynamodb_calls["Query:gsi1"] == 3  # one per created-month bucket: Jan, Feb, Mar
    assert dynamodb_calls["Scan"] == 0


def test_status_filter_with_one_status(merchant: str) -> None:
    from functions.shipments.service import set_merchant_status

    archived = create_shipment(merchant)
    create_shipment(merchant)
    set_merchant_status(ShipmentRepository(), merchant, archived.id, "archive")
    assert ids(export_rows(merchant, {"status": ["archived"]})) == {archived.id}


def test_status_filter_with_several_statuses(merchant: str) -> None:
    from functions.shipments.service import set_merchant_status

    archived, cancelled, kept = create_shipment(merchant), create_shipment(merchant), create_shipment(merchant)
    set_merchant_status(ShipmentRepository(), merchant, archived.id, "archive")
    set_merchant_status(ShipmentRepository(), merchant, cancelled.id, "void_label")
    rows = export_rows(merchant, {"status": ["archived", "cancelled"]})
    assert ids(rows) == {archived.id, cancelled.id}
    assert kept.id not in ids(rows)
    assert {r["status"] for r in rows} == {"archived", "cancelled"}


def test_batch_filter(merchant: str) -> None:
    in_batch = create_shipment(merchant, batch_id="B-42", parcels=2)
    create_shipment(merchant, batch_id="B-43")
    create_shipment(merchant)
    rows = export_rows(merchant, {"batch_id": "B-42"})
    assert ids(rows) == {in_batch.id} and len(rows) == 2


def test_q_as_an_exact_tracking_number_exports_every_parcel_of_its_shipment(merchant: str) -> None:
    wanted = create_shipment(merchant, parcels=3)
    create_shipment(merchant, parcels=2)
    rows = export_rows(merchant, {"q": wanted.parcels[1].tracking_number})
    assert [r["tracking_number"] for r in rows] == [p.tracking_number for p in wanted.parcels]


def test_q_as_an_exact_order_id(merchant: str) -> None:
    order_id = new_order(merchant)["id"]
    wanted = create_shipment(merchant, order_id=order_id)
    create_shipment(merchant, order_id=new_order(merchant)["id"])
    assert ids(export_rows(merchant, {"q": order_id})) == {wanted.id}
    assert ids(export_rows(merchant, {"q": order_id[:-1]})) == set()  # exact, not a prefix


def test_q_as_a_case_insensitive_part_of_the_recipient_s_name(merchant: str) -> None:
    wanted = create_shipment(merchant, recipient=address(first_name="Zoé", last_name="Müller-Ødegård"))
    by_name = create_shipment(merchant, recipient=address(first_name=None, last_name=None, name="Jean MÜLLER"))
    create_shipment(merchant, recipient=address(first_name="Camille", last_name="Dupont"))
    assert ids(export_rows(merchant, {"q": "müller"})) == {wanted.id, by_name.id}
    assert ids(export_rows(merchant, {"q": "ØDEGÅRD"})) == {wanted.id}


def test_q_by_name_is_matched_within_the_queried_range(merchant: str) -> None:
    inside = create_shipment(merchant, at=at(5), recipient=address(last_name="Martin"))
    create_shipment(merchant, at=at(15, month=1), recipient=address(last_name="Martin"))
    assert ids(export_rows(merchant, {"q": "martin", "created_from": "2026-03-01"})) == {inside.id}


def test_filters_combine(merchant: str) -> None:
    wanted = create_shipment(merchant, at=at(5), batch_id="B-1", recipient=address(last_name="Martin"))
    create_shipment(merchant, at=at(5), batch_id="B-1", recipient=address(last_name="Bernard"))
    create_shipment(merchant, at=at(15, month=1), batch_id="B-1", recipient=address(last_name="Martin"))
    create_shipment(merchant, at=at(5), batch_id="B-2", recipient=address(last_name="Martin"))
    filters = {"batch_id": "B-1", "q": "mart", "status": ["pre_transit"], "created_from": "2026-03-01"}
    assert ids(export_rows(merchant, filters)) == {wanted.id}


def test_no_filter_exports_every_month_since_the_merchant_began(merchant: str,
                                                                  dynamodb_calls: Counter[str]) -> None:
    first = create_shipment(merchant, at=datetime(2025, 11, 2, tzinfo=UTC))
    last = create_shipment(merchant, at=at(10, 11))
    dynamodb_calls.clear()
    assert ids(export_rows(merchant)) == {first.id, last.id}
    assert dynamodb_calls["Query:gsi1"] == 5  # Nov, Dec, Jan, Feb, Mar
    assert dynamodb_calls["Scan"] == 0


def test_an_export_holds_only_its_merchant_s_shipments(merchant: str) -> None:
    other = new_merchant("Other shop")
    mine = create_shipment(merchant, batch_id="B-1")
    create_shipment(other, batch_id="B-1")
    assert ids(export_rows(merchant)) == {mine.id}
    assert ids(export_rows(merchant, {"batch_id": "B-1"})) == {mine.id}


# --- XLSX ----------------------------------------------------------------------------------------
def test_xlsx_has_the_header_typed_text_cells_and_plain_numbers(merchant: str) -> None:
    long_number = "1234567890123456789012"
    create_shipment(merchant, parcels=[{"tracking_number": long_number}, {"tracking_number": "0042"}])
    data = export_file(merchant, {"type": "shipments", "format": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    header, first, second = sheet.iter_rows()
    assert [c.value for c in header] == API_MD_HEADER
    by_name = {name: cell for name, cell in zip(API_MD_HEADER, first, strict=True)}
    assert by_name["tracking_number"].value == long_number and by_name["tracking_number"].data_type == "s"
    assert by_name["recipient_postal_code"].value == "69003" and by_name["recipient_postal_code"].data_type == "s"
    assert by_name["value"].value == pytest.approx(49.9) and by_name["value"].data_type == "n"
    assert by_name["parcel_index"].value == 1
    assert dict(zip(API_MD_HEADER, [c.value for c in second], strict=True))["tracking_number"] == "0042"


def test_xlsx_keeps_formula_looking_text_as_text(merchant: str) -> None:
    create_shipment(merchant, recipient=address(company="=HYPERLINK(\"http://evil.example\")", address_2="+1+2"))
    data = export_file(merchant, {"type": "shipments", "format": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    _, row = sheet.iter_rows()
    cells = dict(zip(API_MD_HEADER, row, strict=True))
    assert cells["recipient_company"].data_type == "s"
    assert cells["recipient_company"].value == "=HYPERLINK(\"http://evil.example\")"
    assert cells["recipient_address_2"].data_type == "s"


def test_xlsx_beyond_its_row_limit_fails_suggesting_csv_and_leaves_no_file(merchant: str) -> None:
    create_shipment(merchant, parcels=3)
    export_id = requested(merchant, {"type": "shipments", "format": "xlsx"})
    assert run(merchant, export_id, worker(xlsx_max_rows=2)) is ExportStatus.FAILED
    shown = get_export(merchant, export_id).json()
    assert shown["status"] == "failed" and shown["download_url"] is None
    assert "at most 2 rows" in shown["error"] and "CSV" in shown["error"]
    assert leftovers() == ([], 0)


def test_the_real_xlsx_limit_is_a_sheet_s_rows_minus_the_header() -> None:
    from functions.export.spreadsheet import XLSX_MAX_DATA_ROWS

    assert XLSX_MAX_DATA_ROWS == 1_048_575


# --- progress --------------------------------------------------------------------------------------
def test_rows_written_shows_progress_while_the_export_runs(merchant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    bulk_shipments(merchant, 250, parcels=10)  # 2,500 rows
    export_id = requested(merchant, {"type": "shipments", "format": "csv"})
    seen: list[tuple[str, int]] = []
    original = ExportRepository.record_progress

    def watching(self: ExportRepository, *args: Any) -> None:
        original(self, *args)
        shown = get_export(merchant, export_id).json()
        seen.append((shown["status"], shown["rows_written"]))

    monkeypatch.setattr(ExportRepository, "record_progress", watching)
    assert run(merchant, export_id) is ExportStatus.READY
    assert seen == [("running", 1000), ("running", 2000), ("running", 2500)]
    shown = get_export(merchant, export_id).json()
    assert (shown["status"], shown["rows_written"], shown["row_count"]) == ("ready", 2500, 2500)


def test_the_job_shows_pending_then_ready_with_its_times(merchant: str) -> None:
    create_shipment(merchant)
    export_id = requested(merchant, {"type": "shipments", "format": "csv"})
    pending = get_export(merchant, export_id).json()
    assert (pending["status"], pending["rows_written"], pending["row_count"], pending["download_url"],
            pending["expires_at"], pending["object_expires_at"], pending["error"]) == (
        "pending", 0, None, None, None, None, None)
    clock.advance(timedelta(seconds=5))
    run(merchant, export_id)
    ready = get_export(merchant, export_id).json()
    assert (ready["status"], ready["row_count"], ready["finished_at"]) == ("ready", 1, "2026-03-10T12:00:05Z")
    assert ready["object_expires_at"] == "2026-03-17T12:00:05Z"
