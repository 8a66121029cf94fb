"""Webhooks (Standard Webhooks) as stored and as clients see them, and their deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from post_scheduler.timestamps import format_utc

EventType = Literal["schedule.executed", "schedule.failed", "schedule.cancelled"]
EVENT_TYPES: tuple[str, ...] = ("schedule.executed", "schedule.failed", "schedule.cancelled")
# The post status each event reports.
EVENT_OF_STATUS = {
    "executed": "schedule.executed",
    "failed": "schedule.failed",
    "cancelled": "schedule.cancelled",
}
MAX_URL_LENGTH = 2048
MAX_WEBHOOKS_PER_USER = 10
DeliveryStatus = Literal["pending", "delivered", "failed", "cancelled"]

WebhookUrl = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=MAX_URL_LENGTH, pattern=r"^[hH][tT][tT][pP][sS]?://\S+$"
    ),
]

# Schemas are built at a model's first use, so a function pays only for the models it uses.
_DEFERRED = ConfigDict(defer_build=True)


class CreateWebhookRequest(BaseModel):
    """Body of POST /api/v1/webhooks."""

    model_config = ConfigDict(
        extra="forbid",
        defer_build=True,
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "url": "https://hooks.example.com/tiktok-posts",
                    "events": ["schedule.executed", "schedule.failed"],
                }
            ]
        },
    )

    url: WebhookUrl = Field(
        description="Where events are POSTed: https, a public address, at most 2048 characters"
    )
    events: list[EventType] = Field(min_length=1, max_length=len(EVENT_TYPES))

    @field_validator("events")
    @classmethod
    def _unique(cls, events: list[str]) -> list[str]:
        if len(set(events)) != len(events):
            raise ValueError("each event type at most once")
        return events


class WebhookRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    webhookId: str
    userId: str
    url: str
    events: list[str]
    # The signing secret, encrypted with the project's KMS key (base64 ciphertext).
    secretCipher: str
    createdAt: datetime


class WebhookView(BaseModel):
    model_config = _DEFERRED

    id: str
    url: str
    events: list[str]
    createdAt: str

    @classmethod
    def of(cls, record: WebhookRecord) -> WebhookView:
        return cls(
            id=record.webhookId,
            url=record.url,
            events=record.events,
            createdAt=format_utc(record.createdAt),
        )


class CreatedWebhook(WebhookView):
    """The new webhook with its signing secret: shown this once."""

    secret: str = Field(description="`whsec_` + base64 of the key; verify signatures with it")


class DeliveryRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    userId: str
    webhookId: str
    eventId: str
    type: str
    scheduleId: str
    occurredAt: datetime
    status: DeliveryStatus = "pending"
    attempt: int = 0
    responseStatus: int | None = None
    lastAttemptAt: datetime | None = None
    nextAttemptAt: datetime | None = None
    error: str | None = None


class DeliveryView(BaseModel):
    model_config = _DEFERRED

    eventId: str = Field(description="The `webhook-id` header, the same on every attempt")
    type: str
    scheduleId: str
    status: DeliveryStatus
    attempt: int = Field(description="Attempts made so far")
    responseStatus: int | None = Field(default=None, description="The last attempt's HTTP status")
    time: str | None = Field(default=None, description="When the last attempt was made")
    nextAttemptAt: str | None = None
    error: str | None = None
    occurredAt: str

    @classmethod
    def of(cls, record: DeliveryRecord) -> DeliveryView:
        def when(value: datetime | None) -> str | None:
            return None if value is None else format_utc(value)

        return cls(
            eventId=record.eventId,
            type=record.type,
            scheduleId=record.scheduleId,
            status=record.status,
            attempt=record.attempt,
            responseStatus=record.responseStatus,
            time=when(record.lastAttemptAt),
            nextAttemptAt=when(record.nextAttemptAt),
            error=record.error,
            occurredAt=format_utc(record.occurredAt),
        )
