"""Video use cases: announce an upload (one presigned PUT, or a multipart upload with presigned
part URLs), decide it once the file is in S3 (the client's complete call or S3's event, whichever
comes first), show and delete videos.

A video is `uploading` until its file has been checked: size and Content-Type as declared, and
the first bytes of the declared container format. It then becomes `ready` (schedulable) or
`rejected` with a `statusReason`, and the rejected file is deleted.

Upload URLs sign the declared length in (S3 refuses other lengths). The bucket is versioned and
a ready video keeps the S3 VersionId that was checked, which is what the publisher reads: an
object written over it later (the upload URL still works for a while) is never published, and
is deleted as soon as S3 reports it, so the checked version stays the current one.
"""

from __future__ import annotations

import logging
import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from post_scheduler.domain.errors import StorageError, UploadNotFound, UploadPartsInvalid
from post_scheduler.errors import Conflict, NotFound, ValidationFailed
from post_scheduler.models.fields import ID_PATTERN
from post_scheduler.models.videos import (
    MAX_UPLOAD_PARTS,
    MAX_VIDEO_BYTES,
    CreateVideoRequest,
    UploadedPart,
    UploadInstructions,
    UploadPartUrl,
    VideoFileRecord,
    VideoView,
)
from post_scheduler.timestamps import format_utc, utc_now

if TYPE_CHECKING:
    from post_scheduler.domain.ports import SchedulingTablePort, StoredVideo, VideoFilesPort

logger = logging.getLogger(__name__)

MIB = 1024 * 1024
KEY_PREFIX = "videos/"
_EXTENSIONS = {"video/mp4": ".mp4", "video/webm": ".webm", "video/quicktime": ".mov"}
_FORMAT_NAMES = {"video/mp4": "MP4", "video/webm": "WebM", "video/quicktime": "QuickTime"}
# MP4 and QuickTime files are a sequence of boxes: bytes 4-7 name the first one.
_ISO_BMFF_FIRST_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"  # WebM (Matroska)
_VIDEO_ID = re.compile(ID_PATTERN)


@dataclass(frozen=True)
class UploadRules:
    """How uploads are offered. Files above the threshold go up in parts: a part can be retried
    alone, and a single PUT is capped at 5 GB by S3 anyway."""

    multipart_threshold_bytes: int = 100 * MIB
    part_size_bytes: int = 64 * MIB
    url_seconds: int = 3600
    abandon_after_seconds: int = 7 * 24 * 3600

    def __post_init__(self) -> None:
        if self.part_size_bytes < 5 * MIB:
            raise ValueError("S3 parts (but the last) must be at least 5 MiB")
        if math.ceil(MAX_VIDEO_BYTES / self.part_size_bytes) > MAX_UPLOAD_PARTS:
            raise ValueError("the largest video would need more parts than S3 allows")
        if not 60 <= self.url_seconds <= 7 * 24 * 3600:
            raise ValueError("presigned URLs live between a minute and a week")

    def multipart(self, size: int) -> bool:
        return size > self.multipart_threshold_bytes

    def part_sizes(self, size: int, part_size: int | None = None) -> list[int]:
        part = part_size or self.part_size_bytes
        count = math.ceil(size / part)
        return [part] * (count - 1) + [size - part * (count - 1)]


def object_key(user_id: str, video_id: str, content_type: str) -> str:
    """Where a video's file lives: under the owner, named by the video id."""
    return f"{KEY_PREFIX}{user_id}/{video_id}{_EXTENSIONS.get(content_type, '')}"


def parse_object_key(key: str) -> tuple[str, str] | None:
    """(user id, video id) of an object key, or None for a key that is not a video's.
    Read from the right: user ids may themselves contain slashes."""
    if not key.startswith(KEY_PREFIX):
        return None
    user_id, slash, name = key.removeprefix(KEY_PREFIX).rpartition("/")
    video_id = name.partition(".")[0]
    if not slash or not user_id or not _VIDEO_ID.match(video_id):
        return None
    return user_id, video_id


def looks_like(content_type: str, first_bytes: bytes) -> bool:
    """Whether the file starts the way files of the declared type do."""
    if content_type == "video/webm":
        return first_bytes.startswith(_EBML_MAGIC)
    return len(first_bytes) >= 8 and first_bytes[4:8] in _ISO_BMFF_FIRST_BOXES


class VideoService:
    """Videos of one table and one bucket."""

    def __init__(
        self,
        table: SchedulingTablePort,
        store: VideoFilesPort,
        rules: UploadRules | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.table = table
        self.store = store
        self.rules = rules or UploadRules()
        self.clock = clock

    # --- announcing an upload -------------------------------------------------------------------

    def create(self, user_id: str, request: CreateVideoRequest) -> VideoView:
        """A new `uploading` video and how to upload its file."""
        now = self.clock()
        video_id = str(uuid.uuid4())
        key = object_key(user_id, video_id, request.contentType)
        multipart = self.rules.multipart(request.sizeBytes)
        upload_id = self.store.start_multipart(key, request.contentType) if multipart else None
        video = VideoFileRecord(
            videoId=video_id,
            userId=user_id,
            title=request.title,
            description=request.description,
            sizeBytes=request.sizeBytes,
            contentType=request.contentType,
            s3Key=key,
            status="uploading",
            createdAt=now,
            uploadId=upload_id,
            partSizeBytes=self.rules.part_size_bytes if multipart else None,
            expiresAt=int((now + timedelta(seconds=self.rules.abandon_after_seconds)).timestamp()),
        )
        try:
            self.table.create_video(video)
        except Exception:
            if upload_id is not None:
                self._quietly(lambda: self.store.abort_multipart(key, upload_id), key)
            raise
        return VideoView.of(video, self._instructions(video, now))

    def _instructions(self, video: VideoFileRecord, now: datetime) -> UploadInstructions:
        """Freshly signed upload URLs (asking again after they expire gives new ones)."""
        seconds = self.rules.url_seconds
        common = {
            "expiresAt": format_utc(now + timedelta(seconds=seconds)),
            "completePath": f"/api/v1/videos/{video.videoId}/complete",
        }
        if video.uploadId is None:
            return UploadInstructions(
                method="PUT",
                url=self.store.presign_put(
                    video.s3Key, video.contentType, seconds, video.sizeBytes
                ),
                headers={"Content-Type": video.contentType},
                **common,
            )
        sizes = self.rules.part_sizes(video.sizeBytes, video.partSizeBytes)
        return UploadInstructions(
            method="MULTIPART",
            partSizeBytes=sizes[0],
            parts=[
                UploadPartUrl(
                    partNumber=number,
                    url=self.store.presign_part(video.s3Key, video.uploadId, number, seconds, size),
                    sizeBytes=size,
                )
                for number, size in enumerate(sizes, start=1)
            ],
            **common,
        )

    # --- reading --------------------------------------------------------------------------------

    def get(self, user_id: str, video_id: str) -> VideoView:
        """The video; while it is uploading, with fresh upload URLs."""
        video = self._owned(user_id, video_id)
        upload = self._instructions(video, self.clock()) if video.status == "uploading" else None
        return VideoView.of(video, upload)

    def _owned(self, user_id: str, video_id: str) -> VideoFileRecord:
        # The key includes the owner: another user's video reads as missing.
        video = self.table.get_video_file(user_id, video_id)
        if video is None:
            raise NotFound("video not found")
        return video

    # --- finishing an upload --------------------------------------------------------------------

    def complete(self, user_id: str, video_id: str, parts: list[UploadedPart] | None) -> VideoView:
        """The client says the file is up: assemble a multipart upload, then check the file now
        (S3's event does the same; whichever comes second changes nothing)."""
        video = self._owned(user_id, video_id)
        if video.status != "uploading":
            return VideoView.of(video)
        if video.uploadId is not None:
            self._assemble(video, video.uploadId, parts)
        elif parts:
            raise ValidationFailed(
                "this video is uploaded with a single PUT: complete it without `parts`",
                {"field": "parts"},
            )
        decided = self._decide(video)
        if decided is None:
            raise Conflict(
                "the file has not been uploaded yet: PUT it to the upload URL, then complete",
                {"videoId": video_id},
            )
        return VideoView.of(decided)

    def _assemble(
        self, video: VideoFileRecord, upload_id: str, parts: list[UploadedPart] | None
    ) -> None:
        expected = len(self.rules.part_sizes(video.sizeBytes, video.partSizeBytes))
        if not parts or [p.partNumber for p in parts] != list(range(1, expected + 1)):
            raise ValidationFailed(
                f"list all {expected} parts (partNumber 1 to {expected}) with their ETags",
                {"field": "parts", "expectedParts": expected},
            )
        try:
            self.store.complete_multipart(
                video.s3Key, upload_id, [(p.partNumber, p.etag) for p in parts]
            )
        except UploadNotFound:
            pass  # assembled by an earlier call; the object is checked below
        except UploadPartsInvalid as exc:
            raise ValidationFailed(f"S3 could not assemble the upload: {exc}") from None

    def object_created(self, key: str, version_id: str | None = None) -> VideoFileRecord | None:
        """S3 says an object (version) was written: decide the video it belongs to. Returns the
        video as it now stands (None when the key is no video's)."""
        parsed = parse_object_key(key)
        if parsed is None:
            logger.warning("object outside the video layout ignored", extra={"key": key[:300]})
            return None
        video = self.table.get_video_file(*parsed)
        if video is None:
            # The video was deleted (or its abandoned upload expired) before the file arrived.
            logger.info("file of a deleted video removed", extra={"key": key[:300]})
            self._quietly(lambda: self.store.delete(key), key)
            return None
        if video.s3Key != key:
            logger.warning("object is not the video's file", extra={"key": key[:300]})
            return video
        if video.status != "uploading":
            # Decided already (a repeated event, or the complete call came first). A version
            # written over a checked file is never published; delete it so the checked version
            # stays current (and out of the lifecycle rule that expires noncurrent versions).
            pinned = video.objectVersionId
            if video.status == "ready" and pinned and not version_id:
                current = self.store.head(key)  # an event without versionId: what is there now
                version_id = current.version_id if current else None
            if video.status == "ready" and pinned and version_id and version_id != pinned:
                logger.warning(
                    "object written over a checked video removed",
                    extra={"videoId": video.videoId},
                )
                self._quietly(lambda: self.store.delete_version(key, version_id), key)
            return video
        return self._decide(video) or video

    def _decide(self, video: VideoFileRecord) -> VideoFileRecord | None:
        """Check the uploaded file and settle the video; None when there is no file yet."""
        stored = self.store.head(video.s3Key)
        if stored is None:
            return None
        problem = self._problem(video, stored)
        duration = None if problem is not None else self._duration(video, stored)
        decided = self.table.finish_video_upload(
            video.userId,
            video.videoId,
            accepted=problem is None,
            reason=problem,
            etag=stored.etag,
            now=self.clock(),
            version_id=stored.version_id,
            duration_seconds=duration,
        )
        if problem is not None:
            logger.info("upload rejected", extra={"videoId": video.videoId, "reason": problem})
            self._quietly(lambda: self.store.delete(video.s3Key), video.s3Key)
        if decided is None:  # someone else decided first, or the video was deleted meanwhile
            decided = self.table.get_video_file(video.userId, video.videoId)
        return decided

    def _problem(self, video: VideoFileRecord, stored: StoredVideo) -> str | None:
        if stored.size != video.sizeBytes:
            return f"the uploaded file has {stored.size} bytes but {video.sizeBytes} were declared"
        actual = stored.content_type.split(";")[0].strip().lower()
        if actual != video.contentType:
            return (
                f"the uploaded file's Content-Type is {actual[:100]!r}"
                f" but {video.contentType} was declared"
            )
        first = self.store.first_bytes(video.s3Key, 12, stored.etag or None, stored.version_id)
        if not looks_like(video.contentType, first):
            name = _FORMAT_NAMES.get(video.contentType, video.contentType)
            return f"the uploaded file is not a {name} video (its first bytes do not match)"
        return None

    def _duration(self, video: VideoFileRecord, stored: StoredVideo) -> float | None:
        """The duration in the file's header (MP4 and QuickTime), for the pre-flight check
        against the creator's maximum; None when the file has none."""
        if video.contentType not in ("video/mp4", "video/quicktime") or stored.size <= 0:
            return None
        return self.store.duration_seconds(video.s3Key, stored.size, stored.etag or None)

    # --- deleting -------------------------------------------------------------------------------

    def delete(self, user_id: str, video_id: str) -> VideoFileRecord:
        """Delete a video no pending post uses, and its file."""
        deleted = self.table.delete_video(user_id, video_id)
        upload_id = deleted.uploadId
        if upload_id is not None:
            self._quietly(
                lambda: self.store.abort_multipart(deleted.s3Key, upload_id), deleted.s3Key
            )
        self._quietly(lambda: self.store.delete(deleted.s3Key), deleted.s3Key)
        return deleted

    @staticmethod
    def _quietly(action: Callable[[], None], key: str) -> None:
        """Storage clean-up that must not undo what the table already says."""
        try:
            action()
        except StorageError:
            logger.exception("video storage clean-up failed", extra={"key": key[:300]})
