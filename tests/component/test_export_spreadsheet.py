"""A real shipment export opened by spreadsheets (DESIGN.md §1.4): the file as the worker wrote it
and the presigned link serves it, read as bytes, then imported by LibreOffice Calc headless."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.component.test_libreoffice_roundtrip import open_in_calc
from tests.export_support import API_MD_HEADER, create_shipment, export_file, new_merchant
from tests.factories import address

TRACKING_22 = "1234567890123456789012"
ZEROS_22 = "0000000000000000000042"
DIGIT_WRAPPER = re.compile(r'="[0-9]+"')


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    return new_merchant()


def hostile_shipments(merchant: str) -> None:
    create_shipment(
        merchant, batch_id="0042",
        recipient=address(first_name="Zoé", last_name="Müller-Ødegård", company='=HYPERLINK("http://evil.example")',
                          address_1="+SUM(A1:A9)", address_2="-2+3", city="@Saint-Étienne", postal_code="01234",
                          phone="0612345678", email="zoe@example.fr"),
        package={"type": "parcel", "size_unit": "cm", "length": "30.5", "width": "20", "height": "10",
                 "weight_unit": "kg", "weight": "1.25", "contents": "Crème brûlée", "description": "\t=1+1",
                 "value": "12.50", "currency": "EUR"},
        parcels=[{"tracking_number": TRACKING_22}, {"tracking_number": ZEROS_22, "weight": "0.5"}])


def test_the_csv_bytes_are_spreadsheet_safe(merchant: str) -> None:
    hostile_shipments(merchant)
    data = export_file(merchant, {"type": "shipments", "format": "csv"})
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.endswith("\r\n") and text.count("\r\n") == 3 and "\n" not in text.replace("\r\n", "")
    first = text.split("\r\n")[1]
    for expected in (f'"=""{TRACKING_22}"""', '"=""01234"""', '"=""0612345678"""',
                     '"=""0042"""', "'+SUM(A1:A9)", "'-2+3", "'@Saint-Étienne", '"\'=HYPERLINK(""http://evil.example"")"',
                     ',"\'\t\'=1+1",', ",12.50,", ",30.5,", ",1.25,", "Zoé Müller-Ødegård", "Crème brûlée"):
        assert expected in first, expected


@pytest.fixture(scope="module")
def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        reason = "LibreOffice is not on PATH (apt-get install -y libreoffice-calc-nogui)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run this test")
        pytest.skip(reason)
    return found


def test_libreoffice_reads_the_exported_csv_back_intact(merchant: str, soffice: str, tmp_path: Path) -> None:
    hostile_shipments(merchant)
    csv_file = tmp_path / "shipments.csv"
    csv_file.write_bytes(export_file(merchant, {"type": "shipments", "format": "csv"}))
    converted = open_in_calc(soffice, csv_file)

    shown = openpyxl.load_workbook(converted, data_only=True).active
    header, first, second = (list(row) for row in shown.iter_rows(values_only=True))
    assert header == API_MD_HEADER
    row, row2 = dict(zip(header, first, strict=True)), dict(zip(header, second, strict=True))
    # Digits survive whole, as text.
    assert (row["tracking_number"], row2["tracking_number"]) == (TRACKING_22, ZEROS_22)
    # (An order id is a real order's `ord_...` since a shipment links its order in its own write.)
    assert (row["recipient_postal_code"], row["recipient_phone"], row["batch_id"]) == ("01234", "0612345678", "0042")
    # Accents survive.
    assert (row["recipient_name"], row["contents"]) == ("Zoé Müller-Ødegård", "Crème brûlée")
    assert row["recipient_city"] == "'@Saint-Étienne"
    # Formula-looking text is shown, not run.
    assert (row["recipient_company"], row["recipient_address_1"], row["recipient_address_2"]) == (
        "'=HYPERLINK(\"http://evil.example\")", "'+SUM(A1:A9)", "'-2+3")
    # Numbers Colis writes are numbers; amounts only on the first parcel's row.
    assert (row["value"], row["length"], row["weight"], row2["weight"], row["parcel_index"]) == (12.5, 30.5, 1.25, 0.5, 1)
    assert row2["value"] is None

    formulas = openpyxl.load_workbook(converted).active  # formulas as written, not their results
    live = [cell.value for line in formulas.iter_rows() for cell in line if cell.data_type == "f"]
    assert live and all(DIGIT_WRAPPER.fullmatch(formula) for formula in live), live
