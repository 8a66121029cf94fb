"""Video files and the token cipher in memory, behaving as `adapters/video_store.py` and
`adapters/token_cipher.py` do: reads pinned to an ETag and version fail with VideoChanged or
VideoMissing, and a ciphertext opens only for the account and purpose it was sealed for."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from post_scheduler.domain.errors import (
    UploadNotFound,
    UploadPartsInvalid,
    VideoChanged,
    VideoMissing,
    VideoReadError,
)
from post_scheduler.domain.ports import StoredVideo


@dataclass
class _Object:
    content: bytes
    content_type: str
    version_id: str
    etag: str


def _etag(content: bytes) -> str:
    return hashlib.md5(content, usedforsecurity=False).hexdigest()


@dataclass
class FakeVideoFiles:
    """A versioned bucket: each put makes a new version; reads name the version they want."""

    objects: dict[str, list[_Object]] = field(default_factory=dict)
    uploads: dict[str, tuple[str, str, dict[int, bytes]]] = field(default_factory=dict)
    # Reads to fail with VideoReadError (a network blip) before they return bytes.
    read_failures: int = 0

    def put(self, key: str, content: bytes, content_type: str = "video/mp4") -> StoredVideo:
        obj = _Object(content, content_type, uuid.uuid4().hex, _etag(content))
        self.objects.setdefault(key, []).append(obj)
        return StoredVideo(key, len(content), content_type, obj.etag, obj.version_id)

    def _find(self, key: str, version_id: str | None) -> _Object | None:
        versions = self.objects.get(key) or []
        if version_id is None:
            return versions[-1] if versions else None
        return next((o for o in versions if o.version_id == version_id), None)

    def head(self, key: str, version_id: str | None = None) -> StoredVideo | None:
        obj = self._find(key, version_id)
        if obj is None:
            return None
        return StoredVideo(key, len(obj.content), obj.content_type, obj.etag, obj.version_id)

    def read_range(
        self,
        key: str,
        first: int,
        last: int,
        etag: str | None = None,
        version_id: str | None = None,
    ) -> Iterator[bytes]:
        obj = self._find(key, version_id)
        if obj is None:
            raise VideoMissing(key)
        if etag is not None and obj.etag != etag:
            raise VideoChanged(key)
        if self.read_failures > 0:
            self.read_failures -= 1
            raise VideoReadError(f"reading {key} failed")
        return iter([obj.content[first : last + 1]])

    def first_bytes(
        self, key: str, count: int, etag: str | None = None, version_id: str | None = None
    ) -> bytes:
        return b"".join(self.read_range(key, 0, count - 1, etag, version_id))

    def duration_seconds(self, key: str, size: int, etag: str | None = None) -> float | None:
        return None  # the fake's bytes are no MP4

    def sequential_reader(
        self, key: str, etag: str | None = None, version_id: str | None = None
    ) -> FakeChunkReader:
        return FakeChunkReader(self, key, etag, version_id)

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def delete_version(self, key: str, version_id: str) -> None:
        self.objects[key] = [o for o in self.objects.get(key, []) if o.version_id != version_id]

    def presign_put(self, key: str, content_type: str, expires_in: int, size: int) -> str:
        return f"https://videos.invalid/{key}?put&size={size}&expires={expires_in}"

    def start_multipart(self, key: str, content_type: str) -> str:
        upload_id = uuid.uuid4().hex
        self.uploads[upload_id] = (key, content_type, {})
        return upload_id

    def presign_part(
        self, key: str, upload_id: str, part_number: int, expires_in: int, size: int
    ) -> str:
        return f"https://videos.invalid/{key}?uploadId={upload_id}&partNumber={part_number}"

    def upload_part(self, upload_id: str, part_number: int, content: bytes) -> str:
        """What a client's PUT to a presigned part URL does; the part's ETag."""
        self.uploads[upload_id][2][part_number] = content
        return _etag(content)

    def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        if upload_id not in self.uploads:
            raise UploadNotFound(upload_id)
        _, content_type, held = self.uploads[upload_id]
        for number, etag in parts:
            if number not in held or _etag(held[number]) != etag:
                raise UploadPartsInvalid(f"part {number} does not match what was uploaded")
        del self.uploads[upload_id]
        self.put(key, b"".join(held[number] for number, _ in parts), content_type)

    def abort_multipart(self, key: str, upload_id: str) -> None:
        if self.uploads.pop(upload_id, None) is None:
            raise UploadNotFound(upload_id)


class FakeChunkReader:
    def __init__(
        self, files: FakeVideoFiles, key: str, etag: str | None, version_id: str | None
    ) -> None:
        self.files, self.key, self.etag, self.version_id = files, key, etag, version_id
        self.closed = False

    def chunk(self, first: int, last: int) -> Iterator[bytes]:
        assert not self.closed, "read after close"
        return self.files.read_range(self.key, first, last, self.etag, self.version_id)

    def close(self) -> None:
        self.closed = True


class CipherRefused(Exception):
    """The ciphertext was sealed for another account or purpose (KMS refuses it)."""


class FakeCipher:
    """Seals text reversibly, bound to (account, purpose), as KMS's encryption context binds."""

    def __init__(self) -> None:
        self.calls = 0
        self.encrypt_failures = 0

    def encrypt(self, plaintext: str, account_id: str, purpose: str) -> str:
        self.calls += 1
        if self.encrypt_failures > 0:
            self.encrypt_failures -= 1
            raise RuntimeError("KMS throttled the request")
        return f"sealed|{account_id}|{purpose}|{plaintext[::-1]}"

    def decrypt(self, ciphertext: str, account_id: str, purpose: str) -> str:
        self.calls += 1
        marker, sealed_for, sealed_purpose, body = ciphertext.split("|", 3)
        if marker != "sealed" or (sealed_for, sealed_purpose) != (account_id, purpose):
            raise CipherRefused("the ciphertext does not belong to this account and purpose")
        return body[::-1]
