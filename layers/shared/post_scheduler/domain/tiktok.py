"""What TikTok's API gives and takes, as the domain sees it: granted tokens, the user, the
creator's current limits, a started publish, upload progress and publish status; and the app's
own credentials. The HTTP client in `adapters/tiktok_client/` builds these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from post_scheduler.domain.errors import TikTokError, TikTokPermanentError, TikTokTransientError

# `username` needs the user.info.profile scope since TikTok's 2024 scope migration.
USER_FIELDS: Final = ("open_id", "union_id", "avatar_url", "display_name", "username")
# fail_reason values of a FAILED publish that a fresh attempt may get past.
_RETRYABLE_FAIL_REASONS: Final = frozenset({"internal", "video_pull_failed", "photo_pull_failed"})


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


@dataclass(frozen=True)
class TokenGrant:
    """What the token endpoint grants; the tokens stay out of repr (and so out of logs)."""

    access_token: str = field(repr=False)
    expires_in: int
    refresh_token: str = field(repr=False)
    refresh_expires_in: int
    open_id: str
    scope: str

    @property
    def scopes(self) -> frozenset[str]:
        """The scopes the user actually granted (possibly fewer than requested)."""
        return frozenset(part.strip() for part in self.scope.split(",") if part.strip())


@dataclass(frozen=True)
class TikTokUser:
    open_id: str
    username: str | None
    display_name: str | None
    avatar_url: str | None
    union_id: str | None = None


@dataclass(frozen=True)
class CreatorInfo:
    """Who is posting and what they may post right now."""

    creator_username: str
    creator_nickname: str
    creator_avatar_url: str | None
    privacy_level_options: tuple[str, ...]
    comment_disabled: bool
    duet_disabled: bool
    stitch_disabled: bool
    max_video_post_duration_sec: int


@dataclass(frozen=True)
class InitResult:
    publish_id: str
    upload_url: str

    def __repr__(self) -> str:
        # The query string authorises the upload: show where it goes, not how.
        return (
            f"InitResult(publish_id={self.publish_id!r}, upload_url={_redacted(self.upload_url)!r})"
        )


@dataclass(frozen=True)
class UploadProgress:
    """`received_through` is the last byte offset TikTok holds, from its Content-Range reply
    (None when it did not say)."""

    complete: bool
    received_through: int | None

    @property
    def next_byte(self) -> int:
        return 0 if self.received_through is None else self.received_through + 1


PROCESSING_STATUSES: Final = frozenset(
    {"PROCESSING_UPLOAD", "PROCESSING_DOWNLOAD", "PROCESSING", "SEND_TO_USER_INBOX"}
)


@dataclass(frozen=True)
class PublishStatus:
    status: str
    fail_reason: str | None
    uploaded_bytes: int
    # Strings: TikTok's post ids exceed 2**53 and must not pass through a float anywhere.
    public_post_ids: list[str] = field(default_factory=list)

    @property
    def published(self) -> bool:
        return self.status == "PUBLISH_COMPLETE"

    @property
    def failed(self) -> bool:
        return self.status == "FAILED"

    @property
    def terminal(self) -> bool:
        return self.published or self.failed

    def failure(self) -> TikTokError | None:
        """The failure as an error (transient when a fresh attempt may succeed), or None."""
        if not self.failed:
            return None
        reason = self.fail_reason or "unknown"
        if reason in _RETRYABLE_FAIL_REASONS:
            return TikTokTransientError(reason, "TikTok failed the publish")
        return TikTokPermanentError(reason, "TikTok failed the publish")


@dataclass(frozen=True)
class TikTokAppCredentials:
    """Our TikTok app's client key and secret (never in the template or logs)."""

    client_key: str
    client_secret: str

    def __repr__(self) -> str:
        return f"TikTokAppCredentials(client_key={self.client_key!r}, client_secret=***)"
