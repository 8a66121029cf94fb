"""The chunk PUTs of a FILE_UPLOAD, streamed with an exact Content-Length."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from post_scheduler.adapters.tiktok_client.transport import (
    TikTokTransport,
    is_transient_status,
    json_object,
    text_or_none,
)
from post_scheduler.domain.errors import (
    ChunkLengthError,
    TikTokPermanentError,
    TikTokTransientError,
    TikTokUploadExpired,
    TikTokUploadRangeError,
)
from post_scheduler.domain.tiktok import UploadProgress

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)


def _received_through(header: str | None) -> int | None:
    """The last byte offset in a `bytes 0-LAST/TOTAL` progress header."""
    found = _CONTENT_RANGE.match(header or "")
    return int(found.group(2)) if found else None


class _SizedBody:
    """An iterable body of known length, so requests sends Content-Length instead of chunked
    transfer-encoding (which TikTok's upload endpoint does not take)."""

    def __init__(self, parts: Iterable[bytes | memoryview], length: int) -> None:
        self._parts = parts
        self._length = length

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes | memoryview]:
        sent = 0
        for part in self._parts:
            sent += len(part)
            if sent > self._length:
                raise ChunkLengthError(f"chunk source gave more than {self._length} bytes")
            if part:
                yield part
        if sent != self._length:
            raise ChunkLengthError(f"chunk source gave {sent} of {self._length} bytes")


class UploadCalls(TikTokTransport):
    """The upload URL's PUTs (the URL itself authorises them)."""

    def upload_chunk(
        self,
        upload_url: str,
        chunk: Iterable[bytes] | bytes | bytearray | memoryview,
        first: int,
        last: int,
        total: int,
        content_type: str = "video/mp4",
    ) -> UploadProgress:
        """PUTs bytes `first..last` (inclusive) of `total`. An iterable chunk is streamed as
        it is produced, so memory stays bounded by its parts."""
        length = last - first + 1
        if first < 0 or length <= 0 or last >= total:
            raise ValueError(f"bad chunk range {first}-{last}/{total}")
        body: bytes | _SizedBody
        if isinstance(chunk, bytes):
            if len(chunk) != length:
                raise ChunkLengthError(f"chunk has {len(chunk)} bytes, range needs {length}")
            body = chunk
        elif isinstance(chunk, bytearray | memoryview):
            body = _SizedBody([memoryview(chunk)], length)
        else:
            body = _SizedBody(chunk, length)
        response = self._send(
            "PUT",
            upload_url,
            "upload_chunk",
            data=body,
            headers={
                "Content-Type": content_type,
                "Content-Length": str(length),
                "Content-Range": f"bytes {first}-{last}/{total}",
            },
        )
        status = response.status_code
        received = _received_through(response.headers.get("Content-Range"))
        if status in (200, 201, 206):
            complete = status == 201 or (status == 200 and received == total - 1)
            return UploadProgress(complete, received)
        error = (json_object(response) or {}).get("error")
        error = error if isinstance(error, dict) else {}
        message = str(error.get("message", ""))
        log_id = text_or_none(error.get("log_id"))
        if status == 416:
            raise TikTokUploadRangeError(received, message, status, log_id)
        if status == 403:
            raise TikTokUploadExpired("upload_url_expired", message, status, log_id)
        code = text_or_none(error.get("code")) or f"http_{status}"
        if is_transient_status(status):
            raise TikTokTransientError(code, message, status, log_id)
        # 400 (bad headers or length) and 404 (no such upload) cannot succeed as sent.
        raise TikTokPermanentError(code, message, status, log_id)
