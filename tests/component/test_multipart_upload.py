"""Streaming an export to S3 with a multipart upload, against moto (DESIGN.md §1.4)."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from typing import Any

import boto3
import openpyxl
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from functions.export.columns import SHIPMENT_COLUMNS, SHIPMENT_HEADER
from functions.export.multipart import MIN_PART_SIZE, MultipartUpload, UploadClosed
from functions.export.spreadsheet import CsvExportWriter, XlsxExportWriter, XlsxRowLimitExceeded

BUCKET = "colis-exports"
KEY = "exports/m_1/exp_1/shipments.csv"
MiB = 1024 * 1024


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield client


def stream(size: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    data = os.urandom(size)
    for start in range(0, size, chunk):
        yield data[start:start + chunk]


def object_body(s3: Any, key: str = KEY) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def assert_nothing_left(s3: Any, key: str = KEY) -> None:
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    with pytest.raises(ClientError, match="404"):
        s3.head_object(Bucket=BUCKET, Key=key)


def test_a_12_mib_stream_lands_intact_in_several_parts(s3: Any) -> None:
    digest = hashlib.sha256()
    with MultipartUpload(s3, BUCKET, KEY, content_type="text/csv", part_size=MIN_PART_SIZE) as upload:
        for chunk in stream(12 * MiB):
            digest.update(chunk)
            upload.write(chunk)
    assert upload.part_count == 3
    assert upload.bytes_written == 12 * MiB
    assert hashlib.sha256(object_body(s3)).hexdigest() == digest.hexdigest()
    assert s3.head_object(Bucket=BUCKET, Key=KEY, PartNumber=1)["PartsCount"] == 3
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_the_object_carries_type_disposition_and_encryption(s3: Any) -> None:
    with MultipartUpload(s3, BUCKET, KEY, content_type="text/csv; charset=utf-8",
                         filename="expéditions 2024.csv", part_size=MIN_PART_SIZE) as upload:
        for chunk in stream(6 * MiB):
            upload.write(chunk)
    head = s3.head_object(Bucket=BUCKET, Key=KEY)
    assert head["ContentType"] == "text/csv; charset=utf-8"
    assert head["ContentDisposition"] == (
        "attachment; filename=\"exp_ditions 2024.csv\"; filename*=UTF-8''exp%C3%A9ditions%202024.csv")
    assert head["ServerSideEncryption"] == "AES256"


def test_an_error_mid_stream_aborts_and_leaves_no_object(s3: Any) -> None:
    with pytest.raises(RuntimeError, match="database went away"), \
            MultipartUpload(s3, BUCKET, KEY, content_type="text/csv", part_size=MIN_PART_SIZE) as upload:
        for chunk in stream(7 * MiB):
            upload.write(chunk)
        assert upload.part_count == 1  # a part is already in S3
        raise RuntimeError("database went away")
    assert_nothing_left(s3)


def test_a_failing_abort_does_not_hide_the_original_error(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_abort(**_: Any) -> None:
        raise ConnectionError("network down")

    with pytest.raises(RuntimeError, match="database went away") as raised, \
            MultipartUpload(s3, BUCKET, KEY, content_type="text/csv", part_size=MIN_PART_SIZE) as upload:
        upload.write(os.urandom(6 * MiB))
        monkeypatch.setattr(s3, "abort_multipart_upload", broken_abort)
        raise RuntimeError("database went away")
    assert "network down" in "".join(raised.value.__notes__)


def test_a_small_file_is_a_single_put(s3: Any) -> None:
    with MultipartUpload(s3, BUCKET, KEY, content_type="text/csv") as upload:
        upload.write(b"shipment_id\r\n")
        upload.write(b"shp_1\r\n")
    assert upload.part_count == 0
    assert object_body(s3) == b"shipment_id\r\nshp_1\r\n"
    assert s3.head_object(Bucket=BUCKET, Key=KEY)["ServerSideEncryption"] == "AES256"


def test_an_error_before_the_first_part_leaves_no_object(s3: Any) -> None:
    with pytest.raises(RuntimeError), MultipartUpload(s3, BUCKET, KEY, content_type="text/csv") as upload:
        upload.write(b"shipment_id\r\n")
        raise RuntimeError("boom")
    assert_nothing_left(s3)


def test_a_stream_of_exactly_one_part_completes(s3: Any) -> None:
    with MultipartUpload(s3, BUCKET, KEY, content_type="text/csv", part_size=MIN_PART_SIZE) as upload:
        upload.write(b"x" * MIN_PART_SIZE)
    assert upload.part_count == 1
    assert len(object_body(s3)) == MIN_PART_SIZE


def test_encryption_can_be_left_to_the_bucket_default(s3: Any) -> None:
    with MultipartUpload(s3, BUCKET, KEY, content_type="text/csv", server_side_encryption=None) as upload:
        upload.write(b"x")
    assert object_body(s3) == b"x"


def test_parts_below_the_s3_minimum_are_refused(s3: Any) -> None:
    with pytest.raises(ValueError, match="at least 5242880"):
        MultipartUpload(s3, BUCKET, KEY, content_type="text/csv", part_size=MIN_PART_SIZE - 1)


def test_nothing_can_be_written_after_completion(s3: Any) -> None:
    upload = MultipartUpload(s3, BUCKET, KEY, content_type="text/csv")
    upload.write(b"x")
    upload.complete()
    with pytest.raises(UploadClosed):
        upload.write(b"y")


def test_a_csv_export_streams_through_a_multipart_upload(s3: Any) -> None:
    rows = ({"tracking_number": f"{n:022d}", "description": "é" * 100} for n in range(40_000))
    with MultipartUpload(s3, BUCKET, KEY, content_type=CsvExportWriter.content_type,
                         part_size=MIN_PART_SIZE) as upload, CsvExportWriter(upload, SHIPMENT_COLUMNS) as writer:
        writer.write_rows(rows)
    assert upload.part_count >= 2
    lines = object_body(s3).split(b"\r\n")
    assert lines[0].startswith(b"\xef\xbb\xbfshipment_id,status,")
    assert lines[-1] == b""
    assert len(lines) == 40_002
    assert b'"=""0000000000000000039999"""' in lines[-2]


def test_an_xlsx_export_past_the_row_limit_leaves_no_object(s3: Any) -> None:
    key = "exports/m_1/exp_2/shipments.xlsx"
    with pytest.raises(XlsxRowLimitExceeded, match="CSV"), \
            MultipartUpload(s3, BUCKET, key, content_type=XlsxExportWriter.content_type) as upload, \
            XlsxExportWriter(upload, SHIPMENT_COLUMNS, max_data_rows=2) as writer:
        writer.write_rows([{"order_id": "1001"}] * 3)
    assert_nothing_left(s3, key)


def test_an_xlsx_export_lands_readable(s3: Any) -> None:
    key = "exports/m_1/exp_3/shipments.xlsx"
    with MultipartUpload(s3, BUCKET, key, content_type=XlsxExportWriter.content_type) as upload, \
            XlsxExportWriter(upload, SHIPMENT_COLUMNS) as writer:
        writer.write_row({"tracking_number": "1234567890123456789012"})
    sheet = openpyxl.load_workbook(io.BytesIO(object_body(s3, key))).active
    tracking_column = SHIPMENT_HEADER.index("tracking_number") + 1
    assert sheet.cell(row=2, column=tracking_column).value == "1234567890123456789012"
