"""The video bucket: object metadata, bounded-memory ranged reads of video bytes, and presigned
uploads (one PUT, or a multipart upload whose parts are PUT to presigned URLs)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from post_scheduler.adapters.aws import aws_client
from post_scheduler.domain.errors import StorageError
from post_scheduler.domain.errors import UploadNotFound as UploadNotFound
from post_scheduler.domain.errors import UploadPartsInvalid as UploadPartsInvalid
from post_scheduler.domain.errors import VideoChanged as VideoChanged
from post_scheduler.domain.errors import VideoMissing as VideoMissing
from post_scheduler.domain.errors import VideoReadError as VideoReadError
from post_scheduler.domain.ports import StoredVideo as StoredVideo

READ_BLOCK_BYTES = 1024 * 1024
# Presigned URLs must be SigV4 (S3 refuses SigV2 on buckets created since 2020).
_SIGNING_CONFIG = Config(signature_version="s3v4", retries={"mode": "standard"})


class VideoStore:
    """Reads (and, for uploads, signs access to) video objects in one bucket."""

    def __init__(self, bucket: str, client: Any = None, signer: Any = None) -> None:
        self.bucket = bucket
        self.client = client if client is not None else aws_client("s3")
        self._signer = signer

    def head(self, key: str, version_id: str | None = None) -> StoredVideo | None:
        """The object's (or, with `version_id`, that version's) size and type, or None when it
        does not exist."""
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            arguments["VersionId"] = version_id
        try:
            response = self.client.head_object(**arguments)
        except self.client.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            # A HEAD error has no body: a version id S3 does not know answers a bare 400.
            if code in ("404", "NoSuchKey", "NotFound", "NoSuchVersion") or (
                code == "400" and version_id
            ):
                return None
            raise
        return StoredVideo(
            key=key,
            size=int(response["ContentLength"]),
            content_type=response.get("ContentType", "application/octet-stream"),
            etag=response.get("ETag", "").strip('"'),
            version_id=response.get("VersionId") or version_id,
        )

    def read_range(
        self,
        key: str,
        first: int,
        last: int,
        etag: str | None = None,
        version_id: str | None = None,
    ) -> Iterator[bytes]:
        """Bytes `first..last` (inclusive) in blocks of at most READ_BLOCK_BYTES, streamed, so
        memory stays bounded whatever the range. With `etag`, refuses an object that changed;
        with `version_id`, reads exactly that version whatever was written since."""
        body = self._open(key, first, etag, last, version_id)
        try:
            with _read_errors(key):
                yield from body.iter_chunks(READ_BLOCK_BYTES)
        finally:
            body.close()

    def sequential_reader(
        self, key: str, etag: str | None = None, version_id: str | None = None
    ) -> SequentialReader:
        """A reader for consecutive ranges of one object (version) over a single GET."""
        return SequentialReader(self, key, etag, version_id=version_id)

    def _open(
        self,
        key: str,
        first: int,
        etag: str | None,
        last: int | None = None,
        version_id: str | None = None,
    ) -> Any:
        span = f"bytes={first}-{'' if last is None else last}"
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "Range": span}
        if etag:
            arguments["IfMatch"] = etag
        if version_id:
            arguments["VersionId"] = version_id
        with _read_errors(key):
            return self.client.get_object(**arguments)["Body"]

    # --- uploads --------------------------------------------------------------------------------

    @property
    def signer(self) -> Any:
        """The client that signs upload URLs (SigV4, whatever the default client uses)."""
        if self._signer is None:
            import boto3

            self._signer = boto3.client("s3", config=_SIGNING_CONFIG)
        return self._signer

    def presign_put(self, key: str, content_type: str, expires_in: int, size: int) -> str:
        """A URL that accepts one PUT of the object with this Content-Type and exactly `size`
        bytes (both headers are signed in: S3 refuses an upload whose headers differ)."""
        url: str = self.signer.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ContentType": content_type,
                "ContentLength": size,
            },
            ExpiresIn=expires_in,
            HttpMethod="PUT",
        )
        return url

    def start_multipart(self, key: str, content_type: str) -> str:
        """Open a multipart upload of the object; its upload id."""
        response = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=key, ContentType=content_type
        )
        upload_id: str = response["UploadId"]
        return upload_id

    def presign_part(
        self, key: str, upload_id: str, part_number: int, expires_in: int, size: int
    ) -> str:
        """A URL that accepts the PUT of one part of an open multipart upload, of exactly
        `size` bytes (Content-Length is signed in)."""
        url: str = self.signer.generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "UploadId": upload_id,
                "PartNumber": part_number,
                "ContentLength": size,
            },
            ExpiresIn=expires_in,
            HttpMethod="PUT",
        )
        return url

    def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        """Assemble the parts (number, ETag) into the object."""
        try:
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={
                    "Parts": [
                        {"PartNumber": number, "ETag": f'"{etag.strip(chr(34))}"'}
                        for number, etag in parts
                    ]
                },
            )
        except self.client.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code", "")
            if code == "NoSuchUpload":
                raise UploadNotFound(key) from None
            if code in ("InvalidPart", "InvalidPartOrder", "EntityTooSmall", "MalformedXML"):
                raise UploadPartsInvalid(_PART_ERRORS.get(code, code)) from None
            raise

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop an open multipart upload and its parts; one already gone is fine."""
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("NoSuchUpload", "404"):
                raise StorageError(f"aborting the upload of {key} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"aborting the upload of {key} failed: {exc}") from exc

    def delete(self, key: str) -> None:
        """Delete the object (with versioning on, older versions expire by lifecycle rule)."""
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"deleting {key} failed: {exc}") from exc

    def delete_version(self, key: str, version_id: str) -> None:
        """Delete one version of the object for good (the one before it becomes current)."""
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=version_id)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"deleting a version of {key} failed: {exc}") from exc

    def duration_seconds(self, key: str, size: int, etag: str | None = None) -> float | None:
        """The duration in an MP4/QuickTime file's header, read with ranged reads; None when it
        has none."""
        from post_scheduler.adapters.mp4_duration import duration_seconds

        def read(first: int, last: int) -> bytes:
            return b"".join(self.read_range(key, first, last, etag))

        return duration_seconds(read, size)

    def first_bytes(
        self, key: str, count: int, etag: str | None = None, version_id: str | None = None
    ) -> bytes:
        """Up to `count` bytes from the start of the object (version)."""
        return b"".join(self.read_range(key, 0, count - 1, etag, version_id))


_PART_ERRORS = {
    "InvalidPart": "a listed part was not uploaded or its ETag does not match",
    "InvalidPartOrder": "parts must be listed in ascending partNumber order",
    "EntityTooSmall": "every part but the last must be at least 5 MiB",
    "MalformedXML": "the part list is malformed",
}


class SequentialReader:
    """Serves consecutive byte ranges of one object from one open GET, so a multi-chunk upload
    costs one request instead of one per chunk. A background thread reads up to
    `prefetch_blocks` blocks ahead, so reading S3 and sending to TikTok overlap while memory
    stays bounded. A range that does not follow the previous one (a retried chunk) reopens
    the stream where it starts, checking the ETag again."""

    def __init__(
        self,
        store: VideoStore,
        key: str,
        etag: str | None,
        prefetch_blocks: int = 2,
        version_id: str | None = None,
    ) -> None:
        self.store = store
        self.key = key
        self.etag = etag
        self.version_id = version_id
        self.prefetch_blocks = prefetch_blocks
        self._ahead: _ReadAhead | None = None
        self._position = -1
        self._leftover = b""

    def chunk(self, first: int, last: int) -> Iterator[bytes]:
        """Bytes `first..last` (inclusive), in blocks of at most READ_BLOCK_BYTES."""
        if self._ahead is None or self._position != first:
            self.close()
            body = self.store._open(self.key, first, self.etag, version_id=self.version_id)
            self._ahead = _ReadAhead(body, self.prefetch_blocks)
            self._position = first
        needed = last - first + 1
        completed = False
        try:
            with _read_errors(self.key):
                while needed > 0:
                    block = self._leftover or self._ahead.next_block()
                    self._leftover = b""
                    if not block:
                        raise VideoReadError(f"{self.key} ended {needed} bytes early")
                    if len(block) > needed:
                        block, self._leftover = block[:needed], block[needed:]
                    needed -= len(block)
                    self._position += len(block)
                    yield block
            completed = True
        finally:
            if not completed:  # abandoned or failed mid-range: the stream's position is unknown
                self.close()

    def close(self) -> None:
        if self._ahead is not None:
            self._ahead.close()
        self._ahead, self._position, self._leftover = None, -1, b""


class _ReadAhead:
    """Reads a streaming body on a worker thread into a small bounded queue."""

    _END = object()

    def __init__(self, body: Any, depth: int) -> None:
        self._body = body
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(depth, 1))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="video-read-ahead", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        item: object = self._END
        try:
            for block in self._body.iter_chunks(READ_BLOCK_BYTES):
                if not self._put(block):
                    return
        except Exception as exc:  # handed to the consumer, which maps it
            item = exc
        self._put(item)

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def next_block(self) -> bytes:
        item = self._queue.get()
        if item is self._END:
            self._queue.put(item)  # stay at the end for any later call
            return b""
        if isinstance(item, Exception):
            raise item
        assert isinstance(item, bytes)
        return item

    def close(self) -> None:
        self._stop.set()
        self._body.close()
        self._thread.join(timeout=5)


@contextmanager
def _read_errors(key: str) -> Iterator[None]:
    """S3 failures as the reader's own errors: changed, missing, or worth a retry."""
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in ("PreconditionFailed", "412"):
            raise VideoChanged(key) from None
        if code in ("NoSuchKey", "NoSuchVersion", "404"):
            raise VideoMissing(key) from None
        raise VideoReadError(f"{code}: reading {key}") from exc
    except BotoCoreError as exc:
        raise VideoReadError(f"{type(exc).__name__} reading {key}") from exc
