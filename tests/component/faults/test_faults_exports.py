"""Exports under S3 faults at each request of the upload: the upload is aborted and no object
appears (each step walked on the upload itself; tests/component/test_export_failure.py walks the
job's side), and an export whose file request failed, even one whose answer was lost after S3 made
the object, ends `failed` with a reason naming the service and the step, with nothing left under
its prefix; a repeated worker event then changes nothing.

Faults are injected at the call layer (what the worker sees once botocore's retries are spent),
except the one `at="send"` test, where botocore's retry absorbs a single SlowDown.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from functions.export.multipart import MIN_PART_SIZE, MultipartUpload
from shared.exports.model import ExportStatus
from shared.platform import aws
from shared.platform.settings import settings
from tests.export_support import (
    bulk_shipments,
    create_shipment,
    csv_rows,
    fetch,
    get_export,
    leftovers,
    new_merchant,
    requested,
    run,
    worker,
)
from tests.faults import S3_INTERNAL, S3_SLOW_DOWN, FaultInjector, LostAnswer

# A file of about 7 MiB in 5 MiB parts: create, part 1, part 2, complete.
MULTIPART = [("CreateMultipartUpload", 1), ("UploadPart", 1), ("UploadPart", 2), ("CompleteMultipartUpload", 1)]


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    return new_merchant()


def small_worker() -> Any:
    the_worker = worker()
    the_worker.part_size = MIN_PART_SIZE
    return the_worker


def assert_failed_and_clean(merchant: str, export_id: str, *reason_parts: str) -> None:
    shown = get_export(merchant, export_id).json()
    assert shown["status"] == "failed", shown
    assert shown["download_url"] is None and shown["row_count"] is None
    for part in reason_parts:
        assert part in shown["error"], (part, shown["error"])
    assert leftovers() == ([], 0)


def write_file(size: int) -> None:
    with MultipartUpload(aws.client("s3"), settings().export_bucket, "exports/m/e/run/file.csv",
                         content_type="text/csv", part_size=MIN_PART_SIZE) as upload:
        for _ in range(size // (1024 * 1024)):
            upload.write(b"x" * 1024 * 1024)


@pytest.mark.parametrize(("operation", "nth"), MULTIPART, ids=[f"{op}-{n}" for op, n in MULTIPART])
def test_an_s3_failure_at_each_step_of_a_multipart_upload_leaves_nothing(
        faults: FaultInjector, operation: str, nth: int) -> None:
    fault = faults.fail("s3", operation, S3_INTERNAL, on_call=nth)
    with pytest.raises(ClientError) as raised:
        write_file(7 * 1024 * 1024)
    assert fault.hits == 1 and raised.value.operation_name == operation
    assert leftovers() == ([], 0)


def test_a_failing_abort_keeps_the_cause_and_never_completes_the_object(faults: FaultInjector) -> None:
    faults.fail("s3", "UploadPart", S3_INTERNAL, on_call=2)  # the last part, sent by complete()
    faults.fail("s3", "AbortMultipartUpload", S3_INTERNAL)
    with pytest.raises(ClientError) as raised:
        write_file(7 * 1024 * 1024)
    assert raised.value.operation_name == "UploadPart"  # the cause, not the abort's failure
    assert any("AbortMultipartUpload" in note for note in raised.value.__notes__)
    assert leftovers() == ([], 1)  # no object; the open upload is the bucket lifecycle's, or the next run's


def test_a_completed_upload_whose_answer_was_lost_leaves_no_file_behind(merchant: str, faults: FaultInjector) -> None:
    bulk_shipments(merchant, 60, parcels=50, tracking_url="https://track.example/" + "x" * 2000)
    export_id = requested(merchant, {"type": "shipments", "format": "csv"})
    fault = faults.fail("s3", "CompleteMultipartUpload", LostAnswer())
    assert run(merchant, export_id, small_worker()) is ExportStatus.FAILED
    assert fault.hits == 1
    assert_failed_and_clean(merchant, export_id, "ReadTimeoutError")
    assert run(merchant, export_id, small_worker()) is None  # Lambda's repeat: a finished job stays as it is
    assert get_export(merchant, export_id).json()["status"] == "failed"


@pytest.mark.parametrize("error", [S3_INTERNAL, LostAnswer()], ids=["internal", "timeout"])
def test_a_small_export_whose_single_put_fails_leaves_no_file(merchant: str, faults: FaultInjector, error: Any) -> None:
    create_shipment(merchant, parcels=2)
    export_id = requested(merchant, {"type": "shipments"})
    fault = faults.fail("s3", "PutObject", error)
    assert run(merchant, export_id) is ExportStatus.FAILED
    assert fault.hits == 1
    assert_failed_and_clean(merchant, export_id, "PutObject" if error is S3_INTERNAL else "ReadTimeoutError")


def test_a_single_slow_down_is_absorbed_by_botocores_retry(merchant: str, faults: FaultInjector) -> None:
    create_shipment(merchant, parcels=2)
    export_id = requested(merchant, {"type": "shipments"})
    fault = faults.fail("s3", "PutObject", S3_SLOW_DOWN, at="send")
    assert run(merchant, export_id) is ExportStatus.READY
    assert fault.hits == 1
    assert len(csv_rows(fetch(get_export(merchant, export_id).json()["download_url"]))) == 2
