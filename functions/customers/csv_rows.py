"""Customer CSV files (DESIGN.md §4), the pure part: decoding, the header check, cells, and what a
row does to a record. No I/O here; the importer feeds bytes in and writes records out.

File rules: UTF-8 with or without BOM, CRLF or LF, quoted fields with commas and newlines. Rows
are numbered as a spreadsheet shows them: the header is row 1 and a quoted newline does not start
a new row. A row whose cells are all empty is ignored. Cells are trimmed, and the escapes our
own exports add for spreadsheets are undone (`="00123"` → `00123`, `'+33…` → `+33…`), so an
exported customer list re-imports unchanged.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import ValidationError

from shared.customers.model import (
    CUSTOMER_CSV_COLUMNS,
    CUSTOMER_CSV_HEADER,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    STORE_MANUAL,
    TAG_SEPARATOR,
    Customer,
)
from shared.platform.ids import new_id
from shared.values.cells import restore_text
from shared.values.models import Address

BlankCells = Literal["keep", "clear"]
MAX_CELL_CHARS = 1000  # far above any field's limit; a longer cell is a broken file
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DIGITS_FORMULA = re.compile(r'^="([0-9]*)"$')

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


@dataclass
class CustomerRow:
    """One data row: field → trimmed text, None when the cell is blank."""

    row: int
    values: dict[str, str | None]
    tags: list[str] | None  # None: blank Tags cell

    @property
    def username(self) -> str | None:
        return self.values["username"]

    @property
    def email(self) -> str | None:
        return self.values["email"]


# --- bytes → rows -----------------------------------------------------------------------------------
def decoded_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """UTF-8 text (a leading BOM dropped) cut after each LF, in constant memory. csv.reader joins
    lines itself when a quoted field spans them, and handles the CR of CRLF."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    pending = ""
    try:
        for chunk in chunks:
            pending += decoder.decode(chunk)
            *complete, pending = pending.split("\n")
            for line in complete:
                yield line + "\n"
        pending += decoder.decode(b"", final=True)
    except UnicodeDecodeError as error:
        raise CsvFileError("The file is not UTF-8 text; save it as \"CSV UTF-8\" and import it again.") from error
    if pending:
        yield pending


def read_records(lines: Iterable[str]) -> Iterator[list[str]]:
    """CSV records (header first); quoting errors name the row they were found in."""
    reader = csv.reader(lines, strict=True)
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


def check_header(cells: list[str] | None) -> None:
    """The template's header, in its order (case and surrounding spaces aside); empty trailing
    cells, which spreadsheets sometimes add, are allowed."""
    if cells is None:
        raise CsvFileError("The file is empty; it needs at least the template's header. Download the template "
                           "from /v1/customers/import-template.")
    found = [cell.strip().lstrip("\ufeff").strip() for cell in cells]
    while found and not found[-1]:
        found.pop()
    if [c.casefold() for c in found] != [c.casefold() for c in CUSTOMER_CSV_HEADER]:
        raise CsvFileError("The header is not the template's. Expected: " + ", ".join(CUSTOMER_CSV_HEADER)
                           + ". Download the template from /v1/customers/import-template.")


def unescape_cell(text: str) -> str:
    """Trimmed, with the spreadsheet escapes of our exports undone."""
    text = text.strip()
    digits = _DIGITS_FORMULA.match(text)
    if digits:
        return digits.group(1)
    return restore_text(text)


def parse_row(row: int, cells: list[str]) -> CustomerRow | RowError | None:
    """Cells → a CustomerRow (formats checked), a RowError, or None for a blank row."""
    while len(cells) > len(CUSTOMER_CSV_COLUMNS) and not cells[-1].strip():
        cells = cells[:-1]  # trailing empty cells, as under a header with trailing empty cells
    if not any(cell.strip() for cell in cells):
        return None
    if len(cells) != len(CUSTOMER_CSV_COLUMNS):
        return RowError(row, f"The row has {len(cells)} cells; the template has {len(CUSTOMER_CSV_COLUMNS)}.")
    values: dict[str, str | None] = {}
    tags: list[str] | None = None
    for column, raw in zip(CUSTOMER_CSV_COLUMNS, cells, strict=True):
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
    return CustomerRow(row, values, tags)


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
    if values["email"] and not _EMAIL.match(values["email"]):
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


def updated_customer(current: Customer, row: CustomerRow, blank_cells: BlankCells) -> Customer:
    """The record after the row: given cells replace stored values; blank cells keep them, or
    clear them with `blank_cells=clear` (the identifier the row matched by is never blank)."""
    clear = blank_cells == "clear"
    changes: dict[str, object] = {}
    for name in ("username", "email", "first_name", "last_name", "name", "company", "phone"):
        value = row.values[name]
        if value is not None or clear:
            changes[name] = value
    if row.tags is not None or clear:
        changes["tags"] = row.tags or []
    parts = {part: row.values[f"address.{part}"] for part in _ADDRESS_PARTS}
    if any(v is not None for v in parts.values()) or clear:
        stored = current.address.model_dump() if current.address else {}
        merged = {part: (parts[part] if parts[part] is not None or clear else stored.get(part)) for part in _ADDRESS_PARTS}
        address = _address_from(merged, creating=False)
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


def template_csv() -> bytes:
    """`CustomerImportSample.csv`: the header, UTF-8 with BOM and CRLF like our exports."""
    return ("\ufeff" + ",".join(CUSTOMER_CSV_HEADER) + "\r\n").encode("utf-8")
