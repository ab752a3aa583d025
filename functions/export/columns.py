"""Columns of the shipment export (API.md, Exports) and how each one is written.

The kind decides the spreadsheet treatment (DESIGN.md §1.4):
- `digits_text`: text that must stay text even when made only of digits (ids, tracking numbers,
  postal codes, phone numbers); a spreadsheet would otherwise turn it into a number and drop
  leading zeros or digits past the fifteenth.
- `text`: free text.
- `number`: amounts, dimensions, weights and counters Colis writes itself, written plain.
- `bool`, `datetime`: written as `true`/`false` and ISO 8601 UTC.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class ColumnKind(StrEnum):
    DIGITS_TEXT = "digits_text"
    TEXT = "text"
    NUMBER = "number"
    BOOL = "bool"
    DATETIME = "datetime"


class Column(NamedTuple):
    name: str
    kind: ColumnKind


_D = ColumnKind.DIGITS_TEXT
_T = ColumnKind.TEXT
_N = ColumnKind.NUMBER
_B = ColumnKind.BOOL
_DT = ColumnKind.DATETIME

# In the order of API.md; that order is part of the contract.
SHIPMENT_COLUMNS: tuple[Column, ...] = (
    Column("shipment_id", _D),
    Column("status", _T),
    Column("recipient_name", _T),
    Column("recipient_company", _T),
    Column("recipient_address_1", _T),
    Column("recipient_address_2", _T),
    Column("recipient_city", _T),
    Column("recipient_region", _T),
    Column("recipient_postal_code", _D),
    Column("recipient_country", _T),
    Column("recipient_phone", _D),
    Column("recipient_email", _T),
    Column("return_name", _T),
    Column("return_address_1", _T),
    Column("return_address_2", _T),
    Column("return_city", _T),
    Column("return_region", _T),
    Column("return_postal_code", _D),
    Column("return_country", _T),
    Column("contents", _T),
    Column("description", _T),
    Column("value", _N),
    Column("currency", _T),
    Column("order_id", _D),
    Column("store", _T),
    Column("package_type", _T),
    Column("size_unit", _T),
    Column("length", _N),
    Column("width", _N),
    Column("height", _N),
    Column("weight_unit", _T),
    Column("weight", _N),
    Column("insurance_amount", _N),
    Column("signature_confirmation", _B),
    Column("postage_type", _T),
    Column("carrier", _T),
    Column("tracking_number", _D),
    Column("tracking_url", _T),
    Column("ship_date", _DT),
    Column("shipping_fee", _N),
    Column("provincial_tax", _N),
    Column("federal_tax", _N),
    Column("postage_fee", _N),
    Column("insurance_fee", _N),
    Column("created_at", _DT),
    Column("batch_id", _D),
    Column("parcel_index", _N),
    Column("parcel_count", _N),
)

SHIPMENT_HEADER: tuple[str, ...] = tuple(column.name for column in SHIPMENT_COLUMNS)
