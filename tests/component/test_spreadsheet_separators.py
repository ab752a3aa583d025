"""Export files opened by LibreOffice Calc with `,`, `;` and tab as the separator (issue 15, item 5).

French, German, Spanish and Dutch Excel and LibreOffice split CSV on `;` (or tab): a cell such as
`vip;=cmd|' /C calc'!A0`, harmless under `,`, would there become two cells, the second a formula.
Each file is imported by Calc under each separator and saved as XLSX; openpyxl reads the formulas
as Calc stored them: the only ones allowed are the `="<digits>"` wrappers of digit-only columns.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from functions.export.columns import SHIPMENT_COLUMNS, Column, ColumnKind
from functions.export.spreadsheet import CsvExportWriter, XlsxExportWriter

DIGIT_WRAPPER = re.compile(r'="[0-9]+"')
# Field separator, text delimiter `"`, UTF-8 (76), from line 1 (LibreOffice's CSV filter options).
SEPARATORS = {"comma": "CSV:44,34,76,1", "semicolon": "CSV:59,34,76,1", "tab": "CSV:9,34,76,1"}

# Every way a formula could hide behind a separator, a space, NBSP, a full-width form or a NUL.
HOSTILE_TEXTS = [
    "vip;=cmd|' /C calc'!A0",
    "vip; =cmd|' /C calc'!A0",
    "vip;\u00a0\u00a0+HYPERLINK(\"http://evil.example\")",
    "vip;@SUM(1+1)",
    "vip;-2+3",
    "vip\t=1+1",
    "vip,=1+1",
    "vip\uff1b\uff1d1+1",
    "vip;\uff1d1+1",
    "a;b;=1+1;+2;-3;@4",
    "\x00=1+1",
    " =1+1",
    "\u00a0=1+1",
    "=1+1;=2+2",
    "ok, fine\n=1+1",
    "ok;\r\n=1+1",
    'vip;"=1+1"',
    '"=1+1"',
    "ends with a separator;",
]


@pytest.fixture(scope="module")
def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        pytest.skip("LibreOffice (soffice) is not on PATH: apt-get install -y libreoffice-calc-nogui")
    return found


def calc_saves_as_xlsx(soffice: str, source: Path, infilter: str | None, outdir: Path) -> Path:
    """Calc opens `source` (a CSV with `infilter`, or an XLSX) and saves it as XLSX in `outdir`."""
    profile = Path(tempfile.mkdtemp(prefix="lo-profile-", dir="/tmp"))
    outdir.mkdir(parents=True, exist_ok=True)
    command = [soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless"]
    if infilter:
        command.append(f"--infilter={infilter}")
    try:
        subprocess.run([*command, "--convert-to", "xlsx", "--outdir", str(outdir), str(source)],
                       check=True, capture_output=True, timeout=180)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    converted = outdir / (source.stem + ".xlsx")
    assert converted.exists(), f"LibreOffice did not convert {source}"
    return converted


def formulas_in(workbook: Path) -> list[str]:
    sheet = openpyxl.load_workbook(workbook).active  # formulas as stored, not their results
    return [str(cell.value) for row in sheet.iter_rows() for cell in row if cell.data_type == "f"]


def cells_in(workbook: Path) -> list[str]:
    sheet = openpyxl.load_workbook(workbook, data_only=True).active
    return [str(cell.value) for row in sheet.iter_rows() for cell in row if cell.value is not None]


def hostile_shipment_rows() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for number, text in enumerate(HOSTILE_TEXTS, start=1):
        rows.append({"shipment_id": f"shp_{number}", "recipient_name": text, "recipient_company": text,
                     "description": text, "recipient_region": text, "recipient_postal_code": "01234", "tracking_number": f"{number:022d}",
                     "value": Decimal("12.50"), "parcel_index": 1, "parcel_count": 1})
    return rows


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("exports")
    files = {"shipments.csv": folder / "shipments.csv", "shipments.xlsx": folder / "shipments.xlsx",
             "tags.csv": folder / "tags.csv"}
    with files["shipments.csv"].open("wb") as sink, CsvExportWriter(sink, SHIPMENT_COLUMNS) as writer:
        writer.write_rows(hostile_shipment_rows())
    with files["shipments.xlsx"].open("wb") as sink, XlsxExportWriter(sink, SHIPMENT_COLUMNS) as writer:
        writer.write_rows(hostile_shipment_rows())
    # A list joined into one cell (tags, as the customer exports write them): the join is a separator.
    columns = (Column("Username", ColumnKind.DIGITS_TEXT), Column("Tags", ColumnKind.TEXT))
    with files["tags.csv"].open("wb") as sink, CsvExportWriter(sink, columns) as writer:
        for number, tags in enumerate((["vip", "=cmd|' /C calc'!A0"], ["-1", "+2", "@3"], ["a", " =b"]), start=1):
            writer.write_row({"Username": str(number), "Tags": ";".join(tags)})
    return files


@pytest.mark.parametrize("separator", sorted(SEPARATORS))
@pytest.mark.parametrize("name", ["shipments.csv", "tags.csv"])
def test_no_cell_becomes_a_formula_whatever_the_separator(soffice: str, exported: dict[str, Path], name: str,
                                                          separator: str, tmp_path: Path) -> None:
    converted = calc_saves_as_xlsx(soffice, exported[name], SEPARATORS[separator], tmp_path)
    formulas = formulas_in(converted)
    assert all(DIGIT_WRAPPER.fullmatch(formula) for formula in formulas), formulas
    shown = cells_in(converted)
    assert not [cell for cell in shown if cell.lstrip(" \u00a0").startswith(("=", "+", "-", "@", "\uff1d"))], shown
    print(f"\n{name} opened with {separator} separator: {len(shown)} cells, {len(formulas)} digit wrappers, "
          "0 other formulas")


def test_the_comma_reading_shows_each_text_whole(soffice: str, exported: dict[str, Path], tmp_path: Path) -> None:
    converted = calc_saves_as_xlsx(soffice, exported["shipments.csv"], SEPARATORS["comma"], tmp_path)
    sheet = openpyxl.load_workbook(converted, data_only=True).active
    header, *rows = list(sheet.iter_rows(values_only=True))
    descriptions = [dict(zip(header, row, strict=True))["description"] for row in rows]
    assert descriptions[0] == "vip;'=cmd|' /C calc'!A0"
    assert descriptions[HOSTILE_TEXTS.index("\x00=1+1")] == "'=1+1"
    assert len(descriptions) == len(HOSTILE_TEXTS)


def test_the_xlsx_export_opened_by_calc_holds_no_formula(soffice: str, exported: dict[str, Path],
                                                         tmp_path: Path) -> None:
    converted = calc_saves_as_xlsx(soffice, exported["shipments.xlsx"], None, tmp_path)
    assert formulas_in(converted) == []
    assert "vip;=cmd|' /C calc'!A0" in cells_in(converted)  # text cells: shown as typed, never run


def test_the_privacy_zip_tables_are_guarded_too(exported: dict[str, Path]) -> None:
    """The privacy export's CSV tables go through the same writer; its list cells are joined with `;`."""
    from functions.export.privacy import _columns, _flat

    columns = _columns("customer")
    record = {"tags": ["vip", "=cmd|' /C calc'!A0"], "email": "=1+1"}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, archive.open("customer.csv", "w") as entry, \
            CsvExportWriter(entry, columns) as writer:
        writer.write_row(_flat(record, columns))
    text = zipfile.ZipFile(buffer).read("customer.csv").decode("utf-8-sig")
    assert "\"vip;'=cmd|' /C calc'!A0\"" in text and "'=1+1" in text
