"""What the publisher takes and gives: its command, outcome, metrics, configuration and clock,
the failures that end a run, and the small rules about a post's record shared by the steps."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, StrictInt, StringConstraints

from post_scheduler.domain.errors import TikTokError
from post_scheduler.models.fields import ID_PATTERN
from post_scheduler.models.records import FINAL_STATUSES, ScheduleRecord

# Most public first: without a requested level, a post goes out as publicly as the account allows.
PRIVACY_PREFERENCE = (
    "PUBLIC_TO_EVERYONE",
    "FOLLOWER_OF_CREATOR",
    "MUTUAL_FOLLOW_FRIENDS",
    "SELF_ONLY",
)
DONE_STATUSES = ("PUBLISH_COMPLETE", "SEND_TO_USER_INBOX")


class PublishCommand(BaseModel):
    """The publisher's event: the schedule's Input, `{scheduleId, userId, version}`."""

    model_config = ConfigDict(extra="ignore")

    scheduleId: Annotated[str, StringConstraints(pattern=ID_PATTERN)]
    userId: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    version: StrictInt


@dataclass(frozen=True)
class PublishOutcome:
    """What a run did: executed, failed, skipped (with why), or deferred (come back in
    `retry_in_seconds`, nothing done)."""

    result: str
    detail: str = ""
    schedule_id: str = ""
    publish_id: str | None = None
    retry_in_seconds: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "detail": self.detail,
            "scheduleId": self.schedule_id,
            "tiktokPublishId": self.publish_id,
        }


class PublishFailed(Exception):
    """The post cannot be published; the message is the reason a person can act on."""


class TikTokRejected(PublishFailed):
    """TikTok's status for the publish is FAILED (the message carries TikTok's reason)."""


class ConfirmationOverdue(PublishFailed):
    """TikTok has the whole video but has not confirmed the post within the wait we allow."""


class RetryLater(Exception):
    """A transient problem outlasted this run's retries or time; Lambda should retry."""


class Clock(Protocol):
    def now(self) -> datetime: ...
    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


@dataclass(frozen=True)
class PublisherConfig:
    # The Scheduler fires in the minute before the post; anything earlier is a stray event.
    max_early_seconds: float = 180.0
    # Time kept back at the end of an invocation to checkpoint and release the claim.
    reserve_seconds: float = 20.0
    # The give-up consumer's runs are short (its function times out in 30 s).
    give_up_reserve_seconds: float = 5.0
    give_up_lease_seconds: float = 60.0
    transient_attempts: int = 4
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 20.0
    poll_interval_seconds: float = 2.0
    max_poll_interval_seconds: float = 10.0
    # TikTok documents processing in seconds to minutes; measured from the end of the upload,
    # past this a run stops waiting and leaves the post unconfirmed for later checks.
    confirm_timeout_seconds: float = 3600.0
    # Refresh the access token when it expires within this margin.
    token_refresh_margin_seconds: float = 300.0
    # One run per account refreshes (TikTok rotates the refresh token on every use): it holds
    # a lease on the account this long; the others look again every `refresh_wait_seconds`.
    refresh_lease_seconds: float = 30.0
    refresh_wait_seconds: float = 0.5
    # Attempts to encrypt and store rotated tokens before the account is marked as needing
    # reconnection (the old refresh token no longer works once TikTok rotated it).
    token_save_attempts: int = 5
    token_save_backoff_seconds: float = 0.2
    preferred_chunk_size: int = 10 * 1024 * 1024
    # TikTok's upload URL lives one hour; stop trusting it a little earlier.
    upload_url_lifetime_seconds: float = 3300.0
    # How often upload progress is written to the post while chunks go out.
    progress_write_seconds: float = 5.0


@dataclass
class PublishMetrics:
    """Figures a run reports (the handler turns them into CloudWatch metrics)."""

    lag_seconds: float | None = None
    uploaded_bytes: int = 0
    events: list[str] = field(default_factory=list)


def skip_reason(post: ScheduleRecord | None, command: PublishCommand) -> str | None:
    if post is None:
        return "post no longer exists"
    if post.version != command.version:
        return f"stale event: post is at version {post.version}, event carries {command.version}"
    if post.status in FINAL_STATUSES:
        return f"post already {post.status}"
    return None


def ended_record(post: ScheduleRecord, now: datetime, **changes: Any) -> ScheduleRecord:
    """The post's final record: publishing bookkeeping cleared, the outcome set."""
    return post.model_copy(
        update={
            "claimToken": None,
            "leaseExpiresAt": None,
            "uploadUrl": None,
            "uploadUrlExpiresAt": None,
            "updatedAt": now,
            "revision": post.revision + 1,
            "publishOutcome": None,
            **changes,
        }
    )


def describe(error: BaseException) -> str:
    if isinstance(error, TikTokError):
        return f"TikTok {error.code}: {error.message}"[:1000]
    return f"{type(error).__name__}: {error}"[:1000]


def rejected(reason: str | None) -> str:
    return f"TikTok rejected the video: {reason or 'no reason given'}"


def never_confirmed(post: ScheduleRecord, detail: str) -> str:
    return (
        f"TikTok never confirmed publish {post.tiktokPublishId} ({detail}); it may still appear"
        " on TikTok. Re-activating the post checks TikTok again; it never posts the video twice"
    )


def needs_reconnection(reason: str) -> str:
    return f"the TikTok account needs to be reconnected: {reason}"
