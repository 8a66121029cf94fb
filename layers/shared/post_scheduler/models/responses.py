"""What the API answers, shaped as the reference shows (camelCase, times as ...sssZ)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from post_scheduler.models.records import (
    DueEntry,
    ScheduleRecord,
    TikTokAccountRecord,
    VideoRecord,
)
from post_scheduler.models.requests import PostOptions
from post_scheduler.timestamps import format_utc

# Schemas are built at a model's first use, so a function pays only for the models it uses.
_DEFERRED = ConfigDict(defer_build=True)


class ErrorBody(BaseModel):
    model_config = _DEFERRED

    code: str = Field(examples=["VALIDATION_ERROR"])
    message: str
    details: Any | None = None


class ErrorEnvelope(BaseModel):
    model_config = _DEFERRED

    success: bool = Field(default=False, examples=[False])
    error: ErrorBody


class CreatedSchedule(BaseModel):
    model_config = _DEFERRED

    scheduleId: str
    scheduledTime: str
    status: str
    createdAt: str

    @classmethod
    def of(cls, schedule: ScheduleRecord) -> CreatedSchedule:
        return cls(
            scheduleId=schedule.scheduleId,
            scheduledTime=format_utc(schedule.scheduledPublishTime),
            status=schedule.client_status,
            createdAt=format_utc(schedule.createdAt),
        )


class VideoSummary(BaseModel):
    model_config = _DEFERRED

    id: str
    title: str | None = None
    description: str | None = None


class AccountSummary(BaseModel):
    model_config = _DEFERRED

    id: str
    username: str | None = None
    displayName: str | None = None


class ScheduledVideo(BaseModel):
    """One post as the list and update endpoints show it."""

    model_config = _DEFERRED

    id: str
    scheduledPublishTime: str
    status: str
    video: VideoSummary
    tiktokAccount: AccountSummary
    title: str | None = None
    hashtags: str | None = None
    options: PostOptions
    createdAt: str
    updatedAt: str
    tiktokPublishId: str | None = None
    publishStartedAt: str | None = None
    executedAt: str | None = None
    failureReason: str | None = None
    # "unconfirmed": TikTok has (or may have) the video under `tiktokPublishId` but has not said
    # whether it is published; the post is checked again and never posted twice.
    publishOutcome: str | None = None

    @classmethod
    def of(
        cls,
        schedule: ScheduleRecord,
        video: VideoRecord | None,
        account: TikTokAccountRecord | None,
    ) -> ScheduledVideo:
        def when(value: Any) -> str | None:
            return None if value is None else format_utc(value)

        unconfirmed = schedule.publishOutcome == "unconfirmed" and schedule.status != "executed"

        return cls(
            id=schedule.scheduleId,
            scheduledPublishTime=format_utc(schedule.scheduledPublishTime),
            status=schedule.client_status,
            video=VideoSummary(
                id=schedule.videoId,
                title=video.title if video else None,
                description=video.description if video else None,
            ),
            tiktokAccount=AccountSummary(
                id=schedule.tiktokAccountId,
                username=account.username if account else None,
                displayName=account.displayName if account else None,
            ),
            title=schedule.title,
            hashtags=schedule.hashtags,
            options=schedule.postOptions,
            createdAt=format_utc(schedule.createdAt),
            updatedAt=format_utc(schedule.updatedAt),
            tiktokPublishId=(
                schedule.tiktokPublishId if schedule.status == "executed" or unconfirmed else None
            ),
            publishStartedAt=when(schedule.publishStartedAt),
            executedAt=when(schedule.executedAt),
            failureReason=(
                schedule.failureReason if schedule.status == "failed" or unconfirmed else None
            ),
            publishOutcome=schedule.publishOutcome if schedule.status != "executed" else None,
        )

    def public(self) -> dict[str, Any]:
        """JSON body: publishing details appear only once they exist."""
        return self.model_dump(mode="json", exclude_none=True)


class UploadProgress(BaseModel):
    model_config = _DEFERRED

    uploadedBytes: int
    totalBytes: int | None = None


class ScheduledPostDetail(ScheduledVideo):
    """One post with its whole publishing state (GET one, webhook payloads)."""

    attempts: int = 0
    failedAt: str | None = None
    cancelledAt: str | None = None
    upload: UploadProgress | None = Field(
        default=None, description="Bytes sent to TikTok so far, while the post is publishing"
    )

    @classmethod
    def of(
        cls,
        schedule: ScheduleRecord,
        video: VideoRecord | None,
        account: TikTokAccountRecord | None,
    ) -> ScheduledPostDetail:
        summary = ScheduledVideo.of(schedule, video, account)
        upload = None
        if schedule.status == "publishing" and schedule.uploadedBytes is not None:
            upload = UploadProgress(
                uploadedBytes=schedule.uploadedBytes, totalBytes=schedule.videoSizeBytes
            )
        # A publish id exists from TikTok's init on, not only once executed: show it whenever.
        fields = {**summary.model_dump(), "tiktokPublishId": schedule.tiktokPublishId}
        return cls(
            **fields,
            attempts=schedule.publishAttempts,
            failedAt=None if schedule.failedAt is None else format_utc(schedule.failedAt),
            cancelledAt=None if schedule.cancelledAt is None else format_utc(schedule.cancelledAt),
            upload=upload,
        )


class Quota(BaseModel):
    """The caller's plan and how much of its pending-post limit is used."""

    model_config = _DEFERRED

    plan: str
    limit: int = Field(description="Pending posts the plan allows at once (0: no scheduling)")
    pending: int
    remaining: int


class UpcomingPost(BaseModel):
    model_config = _DEFERRED

    scheduleId: str
    publishTime: str
    accountId: str

    @classmethod
    def of(cls, schedule: ScheduleRecord | DueEntry) -> UpcomingPost:
        return cls(
            scheduleId=schedule.scheduleId,
            publishTime=format_utc(schedule.scheduledPublishTime),
            accountId=schedule.tiktokAccountId,
        )


class AccountItem(BaseModel):
    model_config = _DEFERRED

    id: str
    username: str
    displayName: str
    createdAt: str
    # Why its posts cannot be published until the user connects it again (TikTok refused its
    # tokens, or rotated ones could not be saved); null while it works.
    needsReconnection: str | None = None

    @classmethod
    def of(cls, account: TikTokAccountRecord) -> AccountItem:
        return cls(
            id=account.accountId,
            username=account.username,
            displayName=account.displayName,
            createdAt=format_utc(account.createdAt),
            needsReconnection=account.needsReconnection,
        )
