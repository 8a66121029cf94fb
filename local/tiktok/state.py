"""The stand-in's state: creators, their tokens and authorization codes, posts and their
uploads, behind one lock; its clock can be moved forward."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from local.tiktok.protocol import (
    AUTH_CODE_TTL_SECONDS,
    DEFAULT_SCOPE,
    PRIVATE_PRIVACY_OPTIONS,
    PUBLIC_PRIVACY_OPTIONS,
)

if TYPE_CHECKING:
    from local.tiktok.faults import Fault


@dataclass
class Creator:
    open_id: str
    union_id: str
    username: str
    display_name: str
    avatar_url: str
    privacy_level_options: list[str]
    max_video_post_duration_sec: int
    comment_disabled: bool
    duet_disabled: bool
    stitch_disabled: bool
    private_account: bool


@dataclass
class Grant:
    """An access or refresh token."""

    open_id: str
    scope: str
    expires_at: float

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(s for s in self.scope.split(",") if s)


@dataclass
class AuthCode:
    open_id: str
    redirect_uri: str
    code_verifier: str | None
    scope: str
    expires_at: float
    used: bool = False
    # From the authorize page: PKCE's S256 challenge (the verifier itself is never sent there).
    code_challenge: str | None = None


@dataclass
class Post:
    publish_id: str
    open_id: str
    post_info: dict[str, Any]
    video_size: int
    chunk_size: int
    total_chunk_count: int
    upload_id: str
    upload_token: str
    created_at: float
    upload_expires_at: float
    processing_fetches_left: int
    fail_reason: str | None = None
    bytes_received: int = 0
    chunks_received: int = 0
    hasher: Any = field(default_factory=hashlib.sha256)
    in_flight: bool = False
    completed_at: float | None = None
    failed_at: float | None = None
    published: bool = False
    public_post_ids: list[int] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    authorization_on_put: bool = False

    @property
    def complete(self) -> bool:
        return self.bytes_received == self.video_size

    def chunk_length(self, index: int) -> int:
        if index < self.total_chunk_count - 1:
            return self.chunk_size
        return self.video_size - self.chunk_size * (self.total_chunk_count - 1)

    def status(self) -> str:
        if self.failed_at is not None:
            return "FAILED"
        if self.published:
            return "PUBLISH_COMPLETE"
        return "PROCESSING_UPLOAD"


class StubState:
    """Creators, tokens, codes, posts and uploads. All state sits behind one lock; handler
    threads call in."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        client_key: str = "stub-client-key",
        client_secret: str = "stub-client-secret",  # noqa: S107 - a stand-in's fake credential
        clock: Callable[[], float] = time.time,
        rate_limits: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.client_key = client_key
        self.client_secret = client_secret
        self.rate_limits = rate_limits
        self._clock = clock
        self._lock = threading.RLock()
        self._clear_state()

    def _clear_state(self) -> None:
        self._offset = 0.0
        self._creators: dict[str, Creator] = {}
        self._access: dict[str, Grant] = {}
        self._refresh: dict[str, Grant] = {}
        self._codes: dict[str, AuthCode] = {}
        self._posts: dict[str, Post] = {}
        self._uploads: dict[str, str] = {}
        self._faults: list[Fault] = []
        self._pending_fail_reasons: deque[str] = deque()
        self._calls: dict[tuple[str, str], deque[float]] = {}
        self._requests: deque[dict[str, Any]] = deque(maxlen=2000)
        self.processing_fetches = 0

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def now(self) -> float:
        return self._clock() + self._offset

    def advance(self, seconds: float) -> None:
        """Moves the stub's clock forward (token, code and upload-URL expiry follow it)."""
        with self._lock:
            self._offset += seconds

    def reset(self) -> None:
        """Forgets creators, tokens, posts, faults and the clock offset."""
        with self._lock:
            self._clear_state()

    def add_creator(
        self,
        open_id: str,
        username: str,
        display_name: str,
        privacy_level_options: list[str] | None = None,
        max_video_post_duration_sec: int = 600,
        comment_disabled: bool = False,
        duet_disabled: bool = False,
        stitch_disabled: bool = False,
        private_account: bool = False,
        avatar_url: str | None = None,
    ) -> dict[str, Any]:
        """A TikTok account that can authorise the app. A private account gets the private
        privacy options and interactions TikTok disables for such accounts."""
        if privacy_level_options is None:
            options = PRIVATE_PRIVACY_OPTIONS if private_account else PUBLIC_PRIVACY_OPTIONS
            privacy_level_options = list(options)
        creator = Creator(
            open_id=open_id,
            union_id=f"union-{open_id}",
            username=username,
            display_name=display_name,
            avatar_url=avatar_url or f"https://stub.tiktok.invalid/avatar/{open_id}.jpeg",
            privacy_level_options=list(privacy_level_options),
            max_video_post_duration_sec=max_video_post_duration_sec,
            comment_disabled=comment_disabled,
            duet_disabled=duet_disabled or private_account,
            stitch_disabled=stitch_disabled or private_account,
            private_account=private_account,
        )
        with self._lock:
            self._creators[open_id] = creator
        return dict(creator.__dict__)

    def _creator(self, open_id: str) -> Creator:
        creator = self._creators.get(open_id)
        if creator is None:
            raise KeyError(f"no creator {open_id!r}; add_creator() first")
        return creator

    def issue_tokens(
        self,
        open_id: str,
        access_ttl: int = 86400,
        refresh_ttl: int = 31536000,
        scope: str = DEFAULT_SCOPE,
    ) -> dict[str, Any]:
        """Tokens as the token endpoint would grant them (same fields)."""
        with self._lock:
            self._creator(open_id)
            return self._grant(open_id, scope, access_ttl, refresh_ttl)

    def _grant(
        self, open_id: str, scope: str, access_ttl: float, refresh_ttl: float
    ) -> dict[str, Any]:
        now = self.now()
        access_token = f"act.{secrets.token_urlsafe(24)}!{secrets.randbelow(10**4)}.va"
        refresh_token = f"rft.{secrets.token_urlsafe(24)}!{secrets.randbelow(10**4)}.va"
        self._access[access_token] = Grant(open_id, scope, now + access_ttl)
        self._refresh[refresh_token] = Grant(open_id, scope, now + refresh_ttl)
        return {
            "access_token": access_token,
            "expires_in": int(access_ttl),
            "open_id": open_id,
            "refresh_expires_in": int(refresh_ttl),
            "refresh_token": refresh_token,
            "scope": scope,
            "token_type": "Bearer",
        }

    def expire_access_token(self, token: str) -> None:
        with self._lock:
            self._access[token].expires_at = self.now() - 1

    def expire_refresh_token(self, token: str) -> None:
        with self._lock:
            self._refresh[token].expires_at = self.now() - 1

    def authorization_code(
        self,
        open_id: str,
        redirect_uri: str,
        code_verifier: str | None = None,
        scope: str = DEFAULT_SCOPE,
    ) -> str:
        """The code TikTok's authorize page would redirect with once the user approves:
        single use, valid ten minutes, bound to `redirect_uri` (and the PKCE verifier)."""
        with self._lock:
            self._creator(open_id)
            code = secrets.token_urlsafe(32)
            self._codes[code] = AuthCode(
                open_id, redirect_uri, code_verifier, scope, self.now() + AUTH_CODE_TTL_SECONDS
            )
            return code

    def set_rate_limits(self, enabled: bool) -> None:
        with self._lock:
            self.rate_limits = enabled
