"""TikTok's OAuth and Content Posting API in memory, answering as `adapters/tiktok_client/`
reports TikTok's answers: `access_token_invalid` as TikTokAuthError, a refresh token that was
rotated away as `invalid_grant`, a chunk that does not continue the upload as a 416 range error
with what TikTok holds, the last chunk completing the upload, then the status moving from
PROCESSING_UPLOAD through PROCESSING_DOWNLOAD to the outcome. Faults are queued per method."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from post_scheduler.domain.chunks import ChunkPlan
from post_scheduler.domain.errors import (
    ChunkLengthError,
    TikTokAuthError,
    TikTokError,
    TikTokPermanentError,
    TikTokUploadExpired,
    TikTokUploadRangeError,
)
from post_scheduler.domain.tiktok import (
    USER_FIELDS,
    CreatorInfo,
    InitResult,
    PublishStatus,
    TikTokUser,
    TokenGrant,
    UploadProgress,
)

CLIENT_KEY = "fake-client-key"
CLIENT_SECRET = "fake-client-secret"
ACCESS_TTL = 86400
REFRESH_TTL = 365 * 86400


@dataclass
class Creator:
    open_id: str
    username: str
    privacy_level_options: tuple[str, ...] = (
        "PUBLIC_TO_EVERYONE",
        "MUTUAL_FOLLOW_FRIENDS",
        "SELF_ONLY",
    )
    max_video_post_duration_sec: int = 600
    access_token: str = ""
    access_expires_at: datetime | None = None
    refresh_token: str = ""


@dataclass
class Publish:
    publish_id: str
    open_id: str
    post_info: dict[str, Any]
    video_size: int
    upload_url: str
    url_expires_at: datetime
    received: bytearray = field(default_factory=bytearray)
    # Status fetches after the upload completed; the outcome shows after `processing_polls`.
    polls: int = 0
    processing_polls: int = 1
    outcome: str = "PUBLISH_COMPLETE"
    fail_reason: str | None = None

    @property
    def complete(self) -> bool:
        return len(self.received) == self.video_size

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.received).hexdigest()


class FakeTikTok:
    """One TikTok app (client key and secret) with its creators and their publishes."""

    def __init__(
        self,
        clock: Callable[[], datetime],
        client_key: str = CLIENT_KEY,
        client_secret: str = CLIENT_SECRET,
    ) -> None:
        self.clock = clock
        self.client_key = client_key
        self.client_secret = client_secret
        self.creators: dict[str, Creator] = {}
        self.publishes: dict[str, Publish] = {}
        self.calls: list[str] = []
        self._faults: dict[str, list[TikTokError]] = {}
        # Errors raised after a call took effect (the reply was lost), by method.
        self._lost_replies: dict[str, list[BaseException]] = {}
        # Called as a method is entered (a concurrent run, a crash), by method.
        self.hooks: dict[str, Callable[[], None]] = {}
        # Status and outcome new publishes get (a test may change them before init).
        self.processing_polls = 1
        self.outcome = "PUBLISH_COMPLETE"
        self.fail_reason: str | None = None

    # --- set-up and inspection ------------------------------------------------------------------

    def add_creator(self, open_id: str, username: str = "creator", **limits: Any) -> Creator:
        creator = Creator(open_id, username, **limits)
        self.creators[open_id] = creator
        self._issue(creator)
        return creator

    def fail(self, method: str, *errors: TikTokError) -> None:
        """The next calls of `method` raise these errors, one per call, in order."""
        self._faults.setdefault(method, []).extend(errors)

    def lose_reply(self, method: str, *errors: BaseException) -> None:
        """The next calls of `method` take effect, then raise these (the reply never came)."""
        self._lost_replies.setdefault(method, []).extend(errors)

    def expire_access_token(self, open_id: str) -> None:
        self.creators[open_id].access_expires_at = self.clock() - timedelta(seconds=1)

    def inits(self) -> int:
        """Publishes TikTok started (a refused init starts none)."""
        return len(self.publishes)

    def completed(self) -> list[Publish]:
        return [p for p in self.publishes.values() if p.complete]

    # --- OAuth ------------------------------------------------------------------------------------

    def exchange_code(
        self,
        client_key: str,
        client_secret: str,
        code: str,
        redirect_uri: str,
        code_verifier: str | None = None,
    ) -> TokenGrant:
        self._enter("exchange_code")
        self._check_client(client_key, client_secret)
        creator = self.creators.get(code)  # the code names the creator who consented
        if creator is None:
            raise TikTokPermanentError("invalid_grant", "authorization code is invalid")
        return self._issue(creator)

    def refresh_access_token(
        self, client_key: str, client_secret: str, refresh_token: str
    ) -> TokenGrant:
        self._enter("refresh_access_token")
        self._check_client(client_key, client_secret)
        creator = next(
            (c for c in self.creators.values() if c.refresh_token == refresh_token), None
        )
        if creator is None:
            # TikTok rotates the refresh token on every use: an old one is refused.
            raise TikTokPermanentError("invalid_grant", "refresh token is invalid or expired")
        return self._issue(creator)

    def user_info(self, access_token: str, fields: Iterable[str] = USER_FIELDS) -> TikTokUser:
        self._enter("user_info")
        creator = self._authorised(access_token)
        return TikTokUser(creator.open_id, creator.username, creator.username, None)

    # --- Content Posting --------------------------------------------------------------------------

    def creator_info(self, access_token: str) -> CreatorInfo:
        self._enter("creator_info")
        creator = self._authorised(access_token)
        return CreatorInfo(
            creator_username=creator.username,
            creator_nickname=creator.username,
            creator_avatar_url=None,
            privacy_level_options=creator.privacy_level_options,
            comment_disabled=False,
            duet_disabled=False,
            stitch_disabled=False,
            max_video_post_duration_sec=creator.max_video_post_duration_sec,
        )

    def init_direct_post(
        self, access_token: str, post_info: Mapping[str, Any], plan: ChunkPlan
    ) -> InitResult:
        self._enter("init_direct_post")
        creator = self._authorised(access_token)
        if post_info.get("privacy_level") not in creator.privacy_level_options:
            raise TikTokPermanentError("privacy_level_option_mismatch", "privacy level")
        publish_id = f"v_pub_file~v2-1.{uuid.uuid4().int % 10**18}"
        url = f"https://open-upload.tiktokapis.invalid/upload/?upload_id={publish_id}"
        self.publishes[publish_id] = Publish(
            publish_id,
            creator.open_id,
            dict(post_info),
            plan.video_size,
            url,
            self.clock() + timedelta(hours=1),
            processing_polls=self.processing_polls,
            outcome=self.outcome,
            fail_reason=self.fail_reason,
        )
        return InitResult(publish_id, url)

    def upload_chunk(
        self,
        upload_url: str,
        chunk: Iterable[bytes] | bytes | bytearray | memoryview,
        first: int,
        last: int,
        total: int,
        content_type: str = "video/mp4",
    ) -> UploadProgress:
        self._enter("upload_chunk")
        publish = next((p for p in self.publishes.values() if p.upload_url == upload_url), None)
        if publish is None:
            raise TikTokPermanentError("http_404", "no such upload")
        if self.clock() >= publish.url_expires_at:
            raise TikTokUploadExpired("upload_url_expired", "", 403)
        data = (
            bytes(chunk) if isinstance(chunk, bytes | bytearray | memoryview) else b"".join(chunk)
        )
        if len(data) != last - first + 1:
            raise ChunkLengthError(f"chunk has {len(data)} bytes, range needs {last - first + 1}")
        held = len(publish.received)
        if first != held or total != publish.video_size:
            raise TikTokUploadRangeError(held - 1 if held else None, "range does not continue")
        publish.received += data
        self._reply_lost("upload_chunk")
        return UploadProgress(publish.complete, len(publish.received) - 1)

    def fetch_status(self, access_token: str, publish_id: str) -> PublishStatus:
        self._enter("fetch_status")
        creator = self._authorised(access_token)
        publish = self.publishes.get(publish_id)
        if publish is None or publish.open_id != creator.open_id:
            raise TikTokPermanentError("invalid_publish_id", "no such publish")
        held = len(publish.received)
        if not publish.complete:
            return PublishStatus("PROCESSING_UPLOAD", None, held)
        publish.polls += 1
        if publish.polls <= publish.processing_polls:
            return PublishStatus("PROCESSING_DOWNLOAD", None, held)
        if publish.outcome == "FAILED":
            return PublishStatus("FAILED", publish.fail_reason, held)
        return PublishStatus(publish.outcome, None, held, ["7300000000000000001"])

    # --- internals ------------------------------------------------------------------------------

    def _enter(self, method: str) -> None:
        self.calls.append(method)
        hook = self.hooks.get(method)
        if hook is not None:
            hook()
        queued = self._faults.get(method)
        if queued:
            raise queued.pop(0)

    def _reply_lost(self, method: str) -> None:
        queued = self._lost_replies.get(method)
        if queued:
            raise queued.pop(0)

    def _check_client(self, client_key: str, client_secret: str) -> None:
        if (client_key, client_secret) != (self.client_key, self.client_secret):
            raise TikTokPermanentError("invalid_client", "client key or secret is wrong")

    def _authorised(self, access_token: str) -> Creator:
        now = self.clock()
        for creator in self.creators.values():
            if creator.access_token == access_token and (
                creator.access_expires_at is None or creator.access_expires_at > now
            ):
                return creator
        raise TikTokAuthError("access_token_invalid", "the access token is invalid", 401)

    def _issue(self, creator: Creator) -> TokenGrant:
        creator.access_token = f"act.{uuid.uuid4().hex}"
        creator.refresh_token = f"rft.{uuid.uuid4().hex}"
        creator.access_expires_at = self.clock() + timedelta(seconds=ACCESS_TTL)
        return TokenGrant(
            creator.access_token,
            ACCESS_TTL,
            creator.refresh_token,
            REFRESH_TTL,
            creator.open_id,
            "user.info.basic,video.publish",
        )
