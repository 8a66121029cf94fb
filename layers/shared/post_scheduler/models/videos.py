"""Videos: what clients send to create and finish an upload, what the table keeps about the
upload, and how a video is shown."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, model_validator

from post_scheduler.models.fields import CaptionText
from post_scheduler.models.records import VideoRecord
from post_scheduler.timestamps import format_utc

VideoContentType = Literal["video/mp4", "video/webm", "video/quicktime"]

# TikTok's limit for one video (4 GB, read as GiB like the TikTok client does).
MAX_VIDEO_BYTES = 4 * 1024**3
# S3's limits for a multipart upload.
MAX_UPLOAD_PARTS = 10_000

_STRICT = ConfigDict(extra="forbid", strict=True, defer_build=True)

# Schemas are built at a model's first use, so a function pays only for the models it uses.
_DEFERRED = ConfigDict(defer_build=True)


class CreateVideoRequest(BaseModel):
    """Body of POST /api/v1/videos: what the client is about to upload."""

    model_config = ConfigDict(
        extra="forbid",
        defer_build=True,
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "title": "Amazing TikTok Video",
                    "description": "Check out this content!",
                    "sizeBytes": 73400320,
                    "contentType": "video/mp4",
                }
            ]
        },
    )

    title: CaptionText = Field(min_length=1, description="A name for the video")
    description: CaptionText = Field(default="", description="Notes about the video")
    sizeBytes: StrictInt = Field(
        ge=1, le=MAX_VIDEO_BYTES, description="Exact size of the file in bytes (at most 4 GiB)"
    )
    contentType: VideoContentType = Field(description="video/mp4, video/webm or video/quicktime")


ETag = Annotated[str, StringConstraints(pattern=r'^"?[A-Za-z0-9-]{1,100}"?$')]


class UploadedPart(BaseModel):
    model_config = _STRICT

    partNumber: StrictInt = Field(ge=1, le=MAX_UPLOAD_PARTS)
    etag: ETag = Field(description="The ETag header S3 answered the part's PUT with")


class CompleteUploadRequest(BaseModel):
    """Body of POST /api/v1/videos/{videoId}/complete. A multipart upload lists every part with
    the ETag S3 returned for it; a single PUT upload sends `{}`."""

    model_config = ConfigDict(
        extra="forbid",
        defer_build=True,
        strict=True,
        json_schema_extra={
            "examples": [
                {"parts": [{"partNumber": 1, "etag": '"9b2cf535f27731c974343645a3985328"'}]}
            ]
        },
    )

    parts: list[UploadedPart] | None = Field(
        default=None, min_length=1, max_length=MAX_UPLOAD_PARTS
    )

    @model_validator(mode="after")
    def _ascending(self) -> CompleteUploadRequest:
        numbers = [part.partNumber for part in self.parts or []]
        if numbers != sorted(set(numbers)):
            raise ValueError("parts must be listed once each, in ascending partNumber order")
        return self


class VideoFileRecord(VideoRecord):
    """A video item with its upload bookkeeping (attributes the base record ignores)."""

    uploadId: str | None = None  # the S3 multipart upload, while it is open
    partSizeBytes: int | None = None
    objectETag: str | None = None  # the object that was checked and accepted
    readyAt: datetime | None = None
    expiresAt: int | None = None  # epoch seconds: the table's TTL removes an abandoned upload


class UploadPartUrl(BaseModel):
    model_config = _DEFERRED

    partNumber: int
    url: str
    sizeBytes: int


class UploadInstructions(BaseModel):
    """How to send the file: one presigned PUT, or presigned PUTs of each part followed by
    POST .../complete with their ETags."""

    model_config = _DEFERRED

    method: Literal["PUT", "MULTIPART"]
    expiresAt: str
    url: str | None = None
    headers: dict[str, str] | None = None
    partSizeBytes: int | None = None
    parts: list[UploadPartUrl] | None = None
    completePath: str


class VideoView(BaseModel):
    """One video as the API shows it; `upload` only while the file is still expected."""

    model_config = _DEFERRED

    id: str
    title: str
    description: str
    sizeBytes: int
    contentType: str
    status: str
    statusReason: str | None = None
    createdAt: str
    readyAt: str | None = None
    durationSeconds: float | None = None
    upload: UploadInstructions | None = None

    @classmethod
    def of(cls, video: VideoRecord, upload: UploadInstructions | None = None) -> VideoView:
        ready_at = getattr(video, "readyAt", None)
        return cls(
            id=video.videoId,
            title=video.title,
            description=video.description,
            sizeBytes=video.sizeBytes,
            contentType=video.contentType,
            status=video.status,
            statusReason=video.statusReason,
            createdAt=format_utc(video.createdAt),
            readyAt=None if ready_at is None else format_utc(ready_at),
            durationSeconds=video.durationSeconds,
            upload=upload,
        )

    def public(self) -> dict[str, object]:
        return self.model_dump(mode="json", exclude_none=True)
