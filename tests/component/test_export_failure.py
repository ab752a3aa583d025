"""Failures of an export run against moto: an S3 or DynamoDB error mid-export aborts the upload,
marks the job failed with a reason and never advertises a file; retries and duplicate deliveries
start clean; the worker's entry point takes EventBridge (and SQS-wrapped) events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from functions.export import jobs
from functions.export.files import object_key
from functions.export.multipart import MIN_PART_SIZE, MultipartUpload
from shared.exports.model import ExportStatus
from shared.exports.store import ExportRepository
from shared.platform import aws
from shared.platform.settings import settings
from tests.apigw import LambdaContext
from tests.export_support import (
    bulk_shipments,
    create_shipment,
    csv_rows,
    download,
    fetch,
    get_export,
    leftovers,
    new_merchant,
    requested,
    run,
    worker,
)


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    return new_merchant()


@contextmanager
def failing(client: Any, operation: str, *, on_call: int = 1, code: str = "InternalError") -> Iterator[list[int]]:
    """The `on_call`-th `operation` request of `client` fails as the service would answer it."""
    calls = [0]

    def maybe_fail(**_: Any) -> None:
        calls[0] += 1
        if calls[0] == on_call:
            raise ClientError({"Error": {"Code": code, "Message": "injected"}}, operation)

    event = f"before-call.{client.meta.service_model.service_name}.{operation}"
    client.meta.events.register(event, maybe_fail)
    try:
        yield calls
    finally:
        client.meta.events.unregister(event, maybe_fail)


def dynamodb() -> Any:
    return aws.table().meta.client


def assert_failed_without_a_file(merchant: str, export_id: str, *reason_parts: str) -> dict[str, Any]:
    shown = get_export(merchant, export_id).json()
    assert shown["status"] == "failed", shown
    assert (shown["download_url"], shown["expires_at"], shown["object_expires_at"], shown["row_count"]) == (
        None, None, None, None)
    for part in reason_parts:
        assert part in shown["error"]
    assert download(merchant, export_id).status == 409
    assert leftovers() == ([], 0)
    return shown


def big_export(merchant: str) -> str:
    """A file of about 7 MiB: two parts of 5 MiB (3,000 rows with a 2 KB tracking URL each)."""
    bulk_shipments(merchant, 60, parcels=50, tracking_url="https://track.example/" + "x" * 2000)
    return requested(merchant, {"type": "shipments", "format": "csv"})


def test_an_s3_error_mid_upload_aborts_and_marks_the_export_failed(merchant: str) -> None:
    export_id = big_export(merchant)
    the_worker = worker()
    the_worker.part_size = MIN_PART_SIZE
    with failing(the_worker.files.s3, "UploadPart", on_call=2) as calls:
        assert run(merchant, export_id, the_worker) is ExportStatus.FAILED
    assert calls[0] == 2  # the first part went up, the second failed
    shown = assert_failed_without_a_file(merchant, export_id, "S3", "UploadPart", "InternalError",
                                         "create the export again")
    assert shown["rows_written"] >= 1000  # it had progressed


def test_an_s3_error_completing_the_upload_publishes_nothing(merchant: str) -> None:
    export_id = big_export(merchant)
    the_worker = worker()
    the_worker.part_size = MIN_PART_SIZE
    with failing(the_worker.files.s3, "CompleteMultipartUpload"):
        assert run(merchant, export_id, the_worker) is ExportStatus.FAILED
    assert_failed_without_a_file(merchant, export_id, "S3", "CompleteMultipartUpload")


def test_a_dynamodb_error_mid_query_aborts_and_marks_the_export_failed(merchant: str) -> None:
    for month in (1, 2, 3):
        create_shipment(merchant, at=datetime(2026, month, 5, tzinfo=UTC), parcels=2)
    export_id = requested(merchant, {"type": "shipments", "filters": {"created_from": "2026-01-01"}})
    with failing(dynamodb(), "Query", on_call=2, code="ProvisionedThroughputExceededException"):
        assert run(merchant, export_id) is ExportStatus.FAILED
    shown = assert_failed_without_a_file(merchant, export_id, "DynamoDB", "Query",
                                         "ProvisionedThroughputExceededException")
    assert "shp_" not in shown["error"] and "Dupont" not in shown["error"]


def test_a_dynamodb_error_recording_progress_fails_the_export(merchant: str) -> None:
    bulk_shipments(merchant, 150, parcels=10)
    export_id = requested(merchant, {"type": "shipments"})
    with failing(dynamodb(), "UpdateItem", on_call=2):  # 1: the claim, 2: progress at 1,000 rows
        assert run(merchant, export_id) is ExportStatus.FAILED
    assert_failed_without_a_file(merchant, export_id, "DynamoDB", "UpdateItem")


def test_when_ready_cannot_be_recorded_the_file_is_deleted_and_the_export_fails(merchant: str) -> None:
    create_shipment(merchant)
    export_id = requested(merchant, {"type": "shipments"})
    # 1: claim, 2: last progress check, 3: ready, 4: failed
    with failing(dynamodb(), "UpdateItem", on_call=3):
        assert run(merchant, export_id) is ExportStatus.FAILED
    assert_failed_without_a_file(merchant, export_id, "DynamoDB")


def test_when_even_the_failure_cannot_be_recorded_the_error_propagates_for_a_retry(merchant: str) -> None:
    create_shipment(merchant, parcels=2)
    export_id = requested(merchant, {"type": "shipments"})
    the_worker = worker()
    # 1: claim, 2: last progress check, then the file's PutObject fails, 3: recording `failed` fails.
    with failing(the_worker.files.s3, "PutObject"), failing(dynamodb(), "UpdateItem", on_call=3), \
            pytest.raises(ClientError):
        run(merchant, export_id, the_worker)
    assert get_export(merchant, export_id).json()["status"] == "running"
    assert leftovers() == ([], 0)
    # Lambda retries the event: the retry starts clean and finishes.
    assert run(merchant, export_id) is ExportStatus.READY
    shown = get_export(merchant, export_id).json()
    assert (shown["status"], shown["row_count"], shown["error"]) == ("ready", 2, None)


def test_a_retry_after_a_crash_starts_clean(merchant: str) -> None:
    bulk_shipments(merchant, 120, parcels=10)
    export_id = requested(merchant, {"type": "shipments"})
    # A first run got this far, then Lambda stopped it: claimed, 1,000 rows reported, a part uploaded.
    exports = ExportRepository()
    assert exports.claim(merchant, export_id, "crashed") is not None
    exports.record_progress(merchant, export_id, "crashed", 1000)
    s3, bucket = aws.client("s3"), settings().export_bucket
    stale = MultipartUpload(s3, bucket, object_key(merchant, export_id, "crashed", "shipments.csv"),
                            content_type="text/csv", part_size=MIN_PART_SIZE)
    stale.write(b"x" * MIN_PART_SIZE)  # the part is uploaded; the upload is never completed nor aborted
    assert leftovers()[1] == 1

    assert run(merchant, export_id) is ExportStatus.READY
    shown = get_export(merchant, export_id).json()
    assert (shown["status"], shown["rows_written"], shown["row_count"], shown["error"]) == ("ready", 1200, 1200, None)
    objects, uploads = leftovers()
    assert uploads == 0 and len(objects) == 1 and "/crashed/" not in objects[0]
    rows = csv_rows(fetch(shown["download_url"]))
    assert len(rows) == 1200 and len({(r["shipment_id"], r["parcel_index"]) for r in rows}) == 1200


def test_a_failed_export_requested_again_succeeds(merchant: str) -> None:
    create_shipment(merchant, parcels=2)
    export_id = requested(merchant, {"type": "shipments"})
    with failing(dynamodb(), "Query"):
        assert run(merchant, export_id) is ExportStatus.FAILED
    again = requested(merchant, {"type": "shipments"})
    assert run(merchant, again) is ExportStatus.READY
    assert len(csv_rows(fetch(get_export(merchant, again).json()["download_url"]))) == 2


def test_a_duplicate_delivery_of_a_finished_export_changes_nothing(merchant: str) -> None:
    create_shipment(merchant)
    export_id = requested(merchant, {"type": "shipments"})
    assert run(merchant, export_id) is ExportStatus.READY
    before = get_export(merchant, export_id).json()
    assert run(merchant, export_id) is None
    after = get_export(merchant, export_id).json()
    assert {k: v for k, v in after.items() if k != "download_url"} == {
        k: v for k, v in before.items() if k != "download_url"}
    assert len(leftovers()[0]) == 1


def test_a_run_superseded_mid_export_stops_and_leaves_nothing(merchant: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    bulk_shipments(merchant, 150, parcels=10)
    export_id = requested(merchant, {"type": "shipments"})
    original = ExportRepository.record_progress

    def newer_run_claims_first(self: ExportRepository, *args: Any) -> None:
        ExportRepository().claim(merchant, export_id, "newer")  # a duplicate delivery took over
        original(self, *args)

    monkeypatch.setattr(ExportRepository, "record_progress", newer_run_claims_first)
    assert run(merchant, export_id) is None
    job = ExportRepository().get(merchant, export_id)
    assert (job.status, job.attempt, job.error) == (ExportStatus.RUNNING, "newer", None)
    assert leftovers() == ([], 0)


def test_a_run_superseded_after_its_upload_deletes_its_file(merchant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    create_shipment(merchant)
    export_id = requested(merchant, {"type": "shipments"})
    original = ExportRepository.mark_ready

    def newer_run_claims_first(self: ExportRepository, *args: Any, **kwargs: Any) -> None:
        ExportRepository().claim(merchant, export_id, "newer")
        original(self, *args, **kwargs)

    monkeypatch.setattr(ExportRepository, "mark_ready", newer_run_claims_first)
    assert run(merchant, export_id) is None
    assert ExportRepository().get(merchant, export_id).status is ExportStatus.RUNNING
    assert leftovers() == ([], 0)


def test_a_run_about_to_outlive_the_lambda_fails_with_advice(merchant: str) -> None:
    bulk_shipments(merchant, 20, parcels=10)
    export_id = requested(merchant, {"type": "shipments"})
    remaining = iter([900_000, 20_000])  # checked every 100 rows
    assert run(merchant, export_id, remaining_ms=lambda: next(remaining)) is ExportStatus.FAILED
    assert_failed_without_a_file(merchant, export_id, "15-minute limit", "narrower filters")


def test_failure_reasons_name_the_service_and_never_values() -> None:
    error = ClientError({"Error": {"Code": "ValidationException", "Message": "pk M#mer_1#S#shp_1 Dupont"}}, "Query")
    reason = jobs.failure_reason(error)
    assert reason == ("DynamoDB failed during the export (Query: ValidationException); no file was published; "
                      "create the export again.")


# --- the worker's entry point ----------------------------------------------------------------------
def eventbridge_event(merchant: str, export_id: str) -> dict[str, Any]:
    """The shape the EventBridge rule hands to the function (source `colis`, from the outbox)."""
    return {"version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": "ExportRequested",
            "source": "colis", "account": "123456789012", "time": "2026-03-10T12:00:00Z", "region": "eu-west-1",
            "resources": [], "detail": {"merchant_id": merchant, "export_id": export_id}}


class Context(LambdaContext):
    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def test_the_worker_runs_the_export_named_by_the_event(merchant: str) -> None:
    from functions.export.worker import lambda_handler

    create_shipment(merchant, parcels=2)
    export_id = requested(merchant, {"type": "shipments"})
    assert lambda_handler(eventbridge_event(merchant, export_id), Context()) is None
    assert get_export(merchant, export_id).json()["status"] == "ready"


def test_the_worker_also_takes_the_event_through_an_sqs_queue(merchant: str) -> None:
    from functions.export.worker import lambda_handler

    create_shipment(merchant)
    export_id = requested(merchant, {"type": "shipments"})
    record = {"messageId": "m-1", "receiptHandle": "r", "body": json.dumps(eventbridge_event(merchant, export_id)),
              "attributes": {}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
              "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:exports", "awsRegion": "eu-west-1"}
    assert lambda_handler({"Records": [record]}, Context()) == {"batchItemFailures": []}
    assert get_export(merchant, export_id).json()["status"] == "ready"


def test_the_worker_ignores_an_export_that_does_not_exist(merchant: str) -> None:
    from functions.export.worker import lambda_handler

    assert lambda_handler(eventbridge_event(merchant, "exp_gone"), Context()) is None

