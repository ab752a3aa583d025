"""Customer records (DESIGN.md §1.5): model, repository, unique usernames and emails, tags,
address fingerprints for duplicate candidates, and the CSV column table shared with exports.

Identity rules:
- a username is compared exactly (after trimming surrounding spaces); an email is compared
  case-insensitively (`str.casefold`). Both are unique per merchant, each through a unique-key item
  (`keys.customer_username` / `keys.customer_email`) that names the record owning it. Creating or
  changing a record puts its unique-key items with `attribute_not_exists` in the same transaction.
- an absorbed record keeps `merged_into`; its unique-key items are repointed to the master, and
  every read (`get`, `find_by_username`, `find_by_email`) answers with the master.
- the bulk CSV import claims unique-key items one by one (conditional puts) before writing the
  records in batches, so a claim can briefly exist before its record: readers treat a claim whose
  record is missing as "nobody", creators wait for it, and a claim left behind by a crashed
  import is taken over once it is `STALE_CLAIM_SECONDS` old.
"""


import time
import unicodedata
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from shared.dynamo import keys
from shared.dynamo.paging import Page, query_page
from shared.errors import NotFound, Refused, Unavailable
from shared.platform import aws, clock
from shared.platform.ids import new_id
from shared.values.models import Address, empty_list, without_nulls

STORE_MANUAL = "manual"
MAX_TAGS = 40  # a merge writes at most 2 x MAX_TAGS tag entries + 6 items in one transaction (limit 100)
MAX_TAG_LENGTH = 100
TAG_SEPARATOR = ";"
STALE_CLAIM_SECONDS = 300
FENCE_LEASE_SECONDS = 180
FENCE_WAIT_SECONDS = 60
MAX_MERGE_CHAIN = 20
CUSTOMER_MERGED = "CustomerMerged"
_BATCH_GET_LIMIT = 100


def email_key(email: str) -> str:
    """The form under which emails are compared: case-insensitive."""
    return email.strip().casefold()


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


# --- address fingerprints (duplicate candidates) -----------------------------------------------
def _fold(text: str | None) -> str:
    """Case, spacing, punctuation and accents ignored: `Rue de l'Église` == `RUE DE L EGLISE`.
    Accents are folded because the same street is often typed with and without them."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch))


def address_fingerprint(address: Address) -> str:
    """Country + postal code + first address line, normalised by `_fold`, then hashed so that the
    index keys carry no address. Prefixed by the country, which keeps keys readable."""
    country = address.country.upper()
    normalised = f"{country}|{_fold(address.postal_code)}|{_fold(address.address_1)}"
    return f"{country}-{keys.digest(normalised)[:40]}"


def address_entry_item(merchant_id: str, owner_id: str, customer_id: str, email: str | None,
                       address: Address) -> dict[str, Any]:
    """The full item (keys included) recording one address for duplicate detection.

    `owner_id` is the order id for an imported order's shipping address, or the customer id for a
    customer record's address. The email is kept only as a digest of its case-folded form (enough
    to tell "different emails" apart). Delete it with `keys.address_entry(merchant_id, owner_id)`
    when the owner's address is redacted or erased."""
    fingerprint = address_fingerprint(address)
    item: dict[str, Any] = {
        **keys.address_entry(merchant_id, owner_id),
        **keys.index_entry(keys.GSI2, keys.addresses_of_merchant(merchant_id), f"{fingerprint}#{owner_id}"),
        "fingerprint": fingerprint, "owner_id": owner_id, "customer_id": customer_id,
    }
    if email and email != "redacted":
        item["email_digest"] = keys.digest(email_key(email))
    return item


class AddressEntry(BaseModel):
    fingerprint: str
    owner_id: str
    customer_id: str
    email_digest: str | None = None


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


def customer_to_csv_row(customer: Customer) -> dict[str, str]:
    """Header → raw cell text ("" when empty). The exporter applies its spreadsheet escaping
    (`="digits"`, leading `'`), which the import undoes, so an exported file re-imports unchanged."""
    row: dict[str, str] = {}
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


# --- items --------------------------------------------------------------------------------------


def customer_to_item(merchant_id: str, customer: Customer, *, outbox: dict[str, Any] | None = None,
                     import_id: str | None = None, import_row: int | None = None) -> dict[str, Any]:
    data = without_nulls(customer.model_dump(mode="json"))
    created = clock.isoformat(customer.created_at)
    data.update(merchant_id=merchant_id, created_at=created, version=customer.version)
    if customer.updated_at:
        data["updated_at"] = clock.isoformat(customer.updated_at)
    # Masters are listed; an absorbed record moves to its master's "merged" partition.
    partition = (keys.customers_merged_into(merchant_id, customer.merged_into) if customer.merged_into
                 else keys.customers_of_merchant(merchant_id))
    item = {**keys.customer(merchant_id, customer.id), **data,
            **keys.index_entry(keys.GSI1, partition, keys.sortable(created, customer.id))}
    if outbox:
        item["outbox"] = outbox
    if import_id:
        # Lets a resumed import recognise the records it created itself before a crash.
        item["import_id"], item["import_row"] = import_id, import_row
    return item


def customer_from_item(item: dict[str, Any]) -> Customer:
    data = keys.strip_keys(item)
    for internal in ("outbox", "merchant_id", "import_id", "import_row"):
        data.pop(internal, None)
    data["version"] = int(data.get("version", 0))
    return Customer.model_validate(data)


def tag_entry_item(merchant_id: str, customer: Customer, tag: str) -> dict[str, Any]:
    created = clock.isoformat(customer.created_at)
    return {**keys.customer_tag(merchant_id, customer.id, tag),
            **keys.index_entry(keys.GSI1, keys.customers_by_tag(merchant_id, tag), keys.sortable(created, customer.id)),
            "customer_id": customer.id, "tag": tag}


def claim_keys(merchant_id: str, customer: Customer) -> dict[str, dict[str, str]]:
    """kind → key of the unique-key items the record owns."""
    claims: dict[str, dict[str, str]] = {}
    if customer.username:
        claims["username"] = keys.customer_username(merchant_id, customer.username)
    if customer.email and customer.email != "redacted":
        claims["email"] = keys.customer_email(merchant_id, email_key(customer.email))
    return claims


def claim_item(claim_key: dict[str, str], kind: str, customer_id: str, *, import_id: str | None = None) -> dict[str, Any]:
    item = {**claim_key, "customer_id": customer_id, "kind": kind, "claimed_at": clock.isoformat(clock.now())}
    if import_id:
        item["import_id"] = import_id
    return item


def index_items(merchant_id: str, customer: Customer) -> list[dict[str, Any]]:
    """Tag entries and the address entry of a record (what a creation writes beside it)."""
    items = [tag_entry_item(merchant_id, customer, tag) for tag in customer.tags]
    if customer.address is not None:
        items.append(address_entry_item(merchant_id, customer.id, customer.id, customer.email, customer.address))
    return items


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


class ClaimTaken(Refused):
    """A username or email belongs to another record."""

    def __init__(self, kind: str, owner_id: str | None) -> None:
        owner = f" by customer {owner_id}" if owner_id else ""
        super().__init__(f"That {kind} is already used{owner}; each customer needs its own {kind}.")
        self.kind = kind
        self.owner_id = owner_id


class ConcurrentChange(Refused):
    """The record changed since it was read (optimistic locking): re-read and retry."""


class _Cancelled(Exception):
    def __init__(self, failed: list[str], contended: bool) -> None:
        super().__init__(f"transaction cancelled: {failed} contended={contended}")
        self.failed = failed
        self.contended = contended


class CustomerRepository:
    def __init__(self, table: Any | None = None) -> None:
        self._table = table if table is not None else aws.table()

    @property
    def table(self) -> Any:
        return self._table

    @property
    def client(self) -> Any:
        """Thread-safe client that takes plain Python values (the resource's own client)."""
        return self._table.meta.client

    # --- reads ------------------------------------------------------------------------------------
    def find(self, merchant_id: str, customer_id: str, *, consistent: bool = False) -> Customer | None:
        """The record itself, absorbed or not."""
        item = self._table.get_item(Key=keys.customer(merchant_id, customer_id), ConsistentRead=consistent).get("Item")
        return customer_from_item(item) if item else None

    def resolve(self, merchant_id: str, customer: Customer, *, consistent: bool = False) -> Customer:
        """The master of an absorbed record (following earlier merges), else the record."""
        for _ in range(MAX_MERGE_CHAIN):
            if not customer.merged_into:
                return customer
            master = self.find(merchant_id, customer.merged_into, consistent=consistent)
            if master is None:
                return customer
            customer = master
        return customer

    def get(self, merchant_id: str, customer_id: str, *, consistent: bool = False) -> Customer:
        """The record, or its master when it was absorbed; NotFound otherwise."""
        found = self.find(merchant_id, customer_id, consistent=consistent)
        if found is None:
            raise NotFound(f"Customer {customer_id} does not exist.")
        return self.resolve(merchant_id, found, consistent=consistent)

    def claim_owner(self, claim_key: dict[str, str], *, consistent: bool = True) -> dict[str, Any] | None:
        return self._table.get_item(Key=claim_key, ConsistentRead=consistent).get("Item")

    def _find_by_claim(self, merchant_id: str, claim_key: dict[str, str], consistent: bool) -> Customer | None:
        claim = self.claim_owner(claim_key, consistent=consistent)
        if not claim:
            return None
        found = self.find(merchant_id, str(claim["customer_id"]), consistent=consistent)
        return self.resolve(merchant_id, found, consistent=consistent) if found else None

    def find_by_username(self, merchant_id: str, username: str, *, consistent: bool = False) -> Customer | None:
        username = username.strip()
        if not username:
            return None
        return self._find_by_claim(merchant_id, keys.customer_username(merchant_id, username), consistent)

    def find_by_email(self, merchant_id: str, email: str, *, consistent: bool = False) -> Customer | None:
        if not email.strip():
            return None
        return self._find_by_claim(merchant_id, keys.customer_email(merchant_id, email_key(email)), consistent)

    def batch_get_items(self, item_keys: list[dict[str, str]], *, consistent: bool = False,
                        executor: Executor | None = None) -> list[dict[str, Any]]:
        """BatchGetItem in pages of 100 (in parallel on `executor`), unprocessed keys retried with backoff."""
        unique = list({(k[keys.PK], k[keys.SK]): k for k in item_keys}.values())
        pages = [unique[i:i + _BATCH_GET_LIMIT] for i in range(0, len(unique), _BATCH_GET_LIMIT)]

        def read(page: list[dict[str, str]]) -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = []
            request = {self._table.name: {"Keys": page, "ConsistentRead": consistent}}
            for attempt in range(8):
                response = self.client.batch_get_item(RequestItems=request)
                found.extend(response.get("Responses", {}).get(self._table.name, []))
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    return found
                time.sleep(min(0.05 * 2 ** attempt, 1.0))
            raise Unavailable("DynamoDB kept throttling reads; retry later.")

        results = executor.map(read, pages) if executor is not None and len(pages) > 1 else map(read, pages)
        return [item for page in results for item in page]

    def batch_get(self, merchant_id: str, customer_ids: Iterable[str], *, consistent: bool = False) -> dict[str, Customer]:
        items = self.batch_get_items([keys.customer(merchant_id, i) for i in customer_ids], consistent=consistent)
        return {str(item["id"]): customer_from_item(item) for item in items}

    def masters_of(self, merchant_id: str, customer_ids: Iterable[str]) -> dict[str, Customer]:
        """id → master record, for many ids at once (absorbed ones followed to their master)."""
        records = self.batch_get(merchant_id, customer_ids)
        masters: dict[str, Customer] = {}
        for customer_id, record in records.items():
            masters[customer_id] = self.resolve(merchant_id, record)
        return masters

    def page(self, merchant_id: str, *, limit: int, cursor: str | None) -> Page:
        """Masters, newest first."""
        return query_page(self._table, merchant_id, index=keys.GSI1, limit=limit, cursor=cursor,
                          key_condition=Key(keys.GSI1.pk).eq(keys.customers_of_merchant(merchant_id)))

    def tag_page(self, merchant_id: str, tag: str, *, limit: int, cursor: str | None) -> tuple[list[Customer], str | None]:
        """Records carrying the tag, newest first (tag entries, then the records in one batch)."""
        page = query_page(self._table, merchant_id, index=keys.GSI1, limit=limit, cursor=cursor,
                          key_condition=Key(keys.GSI1.pk).eq(keys.customers_by_tag(merchant_id, tag)))
        ids = [str(entry["customer_id"]) for entry in page.items]
        records = self.batch_get(merchant_id, ids)
        # An entry left behind by an interrupted write is ignored: the record is the truth.
        found = [records[i] for i in ids if i in records and tag in records[i].tags and not records[i].merged_into]
        return found, page.next_cursor

    def iterate(self, merchant_id: str) -> Iterator[Customer]:
        """Every master record, oldest first (the customer list export walks this)."""
        request: dict[str, Any] = {"IndexName": keys.GSI1.name, "ScanIndexForward": True,
                                   "KeyConditionExpression": Key(keys.GSI1.pk).eq(keys.customers_of_merchant(merchant_id))}
        for item in _query_all(self._table, request):
            yield customer_from_item(item)

    def absorbed_ids(self, merchant_id: str, master_id: str) -> list[str]:
        """Records absorbed into the master, directly or through earlier merges (erasure uses it)."""
        found: list[str] = []
        pending = [master_id]
        while pending:
            current = pending.pop()
            request: dict[str, Any] = {"IndexName": keys.GSI1.name, "ProjectionExpression": "id",
                                       "KeyConditionExpression": Key(keys.GSI1.pk).eq(
                                           keys.customers_merged_into(merchant_id, current))}
            for item in _query_all(self._table, request):
                absorbed = str(item["id"])
                if absorbed not in found and absorbed != master_id:
                    found.append(absorbed)
                    pending.append(absorbed)
        return found

    def address_entries(self, merchant_id: str, *, start: dict[str, Any] | None,
                        page_size: int = 500) -> tuple[list[AddressEntry], list[dict[str, Any]], dict[str, Any] | None]:
        """One page of address entries in fingerprint order: (entries, their index positions, next start)."""
        request: dict[str, Any] = {"IndexName": keys.GSI2.name, "Limit": page_size, "ScanIndexForward": True,
                                   "KeyConditionExpression": Key(keys.GSI2.pk).eq(keys.addresses_of_merchant(merchant_id))}
        if start:
            request["ExclusiveStartKey"] = start
        response = self._table.query(**request)
        items = response.get("Items", [])
        positions = [{n: i[n] for n in (keys.PK, keys.SK, keys.GSI2.pk, keys.GSI2.sk)} for i in items]
        return [AddressEntry.model_validate(keys.strip_keys(i)) for i in items], positions, response.get("LastEvaluatedKey")

    # --- writes -----------------------------------------------------------------------------------
    def _transact(self, writes: list[tuple[dict[str, Any], str]]) -> None:
        """TransactWriteItems; on cancellation, `_Cancelled` names the conditions that failed."""
        if len(writes) > 100:
            raise ValueError("a DynamoDB transaction holds at most 100 items")
        try:
            self.client.transact_write_items(TransactItems=[operation for operation, _ in writes])
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            codes = [str(r.get("Code") or "None") for r in error.response.get("CancellationReasons") or []]
            if any(code not in ("None", "ConditionalCheckFailed", "TransactionConflict") for code in codes):
                raise
            failed = [writes[i][1] for i, code in enumerate(codes) if code == "ConditionalCheckFailed" and i < len(writes)]
            raise _Cancelled(failed, "TransactionConflict" in codes or not failed) from error

    def _put(self, item: dict[str, Any], name: str, condition: str | None = None,
             values: dict[str, Any] | None = None) -> tuple[dict[str, Any], str]:
        operation: dict[str, Any] = {"TableName": self._table.name, "Item": item}
        if condition:
            operation["ConditionExpression"] = condition
        if values:
            operation["ExpressionAttributeValues"] = values
        return {"Put": operation}, name

    def _delete(self, item_key: dict[str, str], name: str = "delete", condition: str | None = None,
                values: dict[str, Any] | None = None) -> tuple[dict[str, Any], str]:
        operation: dict[str, Any] = {"TableName": self._table.name, "Key": item_key}
        if condition:
            operation["ConditionExpression"] = condition
        if values:
            operation["ExpressionAttributeValues"] = values
        return {"Delete": operation}, name

    def _claim_conflict(self, merchant_id: str, kind: str, claim_key: dict[str, str]) -> ClaimTaken | None:
        """Why a claim failed: a live owner (ClaimTaken), or None after taking over a stale claim."""
        claim = self.claim_owner(claim_key)
        if not claim:
            return None  # released meanwhile: try again
        owner = str(claim["customer_id"])
        if self.find(merchant_id, owner, consistent=True) is not None:
            return ClaimTaken(kind, owner)
        if clock.now() - _parse_time(claim.get("claimed_at")) < timedelta(seconds=STALE_CLAIM_SECONDS):
            return ClaimTaken(kind, None)  # its record is being written right now
        self.release_claim(claim_key, owner)  # left behind by a crashed import
        return None

    def release_claim(self, claim_key: dict[str, str], owner_id: str) -> None:
        try:
            self.client.delete_item(TableName=self._table.name, Key=claim_key,
                                    ConditionExpression="customer_id = :owner",
                                    ExpressionAttributeValues={":owner": owner_id})
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    # --- the claim fence -----------------------------------------------------------------------------
    def read_fence(self, merchant_id: str) -> Fence:
        item = self._table.get_item(Key=keys.customer_claim_fence(merchant_id), ConsistentRead=True).get("Item") or {}
        lease = _parse_time(item.get("lease_until")) if item.get("lease_until") else None
        busy = bool(item.get("writing")) and lease is not None and lease > clock.now()
        return Fence(int(item.get("seq", 0)), busy, lease)

    def acquire_fence(self, merchant_id: str, holder: str, *, lease_seconds: int = FENCE_LEASE_SECONDS) -> Fence | None:
        """Take the fence (None while someone else holds it): one more `seq`, `writing` until released."""
        now = clock.now()
        until = now + timedelta(seconds=lease_seconds)
        try:
            response = self.client.update_item(
                TableName=self._table.name, Key=keys.customer_claim_fence(merchant_id),
                UpdateExpression="SET seq = if_not_exists(seq, :zero) + :one, writing = :yes, holder = :holder, "
                                 "lease_until = :until",
                ConditionExpression="attribute_not_exists(writing) OR writing = :no OR lease_until < :now",
                ExpressionAttributeValues={":zero": 0, ":one": 1, ":yes": True, ":no": False, ":holder": holder,
                                           ":until": clock.isoformat(until), ":now": clock.isoformat(now)},
                ReturnValues="ALL_NEW")
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return Fence(int(response["Attributes"]["seq"]), True, until)

    def hold_fence(self, merchant_id: str, holder: str, *, lease_seconds: int = FENCE_LEASE_SECONDS) -> Fence:
        """`acquire_fence`, waiting for the current holder (an import chunk claims for a few seconds)."""
        deadline = time.monotonic() + FENCE_WAIT_SECONDS
        pause = 0.02
        while True:
            fence = self.acquire_fence(merchant_id, holder, lease_seconds=lease_seconds)
            if fence is not None:
                return fence
            if time.monotonic() > deadline:
                raise Unavailable("Customer identifiers are being imported right now; retry in a minute.")
            time.sleep(pause)
            pause = min(pause * 2, 0.5)

    def release_fence(self, merchant_id: str, holder: str, seq: int) -> None:
        try:
            self.client.update_item(
                TableName=self._table.name, Key=keys.customer_claim_fence(merchant_id),
                UpdateExpression="SET writing = :no", ConditionExpression="holder = :holder AND seq = :seq",
                ExpressionAttributeValues={":no": False, ":holder": holder, ":seq": seq})
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise  # else: the lease ran out and someone else holds it now

    def _claims_lost(self, merchant_id: str, before: Fence, claims: dict[str, dict[str, str]], owner: str) -> list[str]:
        """After a creation: the kinds of claims an import chunk overwrote meanwhile (see `Fence`)."""
        if not claims:
            return []
        after = self.read_fence(merchant_id)
        if after.seq == before.seq and not before.busy and not after.busy:
            return []  # no chunk claimed while this write was in flight
        # Wait for the chunk that may have overlapped to release (a later `seq` means it did).
        overlapping, deadline = after.seq, time.monotonic() + FENCE_WAIT_SECONDS
        while after.busy and after.seq == overlapping:
            if time.monotonic() > deadline:
                raise Unavailable("Customer identifiers are being imported right now; retry in a minute.")
            time.sleep(0.05)
            after = self.read_fence(merchant_id)
        # A chunk that saw the creation may have matched the record and changed it: nothing was lost.
        # One that missed it overwrote the claims of a record it never touched (still version 1).
        record = self.find(merchant_id, owner, consistent=True)
        if record is None or record.version != 1:
            return []
        return [kind for kind, claim_key in claims.items()
                if (claim := self.claim_owner(claim_key)) and claim.get("customer_id") != owner]

    def _undo_create(self, merchant_id: str, customer: Customer) -> bool:
        """A creation that lost an identifier to an import chunk is taken back (it was never
        answered); False when the record changed meanwhile, which keeps it."""
        try:
            self.client.delete_item(TableName=self._table.name, Key=keys.customer(merchant_id, customer.id),
                                    ConditionExpression="version = :one", ExpressionAttributeValues={":one": 1})
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        self.batch_write([], [*(keys.customer_tag(merchant_id, customer.id, t) for t in customer.tags),
                              *([keys.address_entry(merchant_id, customer.id)] if customer.address else [])])
        for claim_key in claim_keys(merchant_id, customer).values():
            self.release_claim(claim_key, customer.id)
        return True

    # --- single writes ---------------------------------------------------------------------------------
    def create(self, merchant_id: str, customer: Customer) -> Customer:
        """Record, unique-key items, tag entries and address entry in one transaction. A username
        or email owned by another record → ClaimTaken (409)."""
        customer.version = 1
        claims = claim_keys(merchant_id, customer)
        writes = [self._put(customer_to_item(merchant_id, customer), "record", "attribute_not_exists(pk)")]
        writes += [self._put(claim_item(k, kind, customer.id), kind, "attribute_not_exists(pk)") for kind, k in claims.items()]
        writes += [self._put(item, "index") for item in index_items(merchant_id, customer)]
        for attempt in range(3):
            fence = self.read_fence(merchant_id)
            try:
                self._transact(writes)
            except _Cancelled as cancelled:
                for kind in cancelled.failed:
                    if kind in claims and (taken := self._claim_conflict(merchant_id, kind, claims[kind])):
                        raise taken from None
                time.sleep(0.05 * (attempt + 1))
                continue
            try:
                lost = self._claims_lost(merchant_id, fence, claims, customer.id)
            except Unavailable:
                if self._undo_create(merchant_id, customer):
                    raise
                return customer
            if not lost or not self._undo_create(merchant_id, customer):
                return customer
            owner = (self.claim_owner(claims[lost[0]]) or {}).get("customer_id")
            raise ClaimTaken(lost[0], str(owner) if owner else None)
        raise Unavailable("The customer could not be created because of concurrent changes; retry.")

    def save(self, merchant_id: str, before: Customer, after: Customer, *,
             outbox: dict[str, Any] | None = None) -> Customer:
        """Replace the record if nobody changed it since `before` (else Conflict), moving its unique-key
        items, tag entries and address entry along in the same transaction. A new username or email
        is claimed holding the claim fence (rare: a PATCH of an identifier)."""
        after.version = before.version + 1
        after.updated_at = clock.now()
        writes = [self._put(customer_to_item(merchant_id, after, outbox=outbox), "record",
                            "version = :v AND attribute_not_exists(merged_into)", {":v": before.version})]
        old_claims, new_claims = claim_keys(merchant_id, before), claim_keys(merchant_id, after)
        claimed = {kind: k for kind, k in new_claims.items() if old_claims.get(kind) != k}
        writes += [self._put(claim_item(k, kind, after.id), kind, "attribute_not_exists(pk)") for kind, k in claimed.items()]
        writes += [self._delete(k, "release", "customer_id = :me", {":me": after.id})
                   for kind, k in old_claims.items() if new_claims.get(kind) != k]
        writes += self._index_changes(merchant_id, before, after)
        holder = f"save:{after.id}:{uuid.uuid4().hex[:8]}"
        fence = self.hold_fence(merchant_id, holder) if claimed else None
        try:
            self._transact(writes)
        except _Cancelled as cancelled:
            for kind in cancelled.failed:
                if kind in claimed and (taken := self._claim_conflict(merchant_id, kind, claimed[kind])):
                    raise taken from None
            raise ConcurrentChange("The customer changed meanwhile; retry.") from None
        finally:
            if fence is not None:
                self.release_fence(merchant_id, holder, fence.seq)
        return after

    def _index_changes(self, merchant_id: str, before: Customer, after: Customer,
                       *, drop_all_of_before: bool = False) -> list[tuple[dict[str, Any], str]]:
        writes = []
        kept = set() if drop_all_of_before else set(after.tags)
        writes += [self._delete(keys.customer_tag(merchant_id, before.id, tag)) for tag in before.tags if tag not in kept]
        writes += [self._put(tag_entry_item(merchant_id, after, tag), "index")
                   for tag in after.tags if tag not in before.tags or drop_all_of_before]
        if after.address is not None and (after.address != before.address or after.email != before.email):
            writes.append(self._put(address_entry_item(merchant_id, after.id, after.id, after.email, after.address), "index"))
        elif after.address is None and before.address is not None:
            writes.append(self._delete(keys.address_entry(merchant_id, after.id)))
        return writes

    def absorb(self, merchant_id: str, master_before: Customer, master_after: Customer, absorbed: Customer,
               *, outbox: dict[str, Any]) -> Customer:
        """One merge step, atomic: the master takes its new values, the absorbed record is marked
        merged and leaves the list and tag indexes, and its username and email now name the master."""
        master_after.version = master_before.version + 1
        master_after.updated_at = clock.now()
        merged = absorbed.model_copy(update={"merged_into": master_after.id, "updated_at": clock.now(),
                                             "version": absorbed.version + 1})
        writes = [
            self._put(customer_to_item(merchant_id, master_after, outbox=outbox), "master",
                      "version = :v AND attribute_not_exists(merged_into)", {":v": master_before.version}),
            self._put(customer_to_item(merchant_id, merged), "absorbed",
                      "version = :v AND attribute_not_exists(merged_into)", {":v": absorbed.version}),
        ]
        for kind, claim_key in claim_keys(merchant_id, absorbed).items():
            claim = self.claim_owner(claim_key)
            if claim and claim.get("customer_id") == absorbed.id:
                writes.append(self._put(claim_item(claim_key, kind, master_after.id), "claim",
                                        "customer_id = :absorbed", {":absorbed": absorbed.id}))
        writes += [self._delete(keys.customer_tag(merchant_id, absorbed.id, tag)) for tag in absorbed.tags]
        writes += self._index_changes(merchant_id, master_before, master_after)
        try:
            self._transact(writes)
        except _Cancelled:
            raise ConcurrentChange("A customer of this merge changed meanwhile; retry.") from None
        return master_after

    # --- bulk writes (CSV import): conditional single puts where uniqueness needs them, batches else
    def put_if_unchanged(self, merchant_id: str, before: Customer, after: Customer) -> bool:
        """Replace the record if its version is still `before`'s and it was not absorbed meanwhile."""
        try:
            self.client.put_item(TableName=self._table.name, Item=customer_to_item(merchant_id, after),
                                 ConditionExpression="version = :v AND attribute_not_exists(merged_into)",
                                 ExpressionAttributeValues={":v": before.version})
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def index_changes(self, merchant_id: str, before: Customer, after: Customer) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        """(items to put, keys to delete) moving tag entries and the address entry from before to after."""
        puts: list[dict[str, Any]] = []
        deletes: list[dict[str, str]] = []
        for operation, _ in self._index_changes(merchant_id, before, after):
            if "Put" in operation:
                puts.append(operation["Put"]["Item"])
            else:
                deletes.append(operation["Delete"]["Key"])
        return puts, deletes

    def batch_write(self, puts: list[dict[str, Any]], deletes: list[dict[str, str]] | None = None) -> None:
        """BatchWriteItem, 25 per request, unprocessed items retried with backoff. Unconditional:
        only for items no one else can be writing (new ids, index entries)."""
        requests: dict[tuple[str, str], dict[str, Any]] = {}
        for item in puts:
            requests[(item[keys.PK], item[keys.SK])] = {"PutRequest": {"Item": item}}
        for item_key in deletes or []:
            requests[(item_key[keys.PK], item_key[keys.SK])] = {"DeleteRequest": {"Key": item_key}}
        pending = list(requests.values())
        for start in range(0, len(pending), 25):
            self._write_batch(pending[start:start + 25])

    def _write_batch(self, batch: list[dict[str, Any]]) -> None:
        request = {self._table.name: batch}
        for attempt in range(10):
            response = self.client.batch_write_item(RequestItems=request)
            request = response.get("UnprocessedItems") or {}
            if not request:
                return
            time.sleep(min(0.05 * 2 ** attempt, 2.0))
        raise Unavailable("DynamoDB kept throttling writes; retry later.")

    def find_or_create_for_order(self, merchant_id: str, *, store: str, username: str | None, email: str,
                                 first_name: str | None, last_name: str | None) -> Customer:
        """The customer an imported order belongs to: matched by username, else by email (both
        resolving to the master); created with the order's store when missing. Safe under
        concurrency: a creation that loses a race re-reads the winner."""
        username = (username or "").strip() or None
        for attempt in range(8):
            found = (self.find_by_username(merchant_id, username, consistent=True) if username else None) \
                or self.find_by_email(merchant_id, email, consistent=True)
            if found is not None:
                return found
            now = clock.now()
            candidate = Customer(id=new_id("cus"), username=username, email=email.strip(),
                                 first_name=(first_name or "").strip() or None,
                                 last_name=(last_name or "").strip() or None,
                                 store=store or STORE_MANUAL, created_at=now, updated_at=now)
            try:
                return self.create(merchant_id, candidate)
            except ClaimTaken:
                time.sleep(min(0.05 * 2 ** attempt, 0.5))  # the winner (or an import) is writing it
        raise Unavailable("The customer is being created by another request; retry.")


def _parse_time(value: object) -> datetime:
    if not value:
        return datetime.fromtimestamp(0, UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _query_all(table: Any, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    while True:
        response = table.query(**request)
        yield from response.get("Items", [])
        if "LastEvaluatedKey" not in response:
            return
        request = {**request, "ExclusiveStartKey": response["LastEvaluatedKey"]}
