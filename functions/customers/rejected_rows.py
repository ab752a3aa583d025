"""The rejected rows of an import as a CSV file the merchant fixes and imports again (API.md,
`errors_url`): the input's own delimiter and header, then a `reason` column (the one already
there when the file is itself a fixed rejected-rows file), in row order, UTF-8 with BOM and CRLF.

Cells are the values the import read, written back with the spreadsheet escapes of our exports
(`shared.values.cells`): formula triggers guarded, digits-only postal codes and phones as
`="<digits>"`. The import undoes exactly these escapes, so a fixed file reads as the merchant meant,
and a cell the merchant wrote as `=HYPERLINK(...)` never comes back as a live formula.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from functions.customers.csv_rows import Layout, decoded_lines, header_key, open_csv
from shared.customers.model import IMPORT_REASON_HEADER
from shared.values.cells import csv_line, read_text, spreadsheet_text


class BinaryFile(Protocol):
    def write(self, data: bytes, /) -> object: ...


def write_rejected_rows(source: Iterable[bytes], rejected: dict[int, str], sink: BinaryFile) -> int:
    """Reads the imported file again and writes its rejected rows (row number → reason) with their
    reason; answers how many were written."""
    layout, records = open_csv(decoded_lines(source))
    reason_at = _reason_position(layout)
    header = list(layout.header) + ([] if reason_at < len(layout.header) else [IMPORT_REASON_HEADER])
    sink.write(("\ufeff" + csv_line(header, layout.delimiter)).encode("utf-8"))
    written = 0
    for number, cells in enumerate(records, start=2):
        reason = rejected.get(number)
        if reason is None:
            continue
        sink.write(csv_line(_row_cells(layout, cells, reason_at, reason), layout.delimiter).encode("utf-8"))
        written += 1
    return written


def _reason_position(layout: Layout) -> int:
    keys = [header_key(name) for name in layout.header]
    return keys.index(IMPORT_REASON_HEADER) if IMPORT_REASON_HEADER in keys else len(layout.header)


def _row_cells(layout: Layout, cells: list[str], reason_at: int, reason: str) -> list[str]:
    width = len(layout.header)
    while len(cells) > width and not cells[-1].strip():
        cells = cells[:-1]
    cells = cells + [""] * (width - len(cells))
    out: list[str] = []
    for position, raw in enumerate(cells):
        column = layout.columns[position] if position < width else None
        out.append(spreadsheet_text(read_text(raw), digits_text=column is not None and column.kind == "digits_text",
                                    starts_line=position == 0))
    reason_cell = spreadsheet_text(reason, starts_line=reason_at == 0)
    if reason_at < width:
        out[reason_at] = reason_cell
    else:
        out.insert(width, reason_cell)
    return out
