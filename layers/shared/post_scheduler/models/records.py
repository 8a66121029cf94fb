"""What the table stores, one model per entity. Times are aware UTC datetimes here and
`YYYY-MM-DDTHH:MM:SS.sssZ` text in the table."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from post_scheduler.models.requests import PostOptions

ScheduleStatus = Literal["pending", "publishing", "executed", "cancelled", "failed"]
VideoStatus = Literal["uploading", "ready", "rejected", "published"]

# `publishing` is the publisher's claim on a pending post; clients see it as pending.
FINAL_STATUSES: frozenset[str] = frozenset({"executed", "cancelled", "failed"})

# What is known of a publish TikTok was given (`publishOutcome`):
# - "unconfirmed": TikTok has (or may have) the whole video but has not said whether it
#   published it; the post is reconciled from TikTok's status, never published again.
# - "tiktok_failed": TikTok reported the publish FAILED.
# - "upload_incomplete": TikTok itself reported holding only part of the video, and the upload
#   cannot be continued, so TikTok cannot publish it.
# Only after the last two may a re-activation start a new publish (a new TikTok init).
PublishOutcomeValue = Literal["unconfirmed", "tiktok_failed", "upload_incomplete"]
RESTARTABLE_OUTCOMES: frozenset[str] = frozenset({"tiktok_failed", "upload_incomplete"})


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)


class UserRecord(_Record):
    userId: str
    plan: str
    pendingCount: int = 0
    createdAt: datetime
    name: str | None = None


class ApiKeyRecord(_Record):
    keyHash: str
    keyId: str
    userId: str
    prefix: str
    name: str = ""
    createdAt: datetime
    lastUsedAt: datetime | None = None


class VideoRecord(_Record):
    videoId: str
    userId: str
    title: str = ""
    description: str = ""
    sizeBytes: int = 0
    contentType: str = "video/mp4"
    s3Key: str
    # The S3 version that was checked when the video became ready: the one that is published.
    objectVersionId: str | None = None
    status: VideoStatus = "ready"
    statusReason: str | None = None
    pendingScheduleId: str | None = None
    createdAt: datetime
    publishedAt: datetime | None = None
    # From the MP4/QuickTime header when the upload was checked (None: not readable).
    durationSeconds: float | None = None


class CreatorInfoSnapshot(_Record):
    """What TikTok's creator_info said the creator may post (the parts pre-flight checks use)."""

    privacyLevelOptions: list[str]
    maxVideoPostDurationSec: int


class TikTokAccountRecord(_Record):
    accountId: str
    userId: str
    openId: str = ""
    username: str = ""
    displayName: str = ""
    scope: str = ""
    # Access and refresh tokens, encrypted with the project's KMS key (base64 ciphertext).
    accessTokenCipher: str = ""
    refreshTokenCipher: str = ""
    accessTokenExpiresAt: datetime | None = None
    refreshTokenExpiresAt: datetime | None = None
    tokenVersion: int = 0
    # Set when the account's tokens are unusable until the user reconnects it (the reason).
    needsReconnection: str | None = None
    # A short lease one publisher run holds while it refreshes the tokens (refreshes are
    # serialised per account: TikTok rotates the refresh token on every use).
    refreshLeaseToken: str | None = None
    refreshLeaseUntil: datetime | None = None
    # TikTok's creator_info as last read (at connect, and by the publisher before each init),
    # and when: create checks privacy level and duration against it while it is fresh.
    creatorInfo: CreatorInfoSnapshot | None = None
    creatorInfoAt: datetime | None = None
    createdAt: datetime
    updatedAt: datetime | None = None


class ScheduleRecord(_Record):
    scheduleId: str
    userId: str
    videoId: str
    tiktokAccountId: str
    scheduledPublishTime: datetime
    status: ScheduleStatus
    # `version` changes when the post's schedule changes (time, re-activation); the Scheduler's
    # event carries it, so a stale event is recognised. `revision` changes on every write and
    # guards against lost updates.
    version: int = 1
    revision: int = 1
    createdAt: datetime
    updatedAt: datetime
    title: str | None = None
    hashtags: str | None = None
    postOptions: PostOptions = Field(default_factory=PostOptions)
    # The (account, UTC minute) posting slot this post holds while pending or publishing
    # (`YYYY-MM-DDTHH:MM`, see domain/time_rules.py); None once it ended or gave it back.
    accountMinute: str | None = None
    # Publishing progress, written by the publisher.
    claimedAt: datetime | None = None
    claimToken: str | None = None
    leaseExpiresAt: datetime | None = None
    publishStartedAt: datetime | None = None
    tiktokPublishId: str | None = None
    uploadUrl: str | None = None
    uploadUrlExpiresAt: datetime | None = None
    videoEtag: str | None = None
    videoSizeBytes: int | None = None
    chunkSize: int | None = None
    totalChunkCount: int | None = None
    uploadedBytes: int | None = None
    # When TikTok acknowledged the last chunk: confirmation waits are measured from here.
    uploadCompletedAt: datetime | None = None
    publishOutcome: PublishOutcomeValue | None = None
    publishAttempts: int = 0
    # How often the sweep re-armed this version of the post (bounded; see domain/sweep.py).
    sweepRearms: int = 0
    executedAt: datetime | None = None
    failedAt: datetime | None = None
    failureReason: str | None = None
    lastError: str | None = None
    cancelledAt: datetime | None = None

    @field_validator("postOptions", mode="before")
    @classmethod
    def _stored_options(cls, value: Any) -> Any:
        # The table gives numbers back as Decimal; the (strict) options model takes ints.
        if isinstance(value, dict):
            return {k: int(v) if isinstance(v, Decimal) else v for k, v in value.items()}
        return value

    @property
    def client_status(self) -> str:
        return "pending" if self.status == "publishing" else self.status

    @property
    def holds_publish(self) -> bool:
        """True while TikTok holds (or may hold) this post's video under `tiktokPublishId`:
        then no path may call TikTok's init again for it."""
        return self.tiktokPublishId is not None and (
            self.publishOutcome not in RESTARTABLE_OUTCOMES
        )

    @property
    def caption(self) -> str:
        return " ".join(part for part in (self.title, self.hashtags) if part)


class DueEntry(BaseModel):
    """A post as the due index projects it: only what the public upcoming list and the sweep
    read, so changes to anything else (upload progress, TikTok ids) never write the index."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    scheduleId: str
    userId: str
    status: str
    version: int
    scheduledPublishTime: datetime
    tiktokAccountId: str
    leaseExpiresAt: datetime | None = None
    # The sweep's re-arm count for this version (it caps re-arms; see domain/sweep.py).
    sweepRearms: int = 0
