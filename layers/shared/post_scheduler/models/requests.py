"""What clients send. Strict: wrong types, unknown fields and bad formats are 400s, never
guessed."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from post_scheduler.models.fields import (
    TIKTOK_CAPTION_LIMIT,
    CaptionText,
    Hashtags,
    ResourceId,
    UtcTimestamp,
    utf16_length,
)

PrivacyLevel = Literal[
    "PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"
]

_STRICT = ConfigDict(extra="forbid", strict=True, defer_build=True)

# Schemas are built at a model's first use, so a function pays only for the models it uses.
_DEFERRED = ConfigDict(defer_build=True)


class PostOptions(BaseModel):
    """TikTok Direct Post settings. Without `privacyLevel` the post goes out with the most public
    level the creator's account allows at publish time."""

    model_config = _STRICT

    privacyLevel: PrivacyLevel | None = None
    disableComment: StrictBool = False
    disableDuet: StrictBool = False
    disableStitch: StrictBool = False
    brandContentToggle: StrictBool = False
    brandOrganicToggle: StrictBool = False
    isAigc: StrictBool = False
    videoCoverTimestampMs: StrictInt | None = Field(default=None, ge=0, le=2_147_483_647)


class _CaptionMixin(BaseModel):
    model_config = _DEFERRED

    @model_validator(mode="after")
    def _caption_fits(self) -> _CaptionMixin:
        title = getattr(self, "title", None) or ""
        hashtags = getattr(self, "hashtags", None) or ""
        if utf16_length(f"{title} {hashtags}".strip()) > TIKTOK_CAPTION_LIMIT:
            raise ValueError(
                "title and hashtags together must fit TikTok's"
                f" {TIKTOK_CAPTION_LIMIT}-character caption"
            )
        return self


class CreateScheduleRequest(_CaptionMixin):
    """Body of POST /api/v1/schedule/create (and of the base endpoint POST /api/v1/schedule)."""

    model_config = ConfigDict(
        extra="forbid",
        defer_build=True,
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "videoId": "550e8400-e29b-41d4-a716-446655440000",
                    "tiktokAccountId": "123e4567-e89b-12d3-a456-426614174000",
                    "scheduledPublishTime": "2025-10-21T14:30:00Z",
                    "title": "Scheduled Amazing Video",
                    "hashtags": "#trending #viral",
                }
            ]
        },
    )

    videoId: ResourceId = Field(description="Upload ID of the video to schedule")
    tiktokAccountId: ResourceId = Field(description="TikTok account ID to publish to")
    scheduledPublishTime: UtcTimestamp
    title: CaptionText | None = Field(default=None, description="Caption of the TikTok post")
    hashtags: Hashtags | None = Field(default=None, description="Space-separated #hashtags")
    options: PostOptions | None = Field(default=None, description="TikTok post settings")


ClientStatus = Literal["pending", "executed", "cancelled"]


class UpdateScheduleRequest(_CaptionMixin):
    """Body of PUT /api/v1/schedule/{scheduleId}: any of the fields, at least one."""

    model_config = ConfigDict(
        extra="forbid",
        defer_build=True,
        strict=True,
        json_schema_extra={
            "examples": [{"scheduledPublishTime": "2025-10-22T10:00:00Z", "status": "pending"}]
        },
    )

    scheduledPublishTime: UtcTimestamp | None = None
    status: ClientStatus | None = Field(
        default=None, description='Update status: "pending", "executed", or "cancelled"'
    )
    title: CaptionText | None = None
    hashtags: Hashtags | None = None
    options: PostOptions | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> UpdateScheduleRequest:
        if not self.model_fields_set:
            raise ValueError(
                "send at least one of scheduledPublishTime, status, title, hashtags, options"
            )
        return self


class RetryScheduleRequest(BaseModel):
    """Body of POST /api/v1/schedule/{scheduleId}/retry (optional): when to try again."""

    model_config = ConfigDict(
        extra="forbid",
        defer_build=True,
        strict=True,
        json_schema_extra={"examples": [{"scheduledPublishTime": "2025-10-22T10:00:00Z"}]},
    )

    scheduledPublishTime: UtcTimestamp | None = Field(
        default=None, description="Default: now plus the deployment's minimum lead"
    )
