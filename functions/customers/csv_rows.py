"""Customer CSV files (DESIGN.md §4), the pure part: decoding, the header, cells, and what a row
does to a record. No I/O here; the importer feeds bytes in and writes records out.

File rules, forgiving where a spreadsheet would be:
- Encoding: UTF-8, with or without BOM (Excel's "CSV UTF-8" writes one), or UTF-16 with its BOM
  (Excel's "Unicode Text", tab-separated). Anything else is refused as a whole (400), naming the
  line of the first byte that is not UTF-8: guessing a legacy code page (Windows-1252, -1250, Mac
  Roman all map the same bytes to other letters) would store wrong names without anyone noticing.
- Delimiter: `,`, `;` (French and German Excel) or tab, chosen on the header line alone: the one
  that splits it into the most recognised column names; on a tie, the first of `,` `;` tab. When
  no split yields a recognised name the file is refused, saying so.
- Header: columns are matched by name in any order, ignoring case, surrounding and repeated spaces
  and underscores (`postal_code` is Postal Code) and a BOM. Every template column is required. The
  customer list export's extra columns (`CUSTOMER_LIST_EXTRA_COLUMNS`) and a rejected-rows file's
  `reason` are accepted and ignored. Any other column is refused (400, naming it): its cells would
  be dropped silently, and a misspelt template column would lose its data.
- CRLF or LF, quoted fields with delimiters, quotes and newlines. Rows are numbered as a spreadsheet
  shows them: the header is row 1 and a quoted newline does not start a new row. A row whose cells
  are all empty is ignored. Cells are trimmed, and the escapes our own exports add for spreadsheets
  are undone (`="00123"` → `00123`, `'+33…` → `+33…`), so an exported list re-imports unchanged.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import ValidationError

from shared.customers.model import (
    CUSTOMER_CSV_COLUMNS,
    CUSTOMER_CSV_HEADER,
    CUSTOMER_LIST_EXTRA_COLUMNS,
    IMPORT_REASON_HEADER,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    STORE_MANUAL,
    TAG_SEPARATOR,
    Customer,
    CustomerCsvColumn,
)
from shared.platform.ids import new_id
from shared.retention.redaction import REDACTED
from shared.values.cells import csv_line, read_text, spreadsheet_text
from shared.values.models import Address

BlankCells = Literal["keep", "clear"]
TagsMode = Literal["merge", "replace"]
MAX_CELL_CHARS = 1000  # far above any field's limit; a longer cell is a broken file
DELIMITERS = (",", ";", "\t")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HEADER_NOISE = re.compile(r"[\s_]+")
_TEMPLATE_HELP = "Download the template from /v1/customers/import-template."

# ISO 3166-1 alpha-2, plus XK (Kosovo), which carriers use.
COUNTRY_CODES = frozenset(re.findall(r"[A-Z]{2}", """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV
BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES
ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE
IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY
MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU
NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM
SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE
VG VI VN VU WF WS XK YE YT ZA ZM ZW"""))

# Countries whose addresses name a state, province or prefecture (carriers reject them without).
STATE_REQUIRED = frozenset({"AU", "BR", "CA", "CN", "IN", "IT", "JP", "KR", "MX", "MY", "US"})

# Countries without postal codes, or where they are not in common use for delivery.
POSTAL_CODE_NOT_USED = frozenset(re.findall(r"[A-Z]{2}", """
AE AG AI AO AW BF BI BJ BO BS BW BZ CD CF CG CI CK CM CW DJ DM ER FJ GA GD GH GM GQ GY HK IE JM KI
KM KN KP LC ML MO MR MS MW NR NU QA RW SB SC SL SR SS ST SX SY TD TF TG TK TL TO TT TV UG VU YE ZW"""))

# Fixed-length postal codes that start with digits, some with leading zeros (FR 01000, US 00501,
# NO 0150, PL 00-950): country → (digits, what follows them). A spreadsheet that read the code as a
# number dropped those zeros; a code one or two digits short is reported (a warning: the row is
# imported as written, since only the merchant knows the right code).
POSTAL_CODE_SHAPES: dict[str, tuple[int, str]] = {
    **dict.fromkeys(("FR", "DE", "IT", "ES", "FI", "EE", "HR", "MC", "MX", "MY", "SM", "VA"), (5, "")),
    "US": (5, "(-[0-9]{4})?"),
    "BR": (5, "-?[0-9]{3}"),
    **dict.fromkeys(("BE", "AT", "CH", "DK", "NO", "LU", "HU", "AU", "NZ", "BG", "SI"), (4, "")),
    "NL": (4, " ?[A-Za-z]{2}"),
    "PT": (4, "-[0-9]{3}"),
    "PL": (2, "-[0-9]{3}"),
    "JP": (3, "-?[0-9]{4}"),
}
_POSTAL_CODE_PARTS = {country: re.compile(f"([0-9]+)({rest})") for country, (_, rest) in POSTAL_CODE_SHAPES.items()}


def postal_code_warning(country: str | None, postal_code: str | None) -> str | None:
    """Why a postal code looks cut (leading zeros lost), or None."""
    if not country or not postal_code or country not in POSTAL_CODE_SHAPES:
        return None
    match = _POSTAL_CODE_PARTS[country].fullmatch(postal_code)
    digits = POSTAL_CODE_SHAPES[country][0]
    if not match or len(match.group(1)) not in (digits - 1, digits - 2):
        return None
    missing = digits - len(match.group(1))
    return (f"Postal Code starts with {len(match.group(1))} digits where {country} postal codes have {digits}: "
            f"a spreadsheet may have dropped {'a leading zero' if missing == 1 else 'leading zeros'}. It was "
            f"imported as written; check it.")


_FIELD_LIMITS = {"username": 200, "email": 254, "first_name": 200, "last_name": 200, "name": 200,
                 "company": 200, "phone": 40, "address.address_1": 200, "address.address_2": 200,
                 "address.city": 200, "address.region": 200, "address.postal_code": 20}
_NAME_FIELDS = ("first_name", "last_name", "name", "company")
_ADDRESS_PARTS = ("address_1", "address_2", "city", "region", "postal_code", "country")


class CsvFileError(Exception):
    """The file as a whole cannot be imported (encoding, header, broken quoting)."""


class RowRejected(Exception):
    """This row is reported with its reason; the other rows still apply."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RowError:
    row: int
    reason: str


@dataclass(frozen=True)
class RowWarning:
    row: int
    column: str
    reason: str


@dataclass
class CustomerRow:
    """One data row: field → trimmed text, None when the cell is blank."""

    row: int
    values: dict[str, str | None]
    tags: list[str] | None  # None: blank Tags cell
    customer_id: str | None = None  # the export's Customer ID column, when the file has it
    warnings: list[RowWarning] = field(default_factory=list)

    @property
    def username(self) -> str | None:
        return self.values["username"]

    @property
    def email(self) -> str | None:
        return self.values["email"]


@dataclass(frozen=True)
class Layout:
    """What the header says: the delimiter, and per position the template column (None: ignored)."""

    delimiter: str
    header: tuple[str, ...]  # as the file names its columns (trimmed), for the rejected-rows file
    columns: tuple[CustomerCsvColumn | None, ...]
    customer_id_at: int | None = None


def header_key(name: str) -> str:
    """A column name as the header is matched: case, BOM, surrounding and repeated spaces and
    underscores aside."""
    return _HEADER_NOISE.sub(" ", name.replace("\ufeff", "").replace("\u00a0", " ")).strip().casefold()


_TEMPLATE_KEYS = {header_key(column.header): column for column in CUSTOMER_CSV_COLUMNS}
_IGNORED_KEYS = {header_key(column.header) for column in CUSTOMER_LIST_EXTRA_COLUMNS} | {IMPORT_REASON_HEADER}
_CUSTOMER_ID_KEY = header_key(next(c.header for c in CUSTOMER_LIST_EXTRA_COLUMNS if c.field == "id"))


# --- bytes → rows -----------------------------------------------------------------------------------
def decoded_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Text cut after each LF, in constant memory: UTF-8 (a leading BOM dropped), or UTF-16 when
    the file starts with its BOM (Excel's "Unicode Text"; the BOM leaves no doubt). csv.reader
    joins lines itself when a quoted field spans them, and handles the CR of CRLF."""
    stream = iter(chunks)
    head = b""
    for chunk in stream:
        head += chunk
        if len(head) >= 2:
            break
    utf16 = head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    decoder = codecs.getincrementaldecoder("utf-16" if utf16 else "utf-8-sig")(errors="strict")
    pending = ""
    lines = 0
    chunk = b""
    try:
        for chunk in itertools.chain([head], stream):
            pending += decoder.decode(chunk)
            *complete, pending = pending.split("\n")
            for line in complete:
                lines += 1
                yield line + "\n"
        chunk = b""
        pending += decoder.decode(chunk, final=True)
    except UnicodeDecodeError as error:
        line_number = lines + 1 + (0 if utf16 else chunk[:error.start].count(b"\n"))
        raise CsvFileError(
            f"The file is not UTF-8 text (line {line_number} holds the first byte that is not). "
            "Save it as \"CSV UTF-8\" (Excel: File > Save As > CSV UTF-8; LibreOffice: character set Unicode "
            "(UTF-8)) and import it again.") from error
    if pending:
        yield pending


def detect_delimiter(header_line: str) -> str:
    """The delimiter that splits the header line into the most recognised column names; on a tie
    the first of `,` `;` tab. A header no delimiter splits into a recognised name is refused."""
    if "\x00" in header_line:
        raise CsvFileError("The first line holds NUL bytes: the file looks like UTF-16 without its byte order mark. "
                           "Save it as \"CSV UTF-8\" and import it again.")
    best, best_score = None, 0
    for delimiter in DELIMITERS:
        try:
            cells = next(csv.reader([header_line], delimiter=delimiter), [])
        except csv.Error:
            continue
        score = sum(1 for cell in cells if header_key(cell) in _TEMPLATE_KEYS)
        if score > best_score:
            best, best_score = delimiter, score
    if best is None:
        raise CsvFileError("The first line is not the template's header: split on \",\", \";\" or tab, it names none "
                           "of the template's columns (" + ", ".join(CUSTOMER_CSV_HEADER) + "). " + _TEMPLATE_HELP)
    return best


def read_records(lines: Iterable[str], delimiter: str = ",") -> Iterator[list[str]]:
    """CSV records (header first); quoting errors name the row they were found in."""
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    number = 0
    while True:
        number += 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise CsvFileError(f"Row {number} is not valid CSV ({error}); check its quotes.") from error
        yield cells


def open_csv(lines: Iterable[str]) -> tuple[Layout, Iterator[list[str]]]:
    """The file's layout (delimiter and header), and its data records."""
    stream = iter(lines)
    first = next(stream, None)
    if first is None or not first.strip():
        raise CsvFileError("The file is empty; it needs at least the template's header. " + _TEMPLATE_HELP)
    delimiter = detect_delimiter(first)
    records = read_records(itertools.chain([first], stream), delimiter)
    return match_header(next(records, []), delimiter), records


def match_header(cells: list[str], delimiter: str = ",") -> Layout:
    """Every template column once, in any order; the export's extra columns ignored; nothing else.
    Empty trailing cells, which spreadsheets sometimes add, are allowed."""
    found = [cell.replace("\ufeff", "").strip() for cell in cells]
    while found and not found[-1]:
        found.pop()
    columns: list[CustomerCsvColumn | None] = []
    seen: set[str] = set()
    unknown: list[str] = []
    problems: list[str] = []
    for position, name in enumerate(found, start=1):
        key = header_key(name)
        if not key:
            problems.append(f"column {position} has no name")
        elif key in seen:
            problems.append(f"{name} appears twice")
        elif key not in _TEMPLATE_KEYS and key not in _IGNORED_KEYS:
            unknown.append(name)
        seen.add(key)
        columns.append(_TEMPLATE_KEYS.get(key))
    missing = [column.header for key, column in _TEMPLATE_KEYS.items() if key not in seen]
    if unknown:
        problems.append("unknown column" + ("s " if len(unknown) > 1 else " ") + ", ".join(unknown)
                        + " (its cells would be lost: delete it or rename it as the template's)")
    if missing:
        problems.append("missing " + ", ".join(missing))
    if problems:
        raise CsvFileError(
            "The header is not the template's: " + "; ".join(problems) + ". Columns are matched by name in any "
            "order (case, spaces and underscores aside): " + ", ".join(CUSTOMER_CSV_HEADER) + "; the customer list "
            "export's " + ", ".join(c.header for c in CUSTOMER_LIST_EXTRA_COLUMNS) + " and a rejected-rows file's "
            + IMPORT_REASON_HEADER + " are ignored. " + _TEMPLATE_HELP)
    keys = [header_key(name) for name in found]
    customer_id_at = keys.index(_CUSTOMER_ID_KEY) if _CUSTOMER_ID_KEY in keys else None
    return Layout(delimiter, tuple(found), tuple(columns), customer_id_at)


def check_header(cells: list[str] | None) -> None:
    """Raises CsvFileError unless `cells` is an acceptable header (see `match_header`)."""
    if cells is None:
        raise CsvFileError("The file is empty; it needs at least the template's header. " + _TEMPLATE_HELP)
    match_header(cells)


def unescape_cell(text: str) -> str:
    """Trimmed, with the spreadsheet escapes of our exports undone."""
    return read_text(text)


def parse_row(row: int, cells: list[str], layout: Layout | None = None) -> CustomerRow | RowError | None:
    """Cells → a CustomerRow (formats checked), a RowError, or None for a blank row."""
    layout = layout or TEMPLATE_LAYOUT
    width = len(layout.columns)
    while len(cells) > width and not cells[-1].strip():
        cells = cells[:-1]  # trailing empty cells, as under a header with trailing empty cells
    if not any(cell.strip() for cell in cells):
        return None
    if len(cells) != width:
        return RowError(row, f"The row has {len(cells)} cells; the header has {width}.")
    values: dict[str, str | None] = {}
    tags: list[str] | None = None
    for column, raw in zip(layout.columns, cells, strict=True):
        if column is None:
            continue
        text = unescape_cell(raw)
        if len(text) > MAX_CELL_CHARS:
            return RowError(row, f"{column.header} is longer than {MAX_CELL_CHARS} characters.")
        if column.field == "tags":
            tags = _split_tags(text) if text else None
            continue
        values[column.field] = text or None
    problem = _format_problem(values, tags)
    if problem:
        return RowError(row, problem)
    customer_id = unescape_cell(cells[layout.customer_id_at]) or None if layout.customer_id_at is not None else None
    warning = postal_code_warning(values["address.country"], values["address.postal_code"])
    warnings = [RowWarning(row, _header_of("address.postal_code"), warning)] if warning else []
    return CustomerRow(row, values, tags, customer_id, warnings)


TEMPLATE_LAYOUT = Layout(",", CUSTOMER_CSV_HEADER, CUSTOMER_CSV_COLUMNS)


def _split_tags(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for tag in text.split(TAG_SEPARATOR):
        if tag.strip():
            seen.setdefault(tag.strip(), None)
    return list(seen)


def _format_problem(values: dict[str, str | None], tags: list[str] | None) -> str | None:
    if not values["username"] and not values["email"]:
        return "Username or Email is required to identify the customer."
    for name, limit in _FIELD_LIMITS.items():
        value = values.get(name)
        if value is not None and len(value) > limit:
            return f"{_header_of(name)} is longer than {limit} characters."
    if values["email"] and values["email"] != REDACTED and not _EMAIL.match(values["email"]):
        return "Email is not a valid email address."
    country = values["address.country"]
    if country is not None:
        values["address.country"] = country = country.upper()
        if country not in COUNTRY_CODES:
            return "Country Code must be an ISO 3166-1 alpha-2 code such as FR or US."
    if tags is not None:
        if len(tags) > MAX_TAGS:
            return f"Tags has {len(tags)} tags; a customer has at most {MAX_TAGS}."
        if any(len(tag) > MAX_TAG_LENGTH for tag in tags):
            return f"A tag is longer than {MAX_TAG_LENGTH} characters."
    return None


def _header_of(field_name: str) -> str:
    return next(c.header for c in CUSTOMER_CSV_COLUMNS if c.field == field_name)


# --- what a row does to a record ------------------------------------------------------------------
def new_customer(row: CustomerRow, now: datetime) -> Customer:
    """A `manual` record from a row that matched nobody, if the row holds what creation needs."""
    values = row.values
    if not any(values[name] for name in _NAME_FIELDS):
        raise RowRejected("A new customer needs First Name, Last Name, Full Name or Company Name.")
    address = _address_from({part: values[f"address.{part}"] for part in _ADDRESS_PARTS}, creating=True)
    return Customer(id=new_id("cus"), username=values["username"], email=values["email"],
                    first_name=values["first_name"], last_name=values["last_name"], name=values["name"],
                    company=values["company"], phone=values["phone"], address=address,
                    tags=row.tags or [], store=STORE_MANUAL, created_at=now, updated_at=now)


def updated_customer(current: Customer, row: CustomerRow, blank_cells: BlankCells,
                     tags: TagsMode = "merge") -> Customer:
    """The record after the row: given cells replace stored values; blank cells keep them, or
    clear them with `blank_cells=clear` (the identifier the row matched by is never blank).
    Tags: `merge` adds the row's tags to the stored ones (none is ever removed, whatever
    `blank_cells` says); `replace` makes them the row's (a blank cell: as `blank_cells` says)."""
    clear = blank_cells == "clear"
    changes: dict[str, object] = {}
    for name in ("username", "email", "first_name", "last_name", "name", "company", "phone"):
        value = row.values[name]
        if value is not None or clear:
            changes[name] = value
    if tags == "merge":
        if row.tags:
            merged = list(dict.fromkeys([*current.tags, *row.tags]))
            if len(merged) > MAX_TAGS:
                raise RowRejected(f"With the row's tags the customer would have {len(merged)} tags; a customer has "
                                  f"at most {MAX_TAGS}. Import with tags=replace to set exactly the row's tags.")
            changes["tags"] = merged
    elif row.tags is not None or clear:
        changes["tags"] = row.tags or []
    parts = {part: row.values[f"address.{part}"] for part in _ADDRESS_PARTS}
    if any(v is not None for v in parts.values()) or clear:
        stored = current.address.model_dump() if current.address else {}
        merged_parts = {part: (parts[part] if parts[part] is not None or clear else stored.get(part))
                        for part in _ADDRESS_PARTS}
        address = _address_from(merged_parts, creating=False)
        if current.address is not None and address is not None:
            # Names, phone and language on the stored address are not CSV columns: keep them.
            address = current.address.model_copy(update=address.model_dump(include=set(_ADDRESS_PARTS)))
        changes["address"] = address
    updated = current.model_copy(update=changes)
    if not updated.username and not updated.email:
        raise RowRejected("The customer would have neither Username nor Email.")
    return updated


def _address_from(parts: dict[str, str | None], *, creating: bool) -> Address | None:
    if not any(parts.values()):
        if creating:
            raise RowRejected("A new customer needs Address Line 1, City and Country Code.")
        return None
    missing = [_header_of(f"address.{p}") for p in ("address_1", "city", "country") if not parts.get(p)]
    if missing:
        raise RowRejected(f"The address needs {', '.join(missing)}.")
    country = str(parts["country"])
    if country in STATE_REQUIRED and not parts.get("region"):
        raise RowRejected(f"State is required for addresses in {country}.")
    if country not in POSTAL_CODE_NOT_USED and not parts.get("postal_code"):
        raise RowRejected(f"Postal Code is required for addresses in {country}.")
    try:
        return Address.model_validate({k: v for k, v in parts.items() if v is not None})
    except ValidationError as error:
        raise RowRejected("The address is not valid: " + "; ".join(e["msg"] for e in error.errors())) from error


# The template's sample row: every column filled, valid as it is (importing the template creates
# this one customer), written with the spreadsheet escapes of our exports.
TEMPLATE_SAMPLE: dict[str, str] = {
    "Username": "camille.dupont", "Email": "camille.dupont@example.com", "First Name": "Camille",
    "Last Name": "Dupont", "Full Name": "Camille Dupont", "Company Name": "Atelier Lune", "Phone": "06 12 34 56 78",
    "Address Line 1": "12 rue des Lilas", "Address Line 2": "Bâtiment B", "City": "Bourg-en-Bresse", "State": "",
    "Postal Code": "01000", "Country Code": "FR", "Tags": "vip;wholesale"}


def template_csv() -> bytes:
    """`CustomerImportSample.csv`: the header and one sample row, UTF-8 with BOM and CRLF like our exports."""
    sample = [spreadsheet_text(TEMPLATE_SAMPLE[c.header], digits_text=c.kind == "digits_text", starts_line=not n)
              for n, c in enumerate(CUSTOMER_CSV_COLUMNS)]
    return ("\ufeff" + csv_line(CUSTOMER_CSV_HEADER) + csv_line(sample)).encode("utf-8")
