"""Export jobs (DESIGN.md §1.4, API.md Exports): what a merchant asked for, and how far it got.

A job item lives at `keys.export_job(merchant, id)`. `POST /v1/exports` writes it `pending` with an
`ExportRequested` outbox entry; the outbox dispatcher publishes that event and the export worker
runs the job. Every worker run *claims* the job under a fresh attempt id; each later write of that
run (progress, ready, failed) is conditional on the attempt still being the job's, so a duplicate
or retried delivery takes over cleanly and a superseded run can never publish its file.
"""


import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from shared.dynamo import keys
from shared.errors import NotFound
from shared.events.outbox import outbox_entry
from shared.platform import aws, clock
from shared.platform.ids import new_id
from shared.shipments.queries import ShipmentFilter

EXPORT_REQUESTED = "ExportRequested"

LINK_DEFAULT_SECONDS = 15 * 60
LINK_MAX_SECONDS = 60 * 60
# The bucket's lifecycle rule deletes objects 7 days after they were created (S3 rounds up to the
# next midnight UTC, so the object exists at least that long); we stop handing out links then.
OBJECT_LIFETIME = timedelta(days=7)
# The job record outlives its file by a day (`/download` answers 410 meanwhile), then TTL removes it:
# its filters may hold a fragment of a recipient's name.
JOB_LIFETIME = OBJECT_LIFETIME + timedelta(days=1)
# Lambda stops a function after 15 minutes: a run older than that has died without saying so.
WORKER_TIME_LIMIT = timedelta(minutes=15)
STALE_AFTER = WORKER_TIME_LIMIT + timedelta(minutes=1)
STALE_REASON = "The export stopped before finishing (the worker was interrupted); create the export again."


class ExportType(StrEnum):
    SHIPMENTS = "shipments"
    CUSTOMER_DATA = "customer_data"
    CUSTOMERS = "customers"


class ExportStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    READY = "ready"
    FAILED = "failed"


# --- requests ------------------------------------------------------------------------------------
class ShipmentsExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["shipments"]
    format: Literal["csv", "xlsx"] = "csv"
    filters: ShipmentFilter = Field(default_factory=ShipmentFilter)


class CustomerDataExportRequest(BaseModel):
    """The privacy export of one customer (GDPR Art. 15/20)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["customer_data"]
    customer_id: str = Field(min_length=1, max_length=64, pattern=r"^cus_[A-Za-z0-9]+$")
    format: Literal["json", "csv"] = "json"


class CustomersExportRequest(BaseModel):
    """Every customer in the import template's columns, to edit and re-import."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["customers"]
    format: Literal["csv"] = "csv"


ExportRequest = Annotated[ShipmentsExportRequest | CustomerDataExportRequest | CustomersExportRequest,
                          Field(discriminator="type")]


# --- the job -------------------------------------------------------------------------------------
class ExportJob(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    type: ExportType
    format: str
    filters: ShipmentFilter | None = None
    customer_id: str | None = None
    status: ExportStatus
    rows_written: int = 0
    row_count: int | None = None
    error: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    object_expires_at: datetime | None = None
    # Internal: where the file is, and which worker run owns the job.
    object_key: str | None = Field(default=None, exclude=True)
    filename: str | None = Field(default=None, exclude=True)
    attempt: str | None = Field(default=None, exclude=True)

    def as_seen_at(self, now: datetime) -> "ExportJob":
        """A run that outlived any Lambda's time limit is dead: show it failed, not running forever."""
        if self.status is ExportStatus.RUNNING and self.started_at and now - self.started_at > STALE_AFTER:
            return self.model_copy(update={"status": ExportStatus.FAILED, "error": STALE_REASON})
        return self

    def file_available(self, now: datetime) -> bool:
        return (self.status is ExportStatus.READY and self.object_key is not None
                and self.object_expires_at is not None and now < self.object_expires_at)


def new_job(request: ShipmentsExportRequest | CustomerDataExportRequest | CustomersExportRequest) -> ExportJob:
    now = clock.now()
    # Milliseconds, as stored: the 202 answer shows the same `created_at` as every later GET.
    created_at = now.replace(microsecond=now.microsecond // 1000 * 1000)
    return ExportJob(id=new_id("exp"), type=ExportType(request.type), format=request.format,
                     filters=getattr(request, "filters", None), customer_id=getattr(request, "customer_id", None),
                     status=ExportStatus.PENDING, created_at=created_at)


def new_attempt_id() -> str:
    return uuid.uuid4().hex


class AttemptSuperseded(Exception):
    """Another run claimed the job (a duplicate or retried delivery): this one must stop quietly."""


_NAMES = {"#status": "status", "#error": "error", "#attempt": "attempt"}


def _iso(moment: datetime) -> str:
    return clock.isoformat(moment)


def _job_to_item(merchant_id: str, job: ExportJob) -> dict[str, Any]:
    data = job.model_dump(mode="json", exclude_none=True)
    if job.filters is not None:
        data["filters"] = job.filters.model_dump(mode="json", exclude_none=True)
    data["created_at"] = _iso(job.created_at)
    return {**keys.export_job(merchant_id, job.id), **data,
            keys.TTL: clock.epoch_seconds(job.created_at + JOB_LIFETIME)}


def _job_from_item(item: dict[str, Any]) -> ExportJob:
    data = keys.strip_keys(item)
    data.pop("outbox", None)
    return ExportJob.model_validate(data)


def _condition_failed(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


class ExportRepository:
    def __init__(self, table: Any | None = None) -> None:
        self._table = table if table is not None else aws.table()

    def create(self, merchant_id: str, job: ExportJob) -> None:
        """The job and its `ExportRequested` event in one write (the outbox starts the worker)."""
        item = _job_to_item(merchant_id, job)
        item["outbox"] = outbox_entry(EXPORT_REQUESTED, [{"merchant_id": merchant_id, "export_id": job.id}])
        self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")

    def get(self, merchant_id: str, export_id: str, *, consistent: bool = False) -> ExportJob:
        item = self._table.get_item(Key=keys.export_job(merchant_id, export_id), ConsistentRead=consistent).get("Item")
        # TTL deletes within days, not at once: an expired record reads as gone.
        if not item or int(item.get(keys.TTL, 0)) <= clock.epoch_seconds():
            raise NotFound(f"Export {export_id} does not exist.")
        return _job_from_item(item)

    def claim(self, merchant_id: str, export_id: str, attempt: str) -> ExportJob | None:
        """Make `attempt` the job's run, from scratch; None when the job is finished or unknown.

        A `running` job is taken over too: it is either a dead run being retried or a duplicate
        delivery, and in both cases the newest run wins and the older one stops at its next write.
        The outbox entry is dropped so progress writes do not wake the dispatcher again.
        """
        try:
            response = self._table.update_item(
                Key=keys.export_job(merchant_id, export_id),
                UpdateExpression=("SET #status = :running, #attempt = :attempt, started_at = :now, "
                                  "heartbeat_at = :now, rows_written = :zero "
                                  "REMOVE outbox, #error, row_count, object_key, filename, object_expires_at, "
                                  "finished_at"),
                ConditionExpression="attribute_exists(pk) AND #status IN (:pending, :running)",
                ExpressionAttributeNames=_NAMES,
                ExpressionAttributeValues={":running": ExportStatus.RUNNING.value, ":attempt": attempt,
                                           ":now": _iso(clock.now()), ":zero": 0,
                                           ":pending": ExportStatus.PENDING.value},
                ReturnValues="ALL_NEW")
        except ClientError as error:
            if _condition_failed(error):
                return None
            raise
        return _job_from_item(response["Attributes"])

    def record_progress(self, merchant_id: str, export_id: str, attempt: str, rows_written: int) -> None:
        self._update_owned(merchant_id, export_id, attempt, "SET rows_written = :rows, heartbeat_at = :now",
                           {":rows": rows_written, ":now": _iso(clock.now())})

    def mark_ready(self, merchant_id: str, export_id: str, attempt: str, *, row_count: int, object_key: str,
                   filename: str, object_expires_at: datetime) -> None:
        self._update_owned(
            merchant_id, export_id, attempt,
            "SET #status = :ready, rows_written = :rows, row_count = :rows, object_key = :key, "
            "filename = :filename, object_expires_at = :expires, finished_at = :now",
            {":ready": ExportStatus.READY.value, ":rows": row_count, ":key": object_key, ":filename": filename,
             ":expires": _iso(object_expires_at), ":now": _iso(clock.now())})

    def mark_failed(self, merchant_id: str, export_id: str, attempt: str, reason: str) -> None:
        self._update_owned(merchant_id, export_id, attempt,
                           "SET #status = :failed, #error = :reason, finished_at = :now",
                           {":failed": ExportStatus.FAILED.value, ":reason": reason, ":now": _iso(clock.now())})

    def _update_owned(self, merchant_id: str, export_id: str, attempt: str, expression: str,
                      values: dict[str, Any]) -> None:
        """An update that only lands while `attempt` still runs the job (else AttemptSuperseded)."""
        try:
            self._table.update_item(
                Key=keys.export_job(merchant_id, export_id), UpdateExpression=expression,
                ConditionExpression="#attempt = :attempt AND #status = :running",
                ExpressionAttributeNames={name: attr for name, attr in _NAMES.items() if name in expression
                                          or name in ("#attempt", "#status")},
                ExpressionAttributeValues={**values, ":attempt": attempt, ":running": ExportStatus.RUNNING.value})
        except ClientError as error:
            if _condition_failed(error):
                raise AttemptSuperseded(f"export {export_id} is no longer run by attempt {attempt}") from error
            raise
