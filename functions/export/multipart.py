"""Stream bytes to one S3 object in constant memory (DESIGN.md §1.4: exports).

Memory holds at most one part (plus the chunk being written). The object only appears when every
byte has been handed over and `complete()` succeeds; any failure aborts the multipart upload, so
no partial object is ever completed. The bucket's lifecycle rule removes incomplete uploads after
a day should even the abort fail.

A stream shorter than one part is sent with a single `put_object` instead: no upload id to clean
up and one request instead of three.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any
from urllib.parse import quote

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's minimum for every part but the last
DEFAULT_PART_SIZE = 8 * 1024 * 1024
MAX_PARTS = 10_000  # S3's limit: 8 MiB parts allow objects up to about 78 GiB
CHECKSUM_ALGORITHM = "CRC32"


class UploadClosed(RuntimeError):
    pass


class TooManyParts(RuntimeError):
    pass


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact name in RFC 5987 form (RFC 6266)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class MultipartUpload:
    """A binary file-like sink writing to `s3://bucket/key`.

    Used as a context manager it completes on a clean exit and aborts, then re-raises, on an
    exception. `server_side_encryption` defaults to SSE-S3 ("AES256"), which S3 applies to every
    new object anyway; pass None to leave encryption to the bucket default (e.g. SSE-KMS).
    """

    def __init__(self, s3_client: Any, bucket: str, key: str, *, content_type: str,
                 filename: str | None = None, part_size: int = DEFAULT_PART_SIZE,
                 server_side_encryption: str | None = "AES256") -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3's minimum part size)")
        self._s3 = s3_client
        self._bucket = bucket
        self._key = key
        self._part_size = part_size
        self._object_args: dict[str, str] = {
            "Bucket": bucket,
            "Key": key,
            "ContentType": content_type,
            "ContentDisposition": content_disposition(filename or key.rsplit("/", 1)[-1]),
        }
        if server_side_encryption is not None:
            self._object_args["ServerSideEncryption"] = server_side_encryption
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._finished = False
        self.bytes_written = 0

    @property
    def part_count(self) -> int:
        return len(self._parts)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._finished:
            raise UploadClosed(f"s3://{self._bucket}/{self._key} is already completed or aborted")
        self._buffer += data
        self.bytes_written += len(data)
        while len(self._buffer) >= self._part_size:
            with memoryview(self._buffer) as view:
                part = bytes(view[: self._part_size])  # one copy; a bytearray slice then bytes() makes two
            self._upload_part(part)
            del part
            del self._buffer[: self._part_size]
        return len(data)

    def complete(self) -> None:
        if self._finished:
            raise UploadClosed(f"s3://{self._bucket}/{self._key} is already completed or aborted")
        try:
            if self._upload_id is None:
                self._s3.put_object(Body=bytes(self._buffer), ChecksumAlgorithm=CHECKSUM_ALGORITHM,
                                    **self._object_args)
            else:
                self._finish_multipart()
        except BaseException as error:
            self._abort_keeping(error)
            raise
        self._finished = True
        self._buffer = bytearray()

    def abort(self) -> None:
        """Drop everything written; safe to call more than once, and a no-op after `complete()`."""
        if self._finished:
            return
        self._finished = True
        self._buffer = bytearray()
        if self._upload_id is not None:
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)

    def __enter__(self) -> MultipartUpload:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if exc is None:
            if not self._finished:
                self.complete()
            return
        self._abort_keeping(exc)

    def _abort_keeping(self, error: BaseException) -> None:
        """Abort after `error`; should the abort fail too (or find the upload already completed, when
        the completion's answer was lost), the original error is the one that counts."""
        try:
            self.abort()
        except Exception as abort_error:
            error.add_note(f"aborting multipart upload {self._upload_id} also failed: {abort_error!r}")

    def _finish_multipart(self) -> None:
        if self._buffer:
            self._upload_part(bytes(self._buffer))
        self._s3.complete_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id,
                                           MultipartUpload={"Parts": self._parts})

    def _upload_part(self, body: bytes) -> None:
        if self._upload_id is None:
            created = self._s3.create_multipart_upload(ChecksumAlgorithm=CHECKSUM_ALGORITHM, **self._object_args)
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        if number > MAX_PARTS:
            raise TooManyParts(f"more than {MAX_PARTS} parts of {self._part_size} bytes; raise part_size")
        uploaded = self._s3.upload_part(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id,
                                        PartNumber=number, Body=body, ChecksumAlgorithm=CHECKSUM_ALGORITHM)
        self._parts.append({"PartNumber": number, "ETag": uploaded["ETag"],
                            "ChecksumCRC32": uploaded["ChecksumCRC32"]})
