"""Export API use cases: request an export, show a job with a fresh link, sign a download."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from functions.export.files import ExportFiles, Link
from shared.customers.store import CustomerRepository
from shared.errors import Gone, Refused
from shared.events.catalogue import ExportRequested
from shared.exports.model import CustomerDataExportRequest, ExportJob, ExportRequest, ExportStatus, ExportType, new_job
from shared.exports.store import ExportRepository
from shared.platform import clock
from shared.platform.observability import count
from shared.shipments.queries import ShipmentFilter


class Export(BaseModel):
    """An export job as the API shows it (API.md, Exports)."""

    id: str
    type: ExportType
    format: str
    status: ExportStatus
    rows_written: int
    row_count: int | None
    download_url: str | None
    expires_at: datetime | None
    object_expires_at: datetime | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    filters: ShipmentFilter | None = None
    customer_id: str | None = None


def _view(job: ExportJob, link: Link | None) -> Export:
    return Export(id=job.id, type=job.type, format=job.format, status=job.status,
                  rows_written=job.rows_written, row_count=job.row_count,
                  download_url=link.url if link else None, expires_at=link.expires_at if link else None,
                  object_expires_at=job.object_expires_at, error=job.error, created_at=job.created_at,
                  finished_at=job.finished_at, filters=job.filters, customer_id=job.customer_id)


def request_export(exports: ExportRepository, customers: CustomerRepository, merchant_id: str,
                   request: ExportRequest) -> Export:
    if isinstance(request, CustomerDataExportRequest):
        customers.get(merchant_id, request.customer_id)  # NotFound (404) now rather than a failed job later
    job = new_job(request)
    exports.create(merchant_id, job)
    count(ExportRequested.name)
    return _view(job, None)


def _current(exports: ExportRepository, merchant_id: str, export_id: str) -> ExportJob:
    return exports.get(merchant_id, export_id).as_seen_at(clock.now())


def list_exports(exports: ExportRepository, files: ExportFiles, merchant_id: str, *, limit: int,
                 cursor: str | None, link_seconds: int) -> tuple[list[Export], str | None]:
    """The merchant's exports, newest first, each as `show_export` answers it."""
    jobs, next_cursor = exports.list(merchant_id, limit=limit, cursor=cursor)
    now = clock.now()
    views = []
    for stored in jobs:
        job = stored.as_seen_at(now)
        link = None
        if job.file_available(now):
            assert job.object_key is not None and job.object_expires_at is not None
            link = files.link(job.object_key, link_seconds, job.object_expires_at)
        views.append(_view(job, link))
    return views, next_cursor


def show_export(exports: ExportRepository, files: ExportFiles, merchant_id: str, export_id: str,
                link_seconds: int) -> Export:
    """The job; while its file is kept, with a link signed now (links are cheap: no request)."""
    job = _current(exports, merchant_id, export_id)
    link = None
    if job.file_available(clock.now()):
        assert job.object_key is not None and job.object_expires_at is not None
        link = files.link(job.object_key, link_seconds, job.object_expires_at)
    return _view(job, link)


def download_link(exports: ExportRepository, files: ExportFiles, merchant_id: str, export_id: str,
                  link_seconds: int) -> Link:
    job = _current(exports, merchant_id, export_id)
    if job.status is ExportStatus.READY:
        assert job.object_key is not None and job.object_expires_at is not None
        if job.file_available(clock.now()) and files.exists(job.object_key):
            return files.link(job.object_key, link_seconds, job.object_expires_at)
        raise Gone(f"The file of export {export_id} is gone (export files are kept 7 days); "
                   "create the export again.")
    if job.status is ExportStatus.FAILED:
        raise Refused(f"Export {export_id} failed, so it has no file: {job.error}")
    raise Refused(f"Export {export_id} is {job.status.value}; download it once its status is ready.")
