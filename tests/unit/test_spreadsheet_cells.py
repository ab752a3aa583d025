"""Spreadsheet safety of export cells (DESIGN.md §1.4) and the shipment header (API.md)."""

from __future__ import annotations

import codecs
import csv
import io
import os
import tempfile
import zipfile
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from functions.export.columns import SHIPMENT_COLUMNS, SHIPMENT_HEADER, Column, ColumnKind
from functions.export.spreadsheet import (
    XLSX_MAX_DATA_ROWS,
    CsvExportWriter,
    XlsxExportWriter,
    XlsxRowLimitExceeded,
    csv_cell,
    xlsx_content,
)

D, T, N, B, DT = (ColumnKind.DIGITS_TEXT, ColumnKind.TEXT, ColumnKind.NUMBER, ColumnKind.BOOL,
                  ColumnKind.DATETIME)
TRACKING_22 = "1234567890123456789012"

# Copied from API.md, "Shipment CSV/XLSX header, in this order".
API_HEADER = """shipment_id, status, recipient_name,
  recipient_company, recipient_address_1, recipient_address_2, recipient_city, recipient_region,
  recipient_postal_code, recipient_country, recipient_phone, recipient_email, return_name,
  return_address_1, return_address_2, return_city, return_region, return_postal_code,
  return_country, contents, description, value, currency, order_id, store, package_type,
  size_unit, length, width, height, weight_unit, weight, insurance_amount,
  signature_confirmation, postage_type, carrier, tracking_number, tracking_url, ship_date,
  shipping_fee, provincial_tax, federal_tax, postage_fee, insurance_fee, created_at, batch_id,
  parcel_index, parcel_count"""

SMALL_COLUMNS = (Column("tracking_number", D), Column("description", T), Column("value", N),
                 Column("signature_confirmation", B), Column("created_at", DT))


# --- the header --------------------------------------------------------------------------------

def test_shipment_header_is_the_api_header_in_order() -> None:
    assert list(SHIPMENT_HEADER) == [name.strip() for name in API_HEADER.split(",")]


@pytest.mark.parametrize("name", ["shipment_id", "recipient_postal_code", "recipient_phone",
                                  "return_postal_code", "order_id", "tracking_number", "batch_id"])
def test_identifiers_codes_and_phones_stay_text_even_when_all_digits(name: str) -> None:
    assert dict(SHIPMENT_COLUMNS)[name] is D


@pytest.mark.parametrize("name", ["value", "length", "width", "height", "weight", "insurance_amount",
                                  "shipping_fee", "provincial_tax", "federal_tax", "postage_fee",
                                  "insurance_fee", "parcel_index", "parcel_count"])
def test_amounts_dimensions_and_counters_are_numbers(name: str) -> None:
    assert dict(SHIPMENT_COLUMNS)[name] is N


def test_every_column_has_a_kind() -> None:
    assert all(isinstance(column.kind, ColumnKind) for column in SHIPMENT_COLUMNS)
    assert len(set(SHIPMENT_HEADER)) == len(SHIPMENT_HEADER)


# --- one cell ----------------------------------------------------------------------------------

CSV_CELLS = [
    # (kind, value, written)
    (D, "01234", '="01234"'),                       # postal code keeps its leading zero
    (D, TRACKING_22, f'="{TRACKING_22}"'),          # 22 digits: no float rounding
    (D, 75001, '="75001"'),                         # an int handed to a text column stays text
    (D, "0612345678", '="0612345678"'),
    (D, "+33612345678", "'+33612345678"),           # not only digits: OWASP quote, no formula
    (D, "=SUM(A1)", "'=SUM(A1)"),
    (D, "06 12 34 56 78", "06 12 34 56 78"),
    (D, "AB123456789FR", "AB123456789FR"),
    (D, "١٢٣", "١٢٣"),                              # Arabic-Indic digits are not ASCII digits
    (D, "12\"34", "12\"34"),
    (T, "12345", "12345"),                          # only digits_text columns are wrapped
    (T, "=SUM(A1)", "'=SUM(A1)"),
    (T, "=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    (T, "+33612345678", "'+33612345678"),
    (T, "-5", "'-5"),
    (T, "@foo", "'@foo"),
    (T, "\tfoo", "'\tfoo"),
    (T, "\rfoo", "'\rfoo"),
    (T, "\nfoo", "'\nfoo"),
    (T, " =1+1", "' =1+1"),                        # spaces before a trigger hide nothing
    (T, "\u00a0\u3000+1", "'\u00a0\u3000+1"),
    (T, "\uff1dcmd()", "'\uff1dcmd()"),                # full-width = (folded to = by some)
    (T, "\x00=1+1", "'=1+1"),                        # a leading NUL is dropped, the trigger guarded
    (T, "a\x00b", "ab"),
    # A separator of any locale (`;`, tab, `,`, line breaks, full-width) before a trigger.
    (T, "vip;=cmd|' /C calc'!A0", "vip;'=cmd|' /C calc'!A0"),
    (T, "vip; =cmd()", "vip; '=cmd()"),
    (T, "vip;\u00a0\u00a0@SUM(1)", "vip;\u00a0\u00a0'@SUM(1)"),
    (T, "vip\t+1", "vip\t'+1"),
    (T, "vip,-1", "vip,'-1"),
    (T, "vip\n=1", "vip\n'=1"),
    (T, "vip\uff1b\uff1d1", "vip\uff1b'\uff1d1"),
    (T, "a;=1;=2", "a;'=1;'=2"),
    (T, "=a;=b", "'=a;'=b"),
    (T, 'vip;"=1+1"', 'vip;"\'=1+1"'),               # a lenient reader drops the quote
    (T, '"=1+1"', '\'"=1+1"'),
    (T, "a;b", "a;b"),                              # a separator alone is only quoted (see below)
    (T, "a-b;c", "a-b;c"),
    (T, "a=b", "a=b"),
    (T, "Zoé Müller-Ødegård, 3ᵉ étage", "Zoé Müller-Ødegård, 3ᵉ étage"),
    (T, "redacted", "redacted"),
    (T, "", ""),
    (T, None, ""),
    (D, None, ""),
    (N, None, ""),
    (T, Decimal("-5"), "'-5"),                      # a number in a text column is text
    (N, Decimal("12.50"), "12.50"),
    (N, Decimal("-5.00"), "-5.00"),                 # numbers Colis writes are plain, never quoted
    (N, Decimal("1E+3"), "1000"),                   # no exponent
    (N, Decimal("1234567.89"), "1234567.89"),       # no thousands separator
    (N, Decimal("0.000001"), "0.000001"),
    (N, "12.50", "12.50"),                          # amounts as API decimal strings
    (N, 3, "3"),
    (N, 2.5, "2.5"),
    (N, "=1+1", "'=1+1"),                           # not a number: guarded text
    (N, "redacted", "redacted"),
    (B, True, "true"),
    (B, False, "false"),
    (DT, datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC), "2024-05-01T10:00:00Z"),
    (DT, datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))), "2024-05-01T10:00:00Z"),
    (DT, date(2024, 5, 1), "2024-05-01"),
]


@pytest.mark.parametrize(("kind", "value", "written"), CSV_CELLS)
def test_csv_cell(kind: ColumnKind, value: object, written: str) -> None:
    assert csv_cell(value, kind) == written


def test_a_line_never_starts_with_the_digit_wrapper() -> None:
    """Split on `;`, the first field is the line up to its first `;`: a wrapper there would make it a formula."""
    assert csv_cell("007", D, starts_line=True) == "007"
    assert csv_cell("=1", T, starts_line=True) == "'=1"
    data = write_csv([["007", "x", None, None, None]], (Column("username", D), *SMALL_COLUMNS[1:]))
    assert data.decode("utf-8-sig").split("\r\n")[1] == "007,x,,,"


XLSX_CELLS = [
    (D, "01234", "01234"),
    (D, TRACKING_22, TRACKING_22),                  # text cell: no ="..." wrapper needed
    (D, "+33612345678", "+33612345678"),            # no quote: the cell is text-typed
    (T, "=SUM(A1)", "=SUM(A1)"),
    (T, "a\x01b", "ab"),                            # XML forbids control characters
    (T, "\tfoo\r\n", "\tfoo\r\n"),
    (T, "", None),
    (T, None, None),
    (N, Decimal("12.50"), Decimal("12.50")),
    (N, "12.50", Decimal("12.50")),
    (N, 2, 2),
    (N, "redacted", "redacted"),
    (B, True, True),
    (DT, datetime(2024, 5, 1, 10, tzinfo=UTC), "2024-05-01T10:00:00Z"),
]


@pytest.mark.parametrize(("kind", "value", "content"), XLSX_CELLS)
def test_xlsx_content(kind: ColumnKind, value: object, content: object) -> None:
    assert xlsx_content(value, kind) == content
    assert type(xlsx_content(value, kind)) is type(content)


# --- CSV file ----------------------------------------------------------------------------------

def write_csv(rows: list[object], columns: tuple[Column, ...] = SMALL_COLUMNS, **options: int) -> bytes:
    out = io.BytesIO()
    with CsvExportWriter(out, columns, **options) as writer:
        writer.write_rows(rows)
    return out.getvalue()


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_starts_with_bom_then_the_header() -> None:
    data = write_csv([])
    assert data.startswith(codecs.BOM_UTF8 + b"tracking_number,description,value")
    assert read_csv(data) == [[column.name for column in SMALL_COLUMNS]]


def test_csv_lines_end_with_crlf() -> None:
    data = write_csv([[TRACKING_22, "x", Decimal("1.00"), True, None]] * 2)
    assert data.count(b"\r\n") == 3
    assert data.replace(b"\r\n", b"").count(b"\n") == 0


def test_csv_quotes_commas_quotes_and_newlines_and_reads_back() -> None:
    description = 'Line 1, "fragile"\nLine 2'
    data = write_csv([{"tracking_number": TRACKING_22, "description": description, "value": "9.90"}])
    assert b'"Line 1, ""fragile""\nLine 2"' in data
    assert read_csv(data)[1] == [TRACKING_22, description, "9.90", "", ""]  # first cell: no wrapper


@pytest.mark.parametrize("description", ["vip;=cmd|' /C calc'!A0", "a;b", "a\tb", "a,b"])
def test_csv_quotes_a_cell_holding_any_locales_separator(description: str) -> None:
    data = write_csv([{"description": description}])
    line = data.decode("utf-8-sig").split("\r\n")[1]
    assert line.startswith(',"') and line.endswith('",,,')
    for separator in (",", ";", "\t"):
        fields = read_csv_with(data, separator)[1]
        # Split on any separator, no field starts with a trigger.
        assert not any(field.lstrip(" \u00a0").startswith(("=", "+", "-", "@")) for field in fields), fields


def read_csv_with(data: bytes, separator: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=separator))


def test_csv_encodes_utf8() -> None:
    data = write_csv([{"description": "Zoé Müller-Ødegård"}])
    assert "Zoé Müller-Ødegård".encode() in data


def test_csv_hands_chunks_to_the_sink_while_rows_are_written() -> None:
    chunks: list[bytes] = []
    writer = CsvExportWriter(chunks.append, SMALL_COLUMNS, chunk_size=1024)
    for _ in range(200):
        writer.write_row({"tracking_number": TRACKING_22, "description": "x" * 50})
    assert len(chunks) > 5  # before close: nothing accumulates beyond a chunk
    assert all(len(chunk) < 1024 + 200 for chunk in chunks)
    writer.close()
    assert b"".join(chunks).startswith(codecs.BOM_UTF8)
    assert b"".join(chunks).count(codecs.BOM_UTF8) == 1
    assert len(read_csv(b"".join(chunks))) == 201


def test_csv_accepts_a_file_like_sink_and_counts_rows() -> None:
    out = io.BytesIO()
    with CsvExportWriter(out, SMALL_COLUMNS) as writer:
        writer.write_rows([{}, {}, {}])
    assert writer.rows_written == 3
    assert read_csv(out.getvalue())[1:] == [["", "", "", "", ""]] * 3


def test_csv_refuses_unknown_columns_and_short_rows() -> None:
    writer = CsvExportWriter(io.BytesIO(), SMALL_COLUMNS)
    with pytest.raises(ValueError, match="unknown export columns"):
        writer.write_row({"tracking_numbr": "1"})
    with pytest.raises(ValueError, match="2 values for 5 columns"):
        writer.write_row(["1", "2"])


def test_csv_writes_nothing_after_an_error_inside_the_block() -> None:
    chunks: list[bytes] = []
    with pytest.raises(RuntimeError), CsvExportWriter(chunks.append, SMALL_COLUMNS) as writer:
        writer.write_row({"description": "x"})
        raise RuntimeError("database went away")
    assert chunks == []


# --- XLSX file ---------------------------------------------------------------------------------

@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every temp file (openpyxl's sheet XML and ours) lands here, so leftovers show."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def write_xlsx(rows: list[object], columns: tuple[Column, ...] = SMALL_COLUMNS, **options: int) -> bytes:
    out = io.BytesIO()
    with XlsxExportWriter(out, columns, **options) as writer:
        writer.write_rows(rows)
    return out.getvalue()


def test_xlsx_keeps_a_22_digit_tracking_number_as_text(temp_dir: Path) -> None:
    sheet = openpyxl.load_workbook(io.BytesIO(write_xlsx([{"tracking_number": TRACKING_22}]))).active
    cell = sheet["A2"]
    assert (cell.value, cell.data_type, cell.number_format) == (TRACKING_22, "s", "@")


def test_xlsx_stores_formula_looking_text_as_a_string(temp_dir: Path) -> None:
    rows = [{"description": text} for text in ("=SUM(A1)", "+33612345678", "-5", "@foo", "\tx")]
    data = write_xlsx(rows)
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert [(cell.value, cell.data_type) for (cell,) in sheet["B2:B6"]] == [
        ("=SUM(A1)", "s"), ("+33612345678", "s"), ("-5", "s"), ("@foo", "s"), ("\tx", "s")]
    sheet_xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet_xml
    assert b"<f " not in sheet_xml


def test_xlsx_writes_numbers_and_bools_as_such(temp_dir: Path) -> None:
    row = {"value": Decimal("12.50"), "signature_confirmation": True,
           "created_at": datetime(2024, 5, 1, 10, tzinfo=UTC)}
    sheet = openpyxl.load_workbook(io.BytesIO(write_xlsx([row]))).active
    assert [(cell.value, cell.data_type) for cell in sheet[2]][2:] == [
        (12.5, "n"), (True, "b"), ("2024-05-01T10:00:00Z", "s")]


def test_xlsx_header_row_is_the_columns_and_every_shipment_column_round_trips(temp_dir: Path) -> None:
    row = {column.name: "Zoé" for column in SHIPMENT_COLUMNS if column.kind in (D, T)}
    row |= {"tracking_number": TRACKING_22, "recipient_postal_code": "01234", "parcel_index": 1}
    sheet = openpyxl.load_workbook(io.BytesIO(write_xlsx([row], SHIPMENT_COLUMNS))).active
    header, values = list(sheet.iter_rows(values_only=True))
    assert header == SHIPMENT_HEADER
    by_name = dict(zip(header, values, strict=True))
    assert (by_name["tracking_number"], by_name["recipient_postal_code"]) == (TRACKING_22, "01234")
    assert (by_name["recipient_name"], by_name["parcel_index"], by_name["value"]) == ("Zoé", 1, None)


def test_xlsx_streams_in_chunks_and_leaves_no_temp_file(temp_dir: Path) -> None:
    chunks: list[bytes] = []
    with XlsxExportWriter(chunks.append, SMALL_COLUMNS, chunk_size=1024) as writer:
        writer.write_rows({"tracking_number": str(n), "description": "x" * 40} for n in range(500))
    assert len(chunks) > 1
    assert all(len(chunk) <= 1024 for chunk in chunks)
    assert openpyxl.load_workbook(io.BytesIO(b"".join(chunks))).active.max_row == 501
    assert os.listdir(temp_dir) == []


def test_xlsx_row_limit_is_excel_rows_less_the_header() -> None:
    assert XLSX_MAX_DATA_ROWS + 1 == 2**20


def test_xlsx_writes_up_to_the_row_limit(temp_dir: Path) -> None:
    sheet = openpyxl.load_workbook(io.BytesIO(write_xlsx([{"description": "x"}] * 3, max_data_rows=3))).active
    assert sheet.max_row == 4


def test_xlsx_past_the_row_limit_fails_suggesting_csv_and_cleans_up(temp_dir: Path) -> None:
    chunks: list[bytes] = []
    with pytest.raises(XlsxRowLimitExceeded, match=r"at most 3 rows.*CSV"), \
            XlsxExportWriter(chunks.append, SMALL_COLUMNS, max_data_rows=3) as writer:
        writer.write_rows([{"description": "x"}] * 4)
    assert writer.rows_written == 3
    assert chunks == []
    assert os.listdir(temp_dir) == []


def test_xlsx_row_limit_message_names_the_real_limit() -> None:
    assert "1,048,575" in str(XlsxRowLimitExceeded(XLSX_MAX_DATA_ROWS))


def test_xlsx_leaves_no_temp_file_when_the_sink_fails(temp_dir: Path) -> None:
    def broken_sink(_: bytes) -> None:
        raise OSError("S3 went away")

    writer = XlsxExportWriter(broken_sink, SMALL_COLUMNS)
    writer.write_row({"description": "x"})
    with pytest.raises(OSError, match="S3 went away"):
        writer.close()
    assert os.listdir(temp_dir) == []
