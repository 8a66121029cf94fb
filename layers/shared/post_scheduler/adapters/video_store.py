"""The video bucket: object metadata and bounded-memory ranged reads of video bytes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from post_scheduler.adapters.aws import aws_client

READ_BLOCK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class StoredVideo:
    key: str
    size: int
    content_type: str
    etag: str


class VideoStore:
    """Reads (and, for uploads, signs access to) video objects in one bucket."""

    def __init__(self, bucket: str, client: Any = None) -> None:
        self.bucket = bucket
        self.client = client if client is not None else aws_client("s3")

    def head(self, key: str) -> StoredVideo | None:
        """The object's size and type, or None when it does not exist."""
        try:
            response = self.client.head_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return StoredVideo(
            key=key,
            size=int(response["ContentLength"]),
            content_type=response.get("ContentType", "application/octet-stream"),
            etag=response.get("ETag", "").strip('"'),
        )

    def read_range(
        self, key: str, first: int, last: int, etag: str | None = None
    ) -> Iterator[bytes]:
        """Bytes `first..last` (inclusive) in blocks of at most READ_BLOCK_BYTES, streamed, so
        memory stays bounded whatever the range. With `etag`, refuses an object that changed."""
        arguments: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "Range": f"bytes={first}-{last}",
        }
        if etag:
            arguments["IfMatch"] = etag
        body = self.client.get_object(**arguments)["Body"]
        try:
            yield from body.iter_chunks(READ_BLOCK_BYTES)
        finally:
            body.close()
