"""Customer use cases: records, tags, merges, duplicate candidates, CSV imports (DESIGN.md §1.5, §4)."""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from functions.customers.csv_rows import BlankCells, CsvFileError, TagsMode
from functions.customers.importer import import_stream, validate_file
from functions.customers.rejected_rows import write_rejected_rows
from functions.customers.requests import CustomerIn, CustomerPatch
from shared.customers.imports import (
    MAX_ERRORS_SHOWN,
    Counters,
    CustomerImport,
    CustomerImportRepository,
    ImportRowError,
    ImportRowWarning,
    ImportStatus,
    errors_object_key,
    object_key,
)
from shared.customers.items import customer_from_item, search_terms
from shared.customers.model import MAX_TAGS, Customer
from shared.customers.store import CustomerRepository
from shared.dynamo.paging import decode_cursor, encode_cursor, list_scope
from shared.dynamo.retry import retry_changed
from shared.errors import Invalid, Malformed, NotFound, Refused
from shared.events.catalogue import CustomerMerged
from shared.events.outbox import outbox_entry
from shared.platform import clock
from shared.platform.ids import new_id
from shared.platform.observability import count, logger
from shared.values.search_terms import matches, query_pieces

RELINK_BATCH = 100
MAX_ABSORBED_PER_MERGE = 50
DUPLICATE_READ_BUDGET = 5_000  # address entries read per duplicates request before answering a cursor
DUPLICATES_LIST = list_scope("customer-duplicates")  # its cursors are positions in the address index
UPLOAD_URL_SECONDS = 900
ERRORS_URL_SECONDS = 900
MAX_UPLOAD_BYTES = 256 * 1024 * 1024
INTERRUPTED_AFTER = timedelta(minutes=30)


class OrderLinks(Protocol):
    """What a merge needs of the orders (implemented by `shared.orders.OrderRepository`)."""

    def order_ids_for_customer(self, merchant_id: str, customer_id: str) -> Iterator[str]: ...

    def relink_customer(self, merchant_id: str, order_id: str, from_customer_id: str, to_customer_id: str) -> bool: ...


# --- records ---------------------------------------------------------------------------------------
def create_customer(customers: CustomerRepository, merchant_id: str, body: CustomerIn) -> Customer:
    if not body.username and not body.email:
        raise Invalid("A customer needs a username or an email.",
                               errors=[{"field": "username", "type": "missing", "message": "username or email is required"}])
    now = clock.now()
    customer = Customer(id=new_id("cus"), **body.model_dump(), created_at=now, updated_at=now)
    customers.create(merchant_id, customer)
    count("CustomerCreated")
    return customer


def get_customer(customers: CustomerRepository, merchant_id: str, customer_id: str) -> Customer:
    return customers.get(merchant_id, customer_id)


def list_customers(customers: CustomerRepository, merchant_id: str, *, username: str | None, email: str | None,
                   tag: str | None, limit: int, cursor: str | None,
                   q: str | None = None) -> tuple[list[Customer], str | None]:
    """By username or email (at most one record: they are unique), else by `q` (search entries),
    else by tag, else all; masters only. Every filter given applies."""
    pieces = query_pieces(q) if q is not None else None
    if pieces == []:
        return [], None  # nothing searchable in it (control characters only): nothing matches
    if username or email:
        found: list[Customer | None] = []
        if username:
            found.append(customers.find_by_username(merchant_id, username))
        if email:
            found.append(customers.find_by_email(merchant_id, email))
        # Both given: the same record must answer to both.
        if any(c is None for c in found) or len({c.id for c in found if c}) != 1:
            return [], None
        match = found[0]
        wanted = match and (not tag or tag.strip() in match.tags) and (pieces is None or matches(pieces, search_terms(match)))
        return ([match] if match and wanted else []), None
    if pieces is not None:
        wanted_tag = tag.strip() if tag else None
        return customers.search_page(merchant_id, pieces, limit=limit, cursor=cursor,
                                     accept=(lambda record: wanted_tag in record.tags) if wanted_tag else None)
    if tag:
        return customers.tag_page(merchant_id, tag.strip(), limit=limit, cursor=cursor)
    page = customers.page(merchant_id, limit=limit, cursor=cursor)
    return [customer_from_item(item) for item in page.items], page.next_cursor


def patch_customer(customers: CustomerRepository, merchant_id: str, customer_id: str, patch: CustomerPatch) -> Customer:
    """The given fields replace the stored ones (`null` clears); an absorbed id edits its master."""
    given = {name: getattr(patch, name) for name in patch.model_fields_set}
    if "tags" in given and given["tags"] is None:
        given["tags"] = []

    def change() -> Customer:
        before = customers.get(merchant_id, customer_id, consistent=True)
        after = before.model_copy(update=given)
        if not after.username and not after.email:
            raise Invalid("A customer keeps a username or an email.",
                                   errors=[{"field": "email", "type": "missing", "message": "username or email is required"}])
        if after == before:
            return before
        return customers.save(merchant_id, before, after)

    return retry_changed(change)


def set_tags(customers: CustomerRepository, merchant_id: str, customer_id: str, tags: list[str]) -> Customer:
    """Replaces the tags; orders imported for the customer afterwards carry them."""

    def change() -> Customer:
        before = customers.get(merchant_id, customer_id, consistent=True)
        if before.tags == tags:
            return before
        return customers.save(merchant_id, before, before.model_copy(update={"tags": tags}))

    return retry_changed(change)


# --- merge -----------------------------------------------------------------------------------------
_FILLABLE = ("username", "email", "first_name", "last_name", "name", "company", "phone", "address")


def merged_values(master: Customer, absorbed: Customer) -> Customer:
    """The master after absorbing: its empty fields filled from the absorbed record (the address as
    a whole: parts of two addresses never mix), tags united (master's first); on conflicts the
    master keeps its own values, store included."""
    filled = {name: getattr(absorbed, name) for name in _FILLABLE
              if getattr(master, name) is None and getattr(absorbed, name) is not None}
    tags = list(dict.fromkeys([*master.tags, *absorbed.tags]))
    if len(tags) > MAX_TAGS:
        raise Refused(f"Together these customers have {len(tags)} tags; a customer has at most {MAX_TAGS}. "
                       "Remove some tags, then merge.")
    return master.model_copy(update={**filled, "tags": tags})


def merge(customers: CustomerRepository, orders: OrderLinks | None, merchant_id: str, master_id: str,
          absorb_ids: list[str], *, relink_seconds: float = 0) -> Customer:
    """The master absorbs the records (DESIGN.md §1.5). Each absorption is one transaction, so a
    retried request continues where a failed one stopped. Orders are relinked in batches: inline
    for up to `relink_seconds`, and by the `CustomerMerged` event's worker for the rest."""
    absorb = list(dict.fromkeys(absorb_ids))
    if not absorb:
        raise Invalid("Name at least one customer to absorb.")
    if len(absorb) > MAX_ABSORBED_PER_MERGE:
        raise Invalid(f"A merge absorbs at most {MAX_ABSORBED_PER_MERGE} customers at once.")
    if master_id in absorb:
        raise Refused("A customer cannot be merged into itself.")
    _check_merge(customers, merchant_id, master_id, absorb)
    for absorbed_id in absorb:
        retry_changed(lambda absorbed_id=absorbed_id: _absorb_one(customers, merchant_id, master_id, absorbed_id))
    count("CustomersMerged", len(absorb))
    if orders is not None and relink_seconds > 0:
        deadline = time.monotonic() + relink_seconds
        for absorbed_id in absorb:
            if not relink_orders(customers, orders, merchant_id, absorbed_id, deadline=deadline):
                break  # the CustomerMerged worker finishes it
    return customers.get(merchant_id, master_id, consistent=True)


def _check_merge(customers: CustomerRepository, merchant_id: str, master_id: str, absorb: list[str]) -> None:
    """Every refusal before any write: nothing is half merged by a request that is refused."""
    master = customers.find(merchant_id, master_id, consistent=True)
    if master is None:
        raise NotFound(f"Customer {master_id} does not exist.")
    if master.merged_into:
        raise Refused(f"Customer {master_id} was absorbed into {master.merged_into}; merge into that record instead.")
    tags = list(master.tags)
    for absorbed_id in absorb:
        record = customers.find(merchant_id, absorbed_id, consistent=True)
        if record is None:
            raise NotFound(f"Customer {absorbed_id} does not exist.")
        if record.merged_into and customers.resolve(merchant_id, record).id != master_id:
            raise Refused(f"Customer {absorbed_id} was already absorbed into {record.merged_into}.")
        tags = list(dict.fromkeys([*tags, *record.tags]))
    if len(tags) > MAX_TAGS:
        raise Refused(f"Together these customers have {len(tags)} tags; a customer has at most {MAX_TAGS}. "
                       "Remove some tags, then merge.")


def _absorb_one(customers: CustomerRepository, merchant_id: str, master_id: str, absorbed_id: str) -> Customer:
    master = customers.find(merchant_id, master_id, consistent=True)
    absorbed = customers.find(merchant_id, absorbed_id, consistent=True)
    if master is None or absorbed is None:
        raise Refused("A customer of this merge disappeared; retry.")
    if absorbed.merged_into:
        return master  # absorbed by an earlier attempt of this merge (or through a record it absorbed)
    if master.merged_into:
        raise Refused(f"Customer {master_id} was absorbed into {master.merged_into} meanwhile.")
    event = outbox_entry(CustomerMerged(merchant_id=merchant_id, master_id=master_id, absorbed_id=absorbed_id))
    return customers.absorb(merchant_id, master, merged_values(master, absorbed), absorbed, outbox=event)


def relink_orders(customers: CustomerRepository, orders: OrderLinks, merchant_id: str, absorbed_id: str,
                  *, deadline: float) -> bool:
    """Points every order of the absorbed record at its current master, RELINK_BATCH at a time,
    checking the deadline (time.monotonic) between batches. Safe to repeat: `relink_customer`
    only moves an order that still points at the absorbed record. One order at a time: each is a
    small transaction, and moto (tests, local stack) cannot run transactions concurrently.
    Answers False when the deadline came before the end."""
    master_id = customers.get(merchant_id, absorbed_id, consistent=True).id
    if master_id == absorbed_id:
        return True  # not absorbed (anymore): nothing to move
    moved = 0
    batch: list[str] = []
    for order_id in orders.order_ids_for_customer(merchant_id, absorbed_id):
        batch.append(order_id)
        if len(batch) == RELINK_BATCH:
            moved += _relink_batch(orders, merchant_id, batch, absorbed_id, master_id)
            batch = []
            if time.monotonic() > deadline:
                logger.info("relink paused", extra={"absorbed_id": absorbed_id, "moved": moved})
                return False
    moved += _relink_batch(orders, merchant_id, batch, absorbed_id, master_id)
    logger.info("orders relinked", extra={"absorbed_id": absorbed_id, "master_id": master_id, "moved": moved})
    count("OrdersRelinked", moved)
    return True


def _relink_batch(orders: OrderLinks, merchant_id: str, batch: list[str], from_id: str, to_id: str) -> int:
    return sum(1 for order_id in batch if orders.relink_customer(merchant_id, order_id, from_id, to_id))


# --- duplicates ------------------------------------------------------------------------------------
class DuplicateGroup(BaseModel):
    address_key: str
    customers: list[Customer]


def duplicate_groups(customers: CustomerRepository, merchant_id: str, *, limit: int,
                     cursor: str | None) -> tuple[list[DuplicateGroup], str | None]:
    """Customers whose records or orders share a normalised address under different emails.

    Walks the merchant's address entries in fingerprint order (one Query partition: entries of an
    address are adjacent), so a group is complete once the fingerprint changes. The cursor is the
    position after the last group examined."""
    start = decode_cursor(merchant_id, cursor, scope=DUPLICATES_LIST) if cursor else None
    groups: list[DuplicateGroup] = []
    masters: dict[str, Customer] = {}
    current: list[Any] = []
    boundary: dict[str, Any] | None = None  # position of the last entry of the last closed group
    previous: dict[str, Any] | None = None
    read = 0
    while True:
        entries, positions, start = customers.address_entries(merchant_id, start=start)
        read += len(entries)
        for entry, position in zip(entries, positions, strict=True):
            if current and entry.fingerprint != current[0].fingerprint:
                _close_group(customers, merchant_id, current, masters, groups)
                boundary, current = previous, []
                if len(groups) >= limit:
                    return groups, encode_cursor(merchant_id, boundary, scope=DUPLICATES_LIST) if boundary else None
            current.append(entry)
            previous = position
        if start is None:
            _close_group(customers, merchant_id, current, masters, groups)
            return groups, None
        if read >= DUPLICATE_READ_BUDGET and boundary is not None:
            return groups, encode_cursor(merchant_id, boundary, scope=DUPLICATES_LIST)


def _close_group(customers: CustomerRepository, merchant_id: str, entries: list[Any], masters: dict[str, Customer],
                 groups: list[DuplicateGroup]) -> None:
    if len(entries) < 2:
        return
    unknown = [e.customer_id for e in entries if e.customer_id not in masters]
    if unknown:
        masters.update(customers.masters_of(merchant_id, unknown))
    found = {masters[e.customer_id].id: masters[e.customer_id] for e in entries if e.customer_id in masters}
    emails = {e.email_digest for e in entries}
    if len(found) >= 2 and len(emails) >= 2:
        members = sorted(found.values(), key=lambda c: (c.created_at, c.id))
        groups.append(DuplicateGroup(address_key=entries[0].fingerprint, customers=members))


# --- CSV imports -----------------------------------------------------------------------------------
class ImportSummary(BaseModel):
    """An import as `GET /v1/customer-imports` lists it: the report without its rejected rows."""

    id: str
    status: ImportStatus
    blank_cells: Literal["keep", "clear"]
    tags: Literal["merge", "replace"] = "merge"
    source: Literal["inline", "upload"]
    rows_processed: int
    created: int
    updated: int
    unchanged: int = 0
    skipped: int
    error_count: int
    warning_count: int = 0
    failure: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class ImportOut(ImportSummary):
    errors: list[ImportRowError]
    errors_truncated: bool = False
    warnings: list[ImportRowWarning] = []
    warnings_truncated: bool = False
    # The rejected rows as CSV (the input's delimiter and columns, plus `reason`) once the import is
    # done: a link signed for 15 minutes at each read of the report.
    errors_url: str | None = None
    upload_url: str | None = None  # `{"upload": true}`: PUT the file here (15 minutes)


def start_inline_import(imports: CustomerImportRepository, s3: Any, bucket: str, merchant_id: str, body: bytes,
                        blank_cells: BlankCells, tags: TagsMode = "merge") -> CustomerImport:
    """Checks the file's encoding, delimiter, header and quoting now (400 and nothing changed),
    then stores it: the bucket's notification starts the worker, so even a 4 MB file never holds
    the API up."""
    try:
        validate_file(io.BytesIO(body))  # the whole file decodes and parses (4 MB at most)
    except CsvFileError as error:
        raise Malformed(str(error)) from error
    job = _new_job(blank_cells, tags, "inline")
    imports.create(merchant_id, job)
    try:
        s3.put_object(Bucket=bucket, Key=object_key(merchant_id, job.id), Body=body, ContentType="text/csv")
    except Exception:
        imports.finish(merchant_id, job.id, ImportStatus.failed, failure="The file could not be stored; import it again.")
        raise
    count("CustomerImportStarted")
    return job


def start_upload_import(imports: CustomerImportRepository, s3: Any, bucket: str, merchant_id: str,
                        blank_cells: BlankCells, tags: TagsMode = "merge") -> tuple[CustomerImport, str]:
    """A job waiting for its file: PUT it to the presigned URL; the upload starts the import."""
    job = _new_job(blank_cells, tags, "upload")
    imports.create(merchant_id, job)
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": object_key(merchant_id, job.id)},
                                    ExpiresIn=UPLOAD_URL_SECONDS)
    return job, url


def _new_job(blank_cells: BlankCells, tags: TagsMode, source: Literal["inline", "upload"]) -> CustomerImport:
    return CustomerImport(id=new_id("imp"), status=ImportStatus.pending, blank_cells=blank_cells, tags=tags,
                          source=source, created_at=clock.now())


def _as_reported(job: CustomerImport) -> CustomerImport:
    if job.status is ImportStatus.running and job.lease_until and clock.now() - job.lease_until > INTERRUPTED_AFTER:
        # Every retry of the worker failed: say so instead of "running" forever.
        return job.model_copy(update={"status": ImportStatus.failed,
                                      "failure": "The import was interrupted; rows_processed shows how far it got. "
                                                 "Import the remaining rows again."})
    return job


def list_imports(imports: CustomerImportRepository, merchant_id: str, *, limit: int,
                 cursor: str | None) -> tuple[list[ImportSummary], str | None]:
    """Newest first; each import's rejected rows are in its own report (GET .../{id})."""
    jobs, next_cursor = imports.page(merchant_id, limit=limit, cursor=cursor)
    return [ImportSummary(**_as_reported(job).model_dump(exclude={"lease_until"})) for job in jobs], next_cursor


def import_report(imports: CustomerImportRepository, merchant_id: str, import_id: str,
                  presigner: Any | None = None, bucket: str | None = None) -> ImportOut:
    """The report; with a presigner (an S3 client) and the bucket, `errors_url` links the
    rejected rows' file once it is written."""
    job = _as_reported(imports.get(merchant_id, import_id))
    errors = imports.errors(merchant_id, import_id) if job.error_count else []
    warnings = imports.warnings(merchant_id, import_id) if job.warning_count else []
    errors_url = None
    if job.errors_file and presigner is not None and bucket:
        errors_url = presigner.generate_presigned_url("get_object", ExpiresIn=ERRORS_URL_SECONDS, Params={
            "Bucket": bucket, "Key": errors_object_key(merchant_id, import_id),
            "ResponseContentDisposition": f'attachment; filename="{import_id}-rejected-rows.csv"',
            "ResponseContentType": "text/csv; charset=utf-8"})
    return ImportOut(**job.model_dump(exclude={"lease_until"}), errors=errors, warnings=warnings,
                     errors_truncated=job.error_count > MAX_ERRORS_SHOWN,
                     warnings_truncated=job.warning_count > MAX_ERRORS_SHOWN, errors_url=errors_url)


class ImportTimeBudgetExceeded(Exception):
    """Raised to have Lambda retry the invocation, which resumes after the last chunk."""


@dataclass
class WorkerContext:
    remaining_ms: Callable[[], int]
    safety_ms: int = 60_000


def run_import(customers: CustomerRepository, imports: CustomerImportRepository, s3: Any, bucket: str,
               key: str, merchant_id: str, import_id: str, context: WorkerContext) -> CustomerImport | None:
    """The worker: streams the file from S3 and applies it (see functions/customers/importer.py)."""
    lease = clock.now() + timedelta(milliseconds=context.remaining_ms()) + timedelta(seconds=30)
    job = imports.take_lease(merchant_id, import_id, lease)
    if job is None:
        logger.info("import not started: finished or running elsewhere", extra={"import_id": import_id})
        return None
    obj = s3.get_object(Bucket=bucket, Key=key)
    if int(obj.get("ContentLength") or 0) > MAX_UPLOAD_BYTES:
        imports.finish(merchant_id, import_id, ImportStatus.failed,
                       failure=f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB; split it.")
        return imports.get(merchant_id, import_id)
    counters = Counters(**job.model_dump(include=set(Counters.model_fields)))
    if job.source == "upload" and counters.rows_processed == 0:
        # Inline files were checked by the API; an upload is read once in full before any write,
        # so a file that turns out not to be UTF-8 or valid CSV at row 90,000 changes nothing.
        try:
            validate_file(obj["Body"].iter_chunks(64 * 1024))
        except CsvFileError as error:
            imports.finish(merchant_id, import_id, ImportStatus.failed, failure=str(error))
            return imports.get(merchant_id, import_id)
        obj = s3.get_object(Bucket=bucket, Key=key)

    def on_chunk(first_row: int, errors: list[ImportRowError], warnings: list[ImportRowWarning],
                 progress: Counters) -> bool:
        if errors or warnings:
            imports.put_errors(merchant_id, import_id, first_row, errors, warnings)
        imports.checkpoint(merchant_id, import_id, progress, clock.now() + timedelta(milliseconds=context.remaining_ms()))
        logger.info("import progress", extra={"import_id": import_id, "progress": progress.model_dump()})
        return context.remaining_ms() > context.safety_ms

    try:
        progress = import_stream(customers, merchant_id, import_id, job.blank_cells, obj["Body"].iter_chunks(64 * 1024),
                                 counters=counters, on_chunk=on_chunk, tags=job.tags)
        # Once every row is done (a retry after a fault here finds them done and writes it then).
        errors_file = progress.finished and progress.counters.error_count > 0 and _write_rejected_rows(
            imports, s3, bucket, key, merchant_id, import_id)
    except CsvFileError as error:
        imports.finish(merchant_id, import_id, ImportStatus.failed, failure=str(error))
        return imports.get(merchant_id, import_id)
    except Exception:
        imports.release_lease(merchant_id, import_id)  # the retry resumes at once
        raise
    if not progress.finished:
        imports.release_lease(merchant_id, import_id)
        raise ImportTimeBudgetExceeded(f"import {import_id} paused after {progress.counters.rows_processed} rows")
    imports.finish(merchant_id, import_id, ImportStatus.done, progress.counters, errors_file=errors_file)
    count("CustomerImportFinished")
    logger.info("import done", extra={"import_id": import_id, "progress": progress.counters.model_dump()})
    return imports.get(merchant_id, import_id)


def _write_rejected_rows(imports: CustomerImportRepository, s3: Any, bucket: str, key: str, merchant_id: str,
                         import_id: str) -> bool:
    """The rejected rows' CSV beside the file (the bucket's lifecycle removes both). Spooled to
    disk past 8 MB: a 100,000-row file of rejects never sits in memory."""
    rejected = imports.rejected_rows(merchant_id, import_id)
    if not rejected:
        return False
    source = s3.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(64 * 1024)
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
        write_rejected_rows(source, rejected, spool)
        spool.seek(0)
        s3.upload_fileobj(spool, bucket, errors_object_key(merchant_id, import_id),
                          ExtraArgs={"ContentType": "text/csv; charset=utf-8"})
    return True
