"""Export jobs in the table (model: `shared.exports.model`).

A job item lives at `keys.export_job(merchant, id)`. `POST /v1/exports` writes it `pending` with an
`ExportRequested` outbox entry; the outbox dispatcher publishes that event and the export worker
runs the job. Every worker run *claims* the job under a fresh attempt id; each later write of that
run (progress, ready, failed) is conditional on the attempt still being the job's, so a duplicate
or retried delivery takes over cleanly and a superseded run can never publish its file.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Key

from shared.dynamo import keys, writes
from shared.dynamo.paging import query_page
from shared.errors import NotFound, Refused
from shared.events.catalogue import ExportFinished, ExportRequested
from shared.events.outbox import outbox_entry
from shared.exports.model import JOB_LIFETIME, ExportJob, ExportStatus
from shared.platform import aws, clock


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


def _finished(merchant_id: str, job: ExportJob, status: ExportStatus, at: datetime,
              row_count: int | None) -> dict[str, Any]:
    """The outbox entry of a job's end: published once the write that ends the run lands."""
    return outbox_entry(ExportFinished(merchant_id=merchant_id, export_id=job.id, export_type=job.type.value,
                                       format=job.format, status=status.value, row_count=row_count, finished_at=at))


class ExportRepository:
    def __init__(self, table: Any | None = None) -> None:
        self._table = table if table is not None else aws.table()

    def create(self, merchant_id: str, job: ExportJob) -> None:
        """The job and its `ExportRequested` event in one write (the outbox starts the worker)."""
        item = _job_to_item(merchant_id, job)
        item["outbox"] = outbox_entry(ExportRequested(merchant_id=merchant_id, export_id=job.id))
        writes.put(self._table, item, condition=writes.ITEM_IS_NEW, rule="export_exists")

    def get(self, merchant_id: str, export_id: str, *, consistent: bool = False) -> ExportJob:
        item = self._table.get_item(Key=keys.export_job(merchant_id, export_id), ConsistentRead=consistent).get("Item")
        # TTL deletes within days, not at once: an expired record reads as gone.
        if not item or int(item.get(keys.TTL, 0)) <= clock.epoch_seconds():
            raise NotFound(f"Export {export_id} does not exist.")
        return _job_from_item(item)

    def list(self, merchant_id: str, *, limit: int, cursor: str | None) -> tuple[list[ExportJob], str | None]:
        """One page of the merchant's exports, newest first; expired records (TTL not yet run) left out."""
        pk, prefix = keys.export_jobs_prefix(merchant_id)
        now = clock.epoch_seconds()
        page = query_page(self._table, merchant_id, key_condition=Key(keys.PK).eq(pk) & Key(keys.SK).begins_with(prefix),
                          limit=limit, cursor=cursor, newest_first=True,
                          keep=lambda item: int(item.get(keys.TTL, 0)) > now)
        return [_job_from_item(item) for item in page.items], page.next_cursor

    def claim(self, merchant_id: str, export_id: str, attempt: str) -> ExportJob | None:
        """Make `attempt` the job's run, from scratch; None when the job is finished or unknown.

        A `running` job is taken over too: it is either a dead run being retried or a duplicate
        delivery, and in both cases the newest run wins and the older one stops at its next write.
        The outbox entry is dropped so progress writes do not wake the dispatcher again.
        """
        claimed, item = writes.update_or_current(
            self._table, keys.export_job(merchant_id, export_id),
            "SET #status = :running, #attempt = :attempt, started_at = :now, heartbeat_at = :now, rows_written = :zero "
            "REMOVE outbox, #error, row_count, object_key, filename, object_expires_at, finished_at",
            condition="attribute_exists(pk) AND #status IN (:pending, :running)", names=_NAMES,
            values={":running": ExportStatus.RUNNING.value, ":attempt": attempt, ":now": _iso(clock.now()),
                    ":zero": 0, ":pending": ExportStatus.PENDING.value})
        return _job_from_item(item) if claimed and item else None

    def record_progress(self, merchant_id: str, export_id: str, attempt: str, rows_written: int) -> None:
        self._update_owned(merchant_id, export_id, attempt, "SET rows_written = :rows, heartbeat_at = :now",
                           {":rows": rows_written, ":now": _iso(clock.now())})

    def mark_ready(self, merchant_id: str, job: ExportJob, attempt: str, *, row_count: int, object_key: str,
                   filename: str, object_expires_at: datetime) -> None:
        """The file is there: the job says where, and its `ExportFinished` event goes out with it."""
        now = clock.now()
        self._update_owned(
            merchant_id, job.id, attempt,
            "SET #status = :ready, rows_written = :rows, row_count = :rows, object_key = :key, "
            "filename = :filename, object_expires_at = :expires, finished_at = :now, outbox = :outbox",
            {":ready": ExportStatus.READY.value, ":rows": row_count, ":key": object_key, ":filename": filename,
             ":expires": _iso(object_expires_at), ":now": _iso(now),
             ":outbox": _finished(merchant_id, job, ExportStatus.READY, now, row_count)})

    def mark_failed(self, merchant_id: str, job: ExportJob, attempt: str, reason: str) -> None:
        now = clock.now()
        self._update_owned(merchant_id, job.id, attempt,
                           "SET #status = :failed, #error = :reason, finished_at = :now, outbox = :outbox",
                           {":failed": ExportStatus.FAILED.value, ":reason": reason, ":now": _iso(now),
                            ":outbox": _finished(merchant_id, job, ExportStatus.FAILED, now, None)})

    def _update_owned(self, merchant_id: str, export_id: str, attempt: str, expression: str,
                      values: dict[str, Any]) -> None:
        """An update that only lands while `attempt` still runs the job (else AttemptSuperseded)."""
        try:
            writes.update(self._table, keys.export_job(merchant_id, export_id), expression,
                          condition="#attempt = :attempt AND #status = :running", rule="attempt_runs_job",
                          names={name: attr for name, attr in _NAMES.items()
                                 if name in expression or name in ("#attempt", "#status")},
                          values={**values, ":attempt": attempt, ":running": ExportStatus.RUNNING.value})
        except Refused as refused:
            raise AttemptSuperseded(f"export {export_id} is no longer run by attempt {attempt}") from refused
