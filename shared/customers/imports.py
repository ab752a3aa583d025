"""Customer CSV import jobs: their item, progress and reported rows.

A job is created by `POST /v1/customer-imports` (status `pending`); the file lands in the import
bucket under `object_key(merchant, import)`, whose S3 notification starts the worker. The worker
takes a lease on the job (`running`), records progress after every chunk of rows (so
`rows_processed` moves while it runs and a retried invocation resumes after the last chunk), and
ends it `done` or `failed`. Rejected rows and warnings are stored per chunk, beside the job; at the
end the rejected rows are also written as a CSV file (`errors_object_key`) the merchant can fix and
import again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from boto3.dynamodb.conditions import Key
from pydantic import BaseModel, ConfigDict, Field

from shared.dynamo import keys, writes
from shared.dynamo.paging import query_all, query_page
from shared.errors import NotFound
from shared.events.catalogue import CustomerImportEnded
from shared.events.outbox import outbox_entry
from shared.platform import aws, clock

OBJECT_PREFIX = "customer-imports/"
ERRORS_PREFIX = "customer-import-errors/"  # outside OBJECT_PREFIX: writing one starts no import
_OBJECT_KEY = re.compile(r"^customer-imports/(?P<merchant>[^/]+)/(?P<import_id>imp_[0-9a-z]+)\.csv$")
MAX_ERRORS_SHOWN = 10_000  # a job answer stays far below Lambda's 6 MB response limit


class ImportStatus(StrEnum):
    pending = "pending"
    running = "running"
    done = "done"
    failed = "failed"


class ImportRowError(BaseModel):
    row: int
    reason: str


class ImportRowWarning(BaseModel):
    """A row imported as written, with something the merchant should check (e.g. a cut postal code)."""

    row: int
    column: str
    reason: str


class Counters(BaseModel):
    rows_processed: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0  # matched a record and would change nothing (e.g. an exported list imported back)
    skipped: int = 0
    error_count: int = 0
    warning_count: int = 0


class CustomerImport(Counters):
    model_config = ConfigDict(extra="ignore")
    id: str
    status: ImportStatus
    blank_cells: Literal["keep", "clear"] = "keep"
    tags: Literal["merge", "replace"] = "merge"
    source: Literal["inline", "upload"]
    failure: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    lease_until: datetime | None = Field(default=None, exclude=True)
    errors_file: bool = Field(default=False, exclude=True)  # the rejected rows' CSV is in the bucket


def object_key(merchant_id: str, import_id: str) -> str:
    """Where the file of an import lives: the key names its merchant and import."""
    return f"{OBJECT_PREFIX}{merchant_id}/{import_id}.csv"


def errors_object_key(merchant_id: str, import_id: str) -> str:
    """Where the rejected rows of an import are written, as CSV."""
    return f"{ERRORS_PREFIX}{merchant_id}/{import_id}.csv"


def parse_object_key(key: str) -> tuple[str, str] | None:
    match = _OBJECT_KEY.match(key)
    return (match["merchant"], match["import_id"]) if match else None


def _iso(moment: datetime) -> str:
    return clock.isoformat(moment)


class CustomerImportRepository:
    def __init__(self, table: Any | None = None) -> None:
        self._table = table if table is not None else aws.table()

    def create(self, merchant_id: str, job: CustomerImport) -> None:
        data = job.model_dump(mode="json", exclude_none=True)
        data["created_at"] = _iso(job.created_at)
        writes.put(self._table, {**keys.customer_import(merchant_id, job.id), **data, "merchant_id": merchant_id},
                   condition=writes.ITEM_IS_NEW, rule="import_exists")

    def find(self, merchant_id: str, import_id: str) -> CustomerImport | None:
        item = self._table.get_item(Key=keys.customer_import(merchant_id, import_id), ConsistentRead=True).get("Item")
        return CustomerImport.model_validate(keys.strip_keys(item)) if item else None

    def get(self, merchant_id: str, import_id: str) -> CustomerImport:
        job = self.find(merchant_id, import_id)
        if job is None:
            raise NotFound(f"Customer import {import_id} does not exist.")
        return job

    def take_lease(self, merchant_id: str, import_id: str, until: datetime) -> CustomerImport | None:
        """Start (or resume after a crashed invocation) the job; None when another invocation
        holds it or it is finished — S3 may deliver a notification twice."""
        now = clock.now()
        taken, item = writes.update_or_current(
            self._table, keys.customer_import(merchant_id, import_id),
            "SET #s = :running, lease_until = :until, started_at = if_not_exists(started_at, :now)",
            condition="attribute_exists(pk) AND (#s = :pending OR (#s = :running AND lease_until < :now))",
            names={"#s": "status"},
            values={":running": "running", ":pending": "pending", ":until": _iso(until), ":now": _iso(now)})
        return CustomerImport.model_validate(keys.strip_keys(item)) if taken and item else None

    def checkpoint(self, merchant_id: str, import_id: str, counters: Counters, lease_until: datetime) -> None:
        """Progress after a chunk: what `GET` shows while the import runs, and where a retry resumes."""
        values = {f":{name}": value for name, value in counters.model_dump().items()}
        writes.update(self._table, keys.customer_import(merchant_id, import_id),
                      "SET " + ", ".join(f"{name} = :{name}" for name in counters.model_dump()) + ", lease_until = :until",
                      condition="#s = :running", rule="import_running", names={"#s": "status"},
                      values={**values, ":until": _iso(lease_until), ":running": "running"})

    def release_lease(self, merchant_id: str, import_id: str) -> None:
        """Let the next invocation resume at once (the time budget ran out)."""
        writes.update(self._table, keys.customer_import(merchant_id, import_id), "SET lease_until = :past",
                      values={":past": _iso(clock.now() - timedelta(seconds=1))})

    def finish(self, merchant_id: str, import_id: str, status: ImportStatus, counters: Counters | None = None,
               failure: str | None = None, errors_file: bool = False) -> None:
        """Ends the job, with its `CustomerImportEnded` event (published once this write lands)."""
        now = clock.now()
        finished = CustomerImportEnded(merchant_id=merchant_id, import_id=import_id, status=status.value,
                                       finished_at=now, **(counters.model_dump() if counters else {}))
        names = {"#s": "status"}
        values: dict[str, Any] = {":status": status.value, ":now": _iso(now), ":outbox": outbox_entry(finished)}
        sets = ["#s = :status", "finished_at = :now", "outbox = :outbox"]
        if errors_file:
            sets.append("errors_file = :yes")
            values[":yes"] = True
        if counters is not None:
            for name, value in counters.model_dump().items():
                sets.append(f"{name} = :{name}")
                values[f":{name}"] = value
        if failure:
            sets.append("failure = :failure")
            values[":failure"] = failure
        writes.update(self._table, keys.customer_import(merchant_id, import_id), "SET " + ", ".join(sets),
                      names=names, values=values)

    def page(self, merchant_id: str, *, limit: int, cursor: str | None) -> tuple[list[CustomerImport], str | None]:
        """One page of the merchant's imports, newest first."""
        pk, prefix = keys.customer_imports_prefix(merchant_id)
        page = query_page(self._table, merchant_id, key_condition=Key(keys.PK).eq(pk) & Key(keys.SK).begins_with(prefix),
                          limit=limit, cursor=cursor, newest_first=True)
        return [CustomerImport.model_validate(keys.strip_keys(item)) for item in page.items], page.next_cursor

    def put_errors(self, merchant_id: str, import_id: str, first_row: int, errors: list[ImportRowError],
                   warnings: list[ImportRowWarning] | None = None) -> None:
        """The rejected rows and warnings of one chunk (at most a few hundred short reasons each: far
        below 400 KB)."""
        item: dict[str, Any] = {**keys.customer_import_errors(merchant_id, import_id, first_row),
                                "errors": [e.model_dump() for e in errors]}
        if warnings:
            item["warnings"] = [w.model_dump() for w in warnings]
        writes.put(self._table, item)

    def _report_chunks(self, merchant_id: str, import_id: str) -> Iterator[dict[str, Any]]:
        return query_all(self._table, KeyConditionExpression=Key(keys.PK).eq(
            keys.customer_import_errors_partition(merchant_id, import_id))
            & Key(keys.SK).begins_with(keys.CUSTOMER_IMPORT_ERRORS_PREFIX))

    def warnings(self, merchant_id: str, import_id: str, limit: int = MAX_ERRORS_SHOWN) -> list[ImportRowWarning]:
        """Warnings in row order, at most `limit`."""
        found: list[ImportRowWarning] = []
        for chunk in self._report_chunks(merchant_id, import_id):
            found.extend(ImportRowWarning(row=int(w["row"]), column=str(w["column"]), reason=str(w["reason"]))
                         for w in chunk.get("warnings", []))
            if len(found) >= limit:
                break
        return found[:limit]

    def rejected_rows(self, merchant_id: str, import_id: str) -> dict[int, str]:
        """Every rejected row: row number → reason (what the rejected-rows file is written from)."""
        return {int(e["row"]): str(e["reason"]) for chunk in self._report_chunks(merchant_id, import_id)
                for e in chunk.get("errors", [])}

    def errors(self, merchant_id: str, import_id: str, limit: int = MAX_ERRORS_SHOWN) -> list[ImportRowError]:
        """Rejected rows in row order, at most `limit`."""
        found: list[ImportRowError] = []
        for chunk in self._report_chunks(merchant_id, import_id):  # lazily: the pages after `limit` rows are never read
            found.extend(ImportRowError(row=int(e["row"]), reason=str(e["reason"])) for e in chunk.get("errors", []))
            if len(found) >= limit:
                break
        return found[:limit]
