"""Export files in the export bucket: where each run writes, presigned links, clean-up.

Keys are `exports/<merchant>/<export>/<attempt>/<filename>`: every run of a job writes under its
own attempt, so a retried or duplicated run never overwrites or exposes another run's file, and
the merchant's id scopes everything a merchant's export can touch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from shared.exports.model import LINK_MAX_SECONDS
from shared.platform import aws, clock
from shared.platform.settings import settings

EXPORTS_PREFIX = "exports"


def export_prefix(merchant_id: str, export_id: str) -> str:
    return f"{EXPORTS_PREFIX}/{merchant_id}/{export_id}/"


def object_key(merchant_id: str, export_id: str, attempt: str, filename: str) -> str:
    return f"{export_prefix(merchant_id, export_id)}{attempt}/{filename}"


@dataclass(frozen=True)
class Link:
    url: str
    expires_at: datetime


class ExportFiles:
    def __init__(self, s3: Any | None = None, bucket: str | None = None, signer: Any | None = None) -> None:
        self.s3 = s3 if s3 is not None else aws.client("s3")
        self.bucket = bucket if bucket is not None else settings().export_bucket
        self._signer = signer

    @property
    def signer(self) -> Any:
        # Created on first use: the worker never signs links.
        if self._signer is None:
            self._signer = aws.presigner()
        return self._signer

    def link(self, key: str, seconds: int, object_expires_at: datetime) -> Link:
        """A presigned GET; it never outlives the object (nor an hour: it dies with the signer's
        credentials anyway). `expires_at` is read on the product clock."""
        now = clock.now().replace(microsecond=0)  # links count whole seconds
        seconds = max(1, min(seconds, LINK_MAX_SECONDS, int((object_expires_at - now).total_seconds())))
        url = self.signer.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": key},
                                             ExpiresIn=seconds)
        return Link(url=url, expires_at=now + timedelta(seconds=seconds))

    def exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=key)

    def discard_earlier_runs(self, merchant_id: str, export_id: str) -> int:
        """Abort multipart uploads that earlier runs of this export left behind (a crash or a
        timeout gives them no chance to abort): a retry starts clean. Returns how many."""
        prefix = export_prefix(merchant_id, export_id)
        aborted = 0
        request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        while True:
            page = self.s3.list_multipart_uploads(**request)
            for upload in page.get("Uploads", []):
                self.s3.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                aborted += 1
            if not page.get("IsTruncated"):
                return aborted
            request.update(KeyMarker=page["NextKeyMarker"], UploadIdMarker=page["NextUploadIdMarker"])
