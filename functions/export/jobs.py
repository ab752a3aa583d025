"""The export worker's use case: run one export job, from claim to a published file or a reason.

- The run claims the job under a fresh attempt (shared.exports), aborts uploads that earlier runs
  left behind, and streams the content into a multipart upload under its own attempt's key:
  memory holds one part, whatever the number of rows.
- `rows_written` reaches the job every `PROGRESS_EVERY_ROWS` rows, by a write conditional on the
  attempt: a run that was superseded stops there.
- A run starts only in its merchant's turn (`run_in_turn`, shared.exports.fairness): at most two
  exports of a merchant run at once, the others wait in the table and are woken in order.
- Any error aborts the upload (no object is completed) and marks the job `failed` with a reason
  that says what to do; the file is advertised only by the `ready` write, after the upload
  completed. If even the failure cannot be recorded, the error propagates so that Lambda retries
  the event, and that retry starts clean.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError

from functions.export.contents import ExportContent, Sources, content_for
from functions.export.files import ExportFiles, object_key
from functions.export.multipart import DEFAULT_PART_SIZE, MultipartUpload
from functions.export.spreadsheet import XlsxRowLimitExceeded
from shared.errors import DomainError, NotFound
from shared.exports.fairness import ExportGates
from shared.exports.model import OBJECT_LIFETIME, ExportJob, ExportStatus, new_attempt_id
from shared.exports.store import AttemptSuperseded, ExportRepository
from shared.platform.observability import count, logger

PROGRESS_EVERY_ROWS = 1_000
DEADLINE_CHECK_EVERY_ROWS = 100
# Time kept back to abort the upload and record the failure before Lambda stops the function.
DEADLINE_MARGIN_MS = 30_000

_S3_OPERATIONS = frozenset({"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload",
                            "AbortMultipartUpload", "ListMultipartUploads", "HeadObject", "DeleteObject"})
_RETRY_ADVICE = "no file was published; create the export again."


class DeadlineReached(Exception):
    pass


@dataclass
class Worker:
    """What a run needs; tests bind these to moto."""

    exports: ExportRepository
    files: ExportFiles
    sources: Sources
    part_size: int = DEFAULT_PART_SIZE

    @classmethod
    def default(cls) -> Worker:
        return cls(exports=ExportRepository(), files=ExportFiles(), sources=Sources.default())


@dataclass
class RunProgress:
    """Called after every row: forwards the count to the job now and then, watches the clock."""

    exports: ExportRepository
    merchant_id: str
    export_id: str
    attempt: str
    remaining_ms: Callable[[], int] | None = None
    every_rows: int = PROGRESS_EVERY_ROWS
    reported: int = field(default=0, init=False)

    def __call__(self, rows_written: int) -> None:
        if rows_written - self.reported >= self.every_rows:
            self.report(rows_written)
        if self.remaining_ms is not None and rows_written % DEADLINE_CHECK_EVERY_ROWS == 0 \
                and self.remaining_ms() < DEADLINE_MARGIN_MS:
            raise DeadlineReached

    def report(self, rows_written: int) -> None:
        self.exports.record_progress(self.merchant_id, self.export_id, self.attempt, rows_written)
        self.reported = rows_written


def failure_reason(error: BaseException) -> str:
    """What the merchant reads in `error`: the cause in a few words and what to do, never data."""
    if isinstance(error, XlsxRowLimitExceeded):
        return str(error)
    if isinstance(error, DeadlineReached):
        return ("The export did not finish within the worker's 15-minute limit; no file was published. "
                "Create it again with narrower filters (created_from, created_to), or as CSV.")
    if isinstance(error, DomainError):
        return f"{error.detail} No file was published."
    if isinstance(error, ClientError):
        service = "S3" if error.operation_name in _S3_OPERATIONS else "DynamoDB"
        code = error.response.get("Error", {}).get("Code", "error")
        return f"{service} failed during the export ({error.operation_name}: {code}); {_RETRY_ADVICE}"
    if isinstance(error, BotoCoreError | OSError):
        return f"A connection or storage error stopped the export ({type(error).__name__}); {_RETRY_ADVICE}"
    return f"An unexpected error stopped the export ({type(error).__name__}); {_RETRY_ADVICE}"


def _log_failure(export_id: str, error: BaseException) -> None:
    # Type, code and place only: messages of AWS errors and of validation errors can carry values.
    frame = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    code = error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None
    logger.error("export failed", extra={"export_id": export_id, "error_type": type(error).__name__,
                                         "error_code": code,
                                         "where": f"{frame.filename}:{frame.lineno}" if frame else None})


def run_in_turn(worker: Worker, gates: ExportGates, merchant_id: str, export_id: str,
                remaining_ms: Callable[[], int] | None = None) -> ExportStatus | None:
    """Runs the export when its merchant has a free slot; otherwise the export waits its turn (the
    finishing run that frees a slot wakes it). None when this delivery ran nothing."""
    try:
        job = worker.exports.get(merchant_id, export_id, consistent=True)
    except NotFound:
        logger.info("export unknown; nothing to do", extra={"export_id": export_id})
        return None
    if job.status not in (ExportStatus.PENDING, ExportStatus.RUNNING):
        logger.info("export already finished; nothing to do", extra={"export_id": export_id})
        return None
    admission = gates.admit(merchant_id, export_id, job.created_at)
    if admission.run is None:
        logger.info("export waits its turn", extra={"export_id": export_id})
        count("ExportWaiting")
        return None
    try:
        return run_export(worker, merchant_id, export_id, remaining_ms)
    finally:
        # Also when the run raised: its retry is admitted again, in turn.
        gates.release(merchant_id, export_id, admission.run)


def run_export(worker: Worker, merchant_id: str, export_id: str,
               remaining_ms: Callable[[], int] | None = None) -> ExportStatus | None:
    """Runs the job; the status it ended in, or None when this run had nothing (more) to do."""
    attempt = new_attempt_id()
    job = worker.exports.claim(merchant_id, export_id, attempt)
    if job is None:
        logger.info("export already finished or unknown; nothing to do", extra={"export_id": export_id})
        return None
    progress = RunProgress(worker.exports, merchant_id, export_id, attempt, remaining_ms)
    key: str | None = None
    try:
        content = content_for(job, merchant_id, worker.sources)
        key = object_key(merchant_id, export_id, attempt, content.filename)
        rows = _upload(worker, merchant_id, export_id, content, key, progress)
    except AttemptSuperseded:
        logger.info("export taken over by a newer run", extra={"export_id": export_id})
        return None
    except Exception as error:
        if key is not None:
            # A PutObject or CompleteMultipartUpload whose answer was lost may have made the object.
            _discard(worker, export_id, key)
        return _fail(worker, merchant_id, job, attempt, error)
    return _publish(worker, merchant_id, job, attempt, key, content.filename, rows)


def _upload(worker: Worker, merchant_id: str, export_id: str, content: ExportContent, key: str,
            progress: RunProgress) -> int:
    worker.files.discard_earlier_runs(merchant_id, export_id)
    with MultipartUpload(worker.files.s3, worker.files.bucket, key, content_type=content.content_type,
                         filename=content.filename, part_size=worker.part_size) as upload:
        rows = content.write(upload, progress)
        # Last ownership check before the object appears: a superseded run aborts instead.
        progress.report(rows)
    return rows


def _publish(worker: Worker, merchant_id: str, job: ExportJob, attempt: str, key: str, filename: str,
             rows: int) -> ExportStatus | None:
    assert job.started_at is not None  # set by the claim
    try:
        # The object was created after the claim, so the lifecycle rule keeps it at least this long.
        worker.exports.mark_ready(merchant_id, job, attempt, row_count=rows, object_key=key, filename=filename,
                                  object_expires_at=job.started_at + OBJECT_LIFETIME)
    except AttemptSuperseded:
        _discard(worker, job.id, key)
        logger.info("export taken over by a newer run", extra={"export_id": job.id})
        return None
    except Exception as error:
        _discard(worker, job.id, key)
        return _fail(worker, merchant_id, job, attempt, error)
    count("ExportReady")
    count("ExportRows", rows)
    logger.info("export ready", extra={"export_id": job.id, "type": job.type.value, "rows": rows})
    return ExportStatus.READY


def _discard(worker: Worker, export_id: str, key: str) -> None:
    """Delete a completed file no job advertises. Best effort: nobody can reach it without the
    job's `ready` write, and the lifecycle rule removes it within 7 days anyway."""
    try:
        worker.files.delete(key)
    except Exception as error:
        _log_failure(export_id, error)


def _fail(worker: Worker, merchant_id: str, job: ExportJob, attempt: str, error: Exception) -> ExportStatus | None:
    _log_failure(job.id, error)
    try:
        worker.exports.mark_failed(merchant_id, job, attempt, failure_reason(error))
    except AttemptSuperseded:
        return None
    except Exception as recording_error:
        # The job stays `running`: Lambda retries the event and the retry starts clean.
        raise recording_error from error
    count("ExportFailed")
    return ExportStatus.FAILED
