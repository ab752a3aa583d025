"""A customer record (DESIGN.md §1.5) and the values around it: the duplicate-address entry, the
claim fence, and the CSV columns shared by the import and the customer list export."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from shared.values.models import Address, empty_list

STORE_MANUAL = "manual"
MAX_TAGS = 40  # a merge writes at most 2 x MAX_TAGS tag entries + 6 items in one transaction (limit 100)
MAX_TAG_LENGTH = 100
TAG_SEPARATOR = ";"


class Customer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    username: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    name: str | None = None
    company: str | None = None
    phone: str | None = None
    address: Address | None = None
    tags: list[str] = Field(default_factory=empty_list)
    store: str = STORE_MANUAL
    merged_into: str | None = None
    created_at: datetime
    updated_at: datetime | None = None
    erased_at: datetime | None = None
    # Optimistic locking: every write checks the version it read.
    version: int = Field(default=0, exclude=True)



class AddressEntry(BaseModel):
    fingerprint: str
    owner_id: str
    customer_id: str
    email_digest: str | None = None



class Fence(NamedTuple):
    """The merchant's claim fence, a sequence lock that lets the CSV import claim usernames and
    emails with BatchWriteItem (unconditional) instead of one conditional write each.

    An import chunk takes the fence (`seq` + 1, `busy`), reads the claims of its rows (consistent),
    writes the claims of the identifiers it found free, then releases it. A single creation (API,
    order import) reads the fence before and after its transaction: if no chunk was busy and `seq`
    did not move, no chunk can have missed its claim; otherwise it waits for that chunk to end and
    checks its claims still name it, taking the creation back if one was overwritten (the chunk
    read before the creation committed, so the chunk's record is the one that keeps the
    identifier). A change of identifier on an existing record (PATCH) holds the fence instead.
    Whichever of the two reads second sees the other's write: no identifier ends up on two records.
    """

    seq: int
    busy: bool
    lease_until: datetime | None



# --- CSV columns (DESIGN.md §4), shared with the customer list export ------------------------------
class CustomerCsvColumn(NamedTuple):
    header: str
    field: str  # attribute of Customer, `address.<x>` for address parts
    # `functions.export.columns.ColumnKind` value: digits-only text that must stay text in a
    # spreadsheet (leading zeros) is `digits_text`.
    kind: str


CUSTOMER_CSV_COLUMNS: tuple[CustomerCsvColumn, ...] = (
    CustomerCsvColumn("Username", "username", "digits_text"),
    CustomerCsvColumn("Email", "email", "text"),
    CustomerCsvColumn("First Name", "first_name", "text"),
    CustomerCsvColumn("Last Name", "last_name", "text"),
    CustomerCsvColumn("Full Name", "name", "text"),
    CustomerCsvColumn("Company Name", "company", "text"),
    CustomerCsvColumn("Phone", "phone", "digits_text"),
    CustomerCsvColumn("Address Line 1", "address.address_1", "text"),
    CustomerCsvColumn("Address Line 2", "address.address_2", "text"),
    CustomerCsvColumn("City", "address.city", "text"),
    CustomerCsvColumn("State", "address.region", "text"),
    CustomerCsvColumn("Postal Code", "address.postal_code", "digits_text"),
    CustomerCsvColumn("Country Code", "address.country", "text"),
    CustomerCsvColumn("Tags", "tags", "text"),
)
CUSTOMER_CSV_HEADER: tuple[str, ...] = tuple(column.header for column in CUSTOMER_CSV_COLUMNS)

# What the customer list export writes after the template's columns: what the import does not take
# (it accepts and ignores them, so an exported list re-imports as it is). `Customer ID` only keeps
# a row of an erased customer from recreating them; rows match by Username, else Email.
CUSTOMER_LIST_EXTRA_COLUMNS: tuple[CustomerCsvColumn, ...] = (
    CustomerCsvColumn("Customer ID", "id", "text"),
    CustomerCsvColumn("Store", "store", "text"),
    CustomerCsvColumn("Created At", "created_at", "datetime"),
    CustomerCsvColumn("Erased At", "erased_at", "datetime"),
)
CUSTOMER_LIST_COLUMNS = CUSTOMER_CSV_COLUMNS + CUSTOMER_LIST_EXTRA_COLUMNS
# The last column of an import's rejected-rows file; the import ignores it too (a fixed file goes back as it is).
IMPORT_REASON_HEADER = "reason"


def customer_to_csv_row(customer: Customer) -> dict[str, object]:
    """Header → raw cell value ("" when empty; datetimes as they are) in the customer list's
    columns. The exporter applies its spreadsheet escaping (`="digits"`, leading `'`), which the
    import undoes, so an exported file re-imports unchanged."""
    row: dict[str, object] = {}
    for column in CUSTOMER_LIST_EXTRA_COLUMNS:
        row[column.header] = getattr(customer, column.field)
    for column in CUSTOMER_CSV_COLUMNS:
        if column.field == "tags":
            row[column.header] = TAG_SEPARATOR.join(customer.tags)
            continue
        owner: Any = customer
        name = column.field
        if name.startswith("address."):
            owner, name = customer.address, name.removeprefix("address.")
        value = getattr(owner, name, None) if owner is not None else None
        row[column.header] = "" if value is None else str(value)
    return row
