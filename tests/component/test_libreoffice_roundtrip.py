"""A CSV export opened by a real spreadsheet: LibreOffice Calc imports it, we read what it made.

Digits must survive (22-digit tracking numbers, leading zeros), accents must survive, and the only
live formulas must be the `="<digits>"` wrappers (DESIGN.md §1.4).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from functions.export.columns import SHIPMENT_COLUMNS, SHIPMENT_HEADER, ColumnKind
from functions.export.spreadsheet import CsvExportWriter

TRACKING_22 = "1234567890123456789012"
DIGIT_WRAPPER = re.compile(r'="[0-9]+"')
# Separator comma (44), text delimiter " (34), character set left to detection, from line 1: what
# the import dialog proposes. Without any options, headless LibreOffice 7.4 decodes as Latin-1.
CSV_IMPORT_OPTIONS = "CSV:44,34,,1"

HOSTILE_ROW = {
    "shipment_id": "shp_01HZX",
    "recipient_name": "Zoé Müller-Ødegård",
    "recipient_company": "@SUM(1+1)",
    "recipient_address_1": "-2+3",
    "recipient_address_2": "\t=1+1",
    "recipient_city": '=HYPERLINK("http://evil.example","click")',
    "recipient_region": "\r\n=1+1",
    "recipient_postal_code": "01234",
    "recipient_phone": "+33612345678",
    "return_postal_code": "=1+1",
    "contents": "-5",
    "description": "ok, fine\n=1+1",
    "value": Decimal("12.50"),
    "currency": "EUR",
    "order_id": "1001",
    "weight": Decimal("1.250"),
    "signature_confirmation": True,
    "tracking_number": TRACKING_22,
    "batch_id": "000042",
    "parcel_index": 1,
    "parcel_count": 2,
}


@pytest.fixture(scope="module")
def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        reason = "LibreOffice is not on PATH (apt-get install -y libreoffice-calc-nogui)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run this test")
        pytest.skip(reason)
    return found


def open_in_calc(soffice: str, csv_file: Path) -> Path:
    """Let Calc import the CSV and save it as XLSX, with a throwaway profile (no lock clashes)."""
    profile = Path(tempfile.mkdtemp(prefix="lo-profile-", dir="/tmp"))
    try:
        subprocess.run([soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless",
                        f"--infilter={CSV_IMPORT_OPTIONS}", "--convert-to", "xlsx",
                        "--outdir", str(csv_file.parent), str(csv_file)],
                       check=True, capture_output=True, timeout=180)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    converted = csv_file.with_suffix(".xlsx")
    assert converted.exists(), f"LibreOffice did not convert {csv_file}"
    return converted


@pytest.fixture(scope="module")
def calc_workbook(soffice: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    csv_file = tmp_path_factory.mktemp("calc") / "shipments.csv"
    with csv_file.open("wb") as sink, CsvExportWriter(sink, SHIPMENT_COLUMNS) as writer:
        writer.write_row(HOSTILE_ROW)
        writer.write_row({"tracking_number": "0" * 22, "recipient_name": "Ærøskøbing Ñandú"})
    return open_in_calc(soffice, csv_file)


def shown(calc_workbook: Path) -> dict[str, object]:
    """The first data row as Calc shows it (formula results), by column name."""
    sheet = openpyxl.load_workbook(calc_workbook, data_only=True).active
    header, first, *_ = sheet.iter_rows(values_only=True)
    return dict(zip(header, first, strict=True))


def test_calc_reads_the_header_without_a_stray_bom(calc_workbook: Path) -> None:
    sheet = openpyxl.load_workbook(calc_workbook, data_only=True).active
    assert next(sheet.iter_rows(values_only=True)) == SHIPMENT_HEADER


def test_digits_survive_whole_as_text(calc_workbook: Path) -> None:
    row = shown(calc_workbook)
    assert (row["tracking_number"], row["recipient_postal_code"], row["order_id"], row["batch_id"]) == (
        TRACKING_22, "01234", "1001", "000042")
    sheet = openpyxl.load_workbook(calc_workbook, data_only=True).active
    assert sheet.cell(row=3, column=SHIPMENT_HEADER.index("tracking_number") + 1).value == "0" * 22


def test_accents_survive(calc_workbook: Path) -> None:
    assert shown(calc_workbook)["recipient_name"] == "Zoé Müller-Ødegård"
    sheet = openpyxl.load_workbook(calc_workbook, data_only=True).active
    assert sheet.cell(row=3, column=SHIPMENT_HEADER.index("recipient_name") + 1).value == "Ærøskøbing Ñandú"


def test_the_only_live_formulas_are_the_digit_wrappers(calc_workbook: Path) -> None:
    sheet = openpyxl.load_workbook(calc_workbook).active  # formulas as written, not their results
    formulas = {(cell.row, SHIPMENT_HEADER[cell.column - 1]): cell.value
                for row in sheet.iter_rows() for cell in row if cell.data_type == "f"}
    assert all(DIGIT_WRAPPER.fullmatch(formula) for formula in formulas.values()), formulas
    assert {column for row, column in formulas if row == 2} == {
        "tracking_number", "recipient_postal_code", "order_id", "batch_id"}
    assert all(dict(SHIPMENT_COLUMNS)[column] is ColumnKind.DIGITS_TEXT for _, column in formulas)


def test_formula_looking_text_shows_as_quoted_text(calc_workbook: Path) -> None:
    row = shown(calc_workbook)
    assert row["recipient_city"] == "'=HYPERLINK(\"http://evil.example\",\"click\")"
    assert (row["recipient_company"], row["recipient_address_1"], row["contents"]) == (
        "'@SUM(1+1)", "'-2+3", "'-5")
    assert (row["recipient_phone"], row["return_postal_code"]) == ("'+33612345678", "'=1+1")
    assert row["description"] == "ok, fine\n'=1+1"


def test_numbers_colis_writes_are_numbers(calc_workbook: Path) -> None:
    row = shown(calc_workbook)
    assert (row["value"], row["weight"], row["parcel_index"], row["parcel_count"]) == (12.5, 1.25, 1, 2)
