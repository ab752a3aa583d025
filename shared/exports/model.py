"""Export jobs (DESIGN.md §1.4, API.md Exports): what a merchant asked for, and how far it got.
The job's values and lifetimes here; `shared.exports.store` keeps it in the table."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.platform import clock
from shared.platform.ids import new_id
from shared.shipments.queries import ShipmentFilter

LINK_DEFAULT_SECONDS = 15 * 60
LINK_MAX_SECONDS = 60 * 60
# The bucket's lifecycle rule deletes objects 7 days after they were created (S3 rounds up to the
# next midnight UTC, so the object exists at least that long); we stop handing out links then.
OBJECT_LIFETIME = timedelta(days=7)
# The job record outlives its file by 23 days, so that `/download` answers 410 (API.md: "410 once the
# object is gone") for weeks rather than for one day and then 404 as if the export never existed;
# then TTL removes it. Its filters may hold a fragment of a recipient's name: 30 days in all, well
# inside the 90 days after which retention redacts the shipments themselves.
JOB_LIFETIME = OBJECT_LIFETIME + timedelta(days=23)
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

    def as_seen_at(self, now: datetime) -> ExportJob:
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
