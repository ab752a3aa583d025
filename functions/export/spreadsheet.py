"""Spreadsheet-safe export files: CSV and XLSX writers streaming bytes to a sink (DESIGN.md §1.4).

Cell rules, shared by both formats:
- a text value made only of digits in a `digits_text` column stays text: in CSV it is written
  `="<digits>"` (the one formula allowed: it evaluates to the same digits, as text), in XLSX it is
  a text-typed cell;
- any other text cell is written as `shared.values.cells.neutralise_text` says (a `'` before a
  leading formula trigger, and before a trigger that follows any locale's separator); a CSV cell
  holding a separator is quoted; XLSX stores text in a text-typed cell, never as a formula;
- numbers Colis writes itself are plain (no exponent, no thousands separator); None is empty.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, TypeAlias

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell

from functions.export.columns import Column, ColumnKind
from shared.values.cells import csv_line, spreadsheet_text

# A sheet holds 1,048,576 rows in Excel and LibreOffice; one is the header.
XLSX_MAX_DATA_ROWS = 1_048_575

_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")

XlsxContent: TypeAlias = str | int | Decimal | bool | None
Row: TypeAlias = Mapping[str, object] | Sequence[object]

# openpyxl's ILLEGAL_CHARACTERS_RE: the control characters XML 1.0 forbids.
_ILLEGAL_XML_CHARACTERS = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


class BinaryFile(Protocol):
    def write(self, data: bytes, /) -> object: ...


Sink: TypeAlias = BinaryFile | Callable[[bytes], object]


class XlsxRowLimitExceeded(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"XLSX holds at most {limit:,} rows besides the header and this export has more; "
                         "export it as CSV instead")
        self.limit = limit


def format_number(number: int | Decimal) -> str:
    return f"{number:f}" if isinstance(number, Decimal) else str(number)


def csv_cell(value: object, kind: ColumnKind, *, starts_line: bool = False) -> str:
    """`starts_line`: the first cell of a line never gets the `="<digits>"` wrapper. A spreadsheet
    splitting on `;` or tab reads the whole line up to its first `;` as one field; a wrapper at the
    start would turn that field (the following cells' text) into a formula. There, digits are
    written as they are (a comma-splitting spreadsheet may show them as a number)."""
    if value is None:
        return ""
    if kind is ColumnKind.NUMBER and (number := _as_number(value)) is not None:
        return format_number(number)
    return spreadsheet_text(_as_text(value), digits_text=kind is ColumnKind.DIGITS_TEXT, starts_line=starts_line)


def xlsx_content(value: object, kind: ColumnKind) -> XlsxContent:
    """What an XLSX cell holds: a number, a bool, or text that goes in a text-typed cell."""
    if value is None:
        return None
    if kind is ColumnKind.NUMBER and (number := _as_number(value)) is not None:
        return number
    if kind is ColumnKind.BOOL and isinstance(value, bool):
        return value
    # Control characters are not allowed in XML; openpyxl would fail the whole export on one.
    return _ILLEGAL_XML_CHARACTERS.sub("", _as_text(value)) or None


def _as_number(value: object) -> int | Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, str) and _PLAIN_DECIMAL.fullmatch(value):
        return Decimal(value)  # amounts travel as decimal strings ("12.50") in Colis
    return None


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    number = _as_number(value)
    return format_number(number) if number is not None else str(value)


def _iso_utc(moment: datetime) -> str:
    # The product clock is tz-aware UTC; a naive value is taken as UTC rather than failing the export.
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    return utc.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def row_values(row: Row, columns: Sequence[Column]) -> list[object]:
    """The row's values in column order; a mapping may leave columns out (empty cells)."""
    if isinstance(row, Mapping):
        unknown = row.keys() - {column.name for column in columns}
        if unknown:
            raise ValueError(f"unknown export columns: {sorted(unknown)}")
        return [row.get(column.name) for column in columns]
    if len(row) != len(columns):
        raise ValueError(f"a row has {len(row)} values for {len(columns)} columns")
    return list(row)


def _emitter(sink: Sink) -> Callable[[bytes], object]:
    write = getattr(sink, "write", None)
    return write if callable(write) else sink


class CsvExportWriter:
    """UTF-8 with BOM, CRLF, quoting as `csv_field` says; bytes reach the sink in chunks as rows are written.

    Memory holds one chunk (about `chunk_size` characters) whatever the number of rows.
    """

    content_type = "text/csv; charset=utf-8"
    extension = "csv"

    def __init__(self, sink: Sink, columns: Sequence[Column], *, chunk_size: int = 256 * 1024) -> None:
        self._emit = _emitter(sink)
        self._columns = tuple(columns)
        self._chunk_size = chunk_size
        self._text = io.StringIO()
        self._bom_sent = False
        self._closed = False
        self.rows_written = 0
        self._text.write(csv_line(column.name for column in self._columns))

    def write_row(self, row: Row) -> None:
        if self._closed:
            raise ValueError("the CSV export is already closed")
        values = row_values(row, self._columns)
        self._text.write(csv_line(csv_cell(value, column.kind, starts_line=position == 0) for position, (value, column)
                                  in enumerate(zip(values, self._columns, strict=True))))
        self.rows_written += 1
        if self._text.tell() >= self._chunk_size:
            self._flush()

    def write_rows(self, rows: Iterable[Row]) -> None:
        for row in rows:
            self.write_row(row)

    def close(self) -> None:
        if self._closed:
            return
        self._flush()
        self._closed = True

    def abort(self) -> None:
        self._closed = True
        self._text = io.StringIO()

    def __enter__(self) -> CsvExportWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if exc is None:
            self.close()
        else:
            self.abort()

    def _flush(self) -> None:
        data = self._text.getvalue().encode("utf-8")
        self._text.seek(0)
        self._text.truncate()
        if not self._bom_sent:
            data = codecs.BOM_UTF8 + data
            self._bom_sent = True
        if data:
            self._emit(data)


class XlsxExportWriter:
    """One sheet: header, then rows; text columns are text-typed cells, numbers are numbers.

    XLSX is a zip whose directory comes last, so it cannot be produced as a forward-only stream.
    Memory stays constant anyway: openpyxl's write-only mode writes each row to a temp file as it
    comes (cell strings inline, no shared-string table in memory); `close()` zips that into a temp
    file in /tmp and streams it to the sink in chunks. /tmp must hold the sheet XML plus the zip.
    """

    content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    extension = "xlsx"

    def __init__(self, sink: Sink, columns: Sequence[Column], *, max_data_rows: int = XLSX_MAX_DATA_ROWS,
                 chunk_size: int = 1024 * 1024, sheet_title: str = "Export", temp_dir: str | None = None) -> None:
        self._emit = _emitter(sink)
        self._columns = tuple(columns)
        self._max_data_rows = max_data_rows
        self._chunk_size = chunk_size
        self._temp_dir = temp_dir
        self._closed = False
        self.rows_written = 0
        from openpyxl import Workbook  # only XLSX exports pay for openpyxl's import

        self._workbook = Workbook(write_only=True)
        self._sheet = self._workbook.create_sheet(sheet_title)
        self._sheet.freeze_panes = "A2"
        self._sheet.append([self._text_cell(column.name) for column in self._columns])

    def write_row(self, row: Row) -> None:
        if self._closed:
            raise ValueError("the XLSX export is already closed")
        if self.rows_written >= self._max_data_rows:
            raise XlsxRowLimitExceeded(self._max_data_rows)
        values = row_values(row, self._columns)
        self._sheet.append([self._cell(value, column.kind) for value, column in zip(values, self._columns, strict=True)])
        self.rows_written += 1

    def write_rows(self, rows: Iterable[Row]) -> None:
        for row in rows:
            self.write_row(row)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        fd, path = tempfile.mkstemp(prefix="colis-export-", suffix=".xlsx", dir=self._temp_dir)
        os.close(fd)
        try:
            self._workbook.save(path)
            self._stream_file(path)
        except BaseException:
            self._discard_sheet()
            raise
        finally:
            os.remove(path)

    def abort(self) -> None:
        self._closed = True
        self._discard_sheet()

    def __enter__(self) -> XlsxExportWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if exc is None:
            self.close()
        else:
            self.abort()

    def _cell(self, value: object, kind: ColumnKind) -> XlsxContent | Cell:
        content = xlsx_content(value, kind)
        return self._text_cell(content) if isinstance(content, str) else content

    def _text_cell(self, text: str) -> Cell:
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(self._sheet, value=text)
        # openpyxl turns a string starting with "=" into a formula; the type keeps it a string.
        cell.data_type = "s"
        # Text format: what the user types in the cell later stays text too.
        cell.number_format = "@"
        return cell

    def _stream_file(self, path: str) -> None:
        with open(path, "rb") as saved:
            while chunk := saved.read(self._chunk_size):
                self._emit(chunk)

    def _discard_sheet(self) -> None:
        # openpyxl only removes the sheet's temp file when saving; a warm Lambda would keep
        # every failed export's rows in /tmp. It offers no public way to discard a sheet.
        writer = self._sheet._writer
        if writer is None or not os.path.exists(writer.out):
            return
        if not self._sheet.closed:
            # Only to release the file handle; we are already failing for a better reason.
            with contextlib.suppress(Exception):
                self._sheet.close()
        writer.cleanup()
