"""A stand-in for TikTok's OAuth and Content Posting API on loopback.

It enforces the protocol as TikTok documents it (token grants with refresh-token rotation,
Bearer scopes, Direct Post init validation, the chunk rules of FILE_UPLOAD, sequential
Content-Range uploads within the upload URL's hour, status polling) and answers with TikTok's
error envelopes and statuses. Faults can be injected from Python or over HTTP (`POST /_faults`)
and what it received is listed at `GET /_inspect/posts`. Received video bytes are counted and
hashed, never kept.

Run alone: `python -m local.tiktok --port 3001 --demo`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import logging
import re
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qs, urlencode, urlsplit

logger = logging.getLogger("local.tiktok_stub")

# Media-transfer rules in the safe reading of "MB" (reference, section 4).
MIN_CHUNK_BYTES: Final = 5_242_880
MAX_CHUNK_BYTES: Final = 64_000_000
MAX_LAST_CHUNK_BYTES: Final = 128_000_000
MAX_CHUNK_COUNT: Final = 1000
MAX_VIDEO_BYTES: Final = 4 * 1024**3
TITLE_MAX_UTF16_UNITS: Final = 2200
UPLOAD_URL_TTL_SECONDS: Final = 3600
AUTH_CODE_TTL_SECONDS: Final = 600
VIDEO_CONTENT_TYPES: Final = frozenset({"video/mp4", "video/quicktime", "video/webm"})
PUBLIC_PRIVACY_OPTIONS: Final = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY")
PRIVATE_PRIVACY_OPTIONS: Final = ("FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY")
PRIVACY_LEVELS: Final = frozenset(PUBLIC_PRIVACY_OPTIONS + PRIVATE_PRIVACY_OPTIONS)
# Since the 2024 scope migration `username` (and other profile fields) need user.info.profile.
DEFAULT_SCOPE: Final = "user.info.basic,user.info.profile,video.publish,video.upload"
USER_FIELD_SCOPES: Final = {
    "open_id": "user.info.basic",
    "union_id": "user.info.basic",
    "avatar_url": "user.info.basic",
    "avatar_url_100": "user.info.basic",
    "avatar_large_url": "user.info.basic",
    "display_name": "user.info.basic",
    "username": "user.info.profile",
    "bio_description": "user.info.profile",
    "profile_deep_link": "user.info.profile",
    "is_verified": "user.info.profile",
    "follower_count": "user.info.stats",
    "following_count": "user.info.stats",
    "likes_count": "user.info.stats",
    "video_count": "user.info.stats",
}
# TikTok's per-token limits per minute, enforced only with `rate_limits` on.
RATE_LIMITS: Final = {"creator_info": 20, "video_init": 6, "status_fetch": 30}

UPLOAD_PATH: Final = "/video/"
# TikTok serves this page on www.tiktok.com; the stand-in serves it beside the API.
AUTHORIZE_PATH: Final = "/v2/auth/authorize/"
ENDPOINT_PATHS: Final = {
    "oauth_token": ("POST", "/v2/oauth/token/"),
    "user_info": ("GET", "/v2/user/info/"),
    "creator_info": ("POST", "/v2/post/publish/creator_info/query/"),
    "video_init": ("POST", "/v2/post/publish/video/init/"),
    "status_fetch": ("POST", "/v2/post/publish/status/fetch/"),
    "upload": ("PUT", UPLOAD_PATH),
}
_ENDPOINT_BY_ROUTE: Final = {route: name for name, route in ENDPOINT_PATHS.items()}
_DEFAULT_FAULT_CODES: Final = {
    400: "invalid_param",
    401: "access_token_invalid",
    403: "spam_risk_too_many_posts",
    404: "not_found",
    429: "rate_limit_exceeded",
}
_CONTENT_RANGE: Final = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
_MAX_JSON_BODY: Final = 1024 * 1024
# Bodies of rejected PUTs up to this size are read and discarded so the reply reaches the
# client (closing with unread data makes the kernel reset the connection, losing the reply).
_MAX_DRAIN_BYTES: Final = 256 * 1024 * 1024
_READ_BLOCK: Final = 1024 * 1024


class StubError(Exception):
    """A reply the stub gives instead of the normal one."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


# --- state ------------------------------------------------------------------------------------


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


@dataclass
class Fault:
    """An injected failure: `kind` is fail (answer status+code), drop (close the connection
    without a reply) or delay (sleep before answering)."""

    kind: str
    endpoint: str
    times: int = 1
    status: int = 500
    code: str = "internal_error"
    message: str = "injected fault"
    chunk_index: int | None = None
    publish_id: str | None = None
    after_processing: bool = False
    seconds: float = 0.0
    # An upload fault's reply carries TikTok's progress header unless this is off.
    progress_header: bool = True

    def matches(self, endpoint: str, chunk_index: int | None, publish_id: str | None) -> bool:
        return (
            self.endpoint == endpoint
            and (self.chunk_index is None or self.chunk_index == chunk_index)
            and (self.publish_id is None or self.publish_id == publish_id)
        )

    def view(self) -> dict[str, Any]:
        shown = {k: v for k, v in self.__dict__.items() if v is not None}
        if self.progress_header:
            del shown["progress_header"]  # the default: listed only when switched off
        return shown


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
        body = json.dumps(payload).encode()
        return cls(status, body, {"Content-Type": "application/json", **(headers or {})})


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _log_id() -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + secrets.token_hex(9).upper()


def _envelope(data: dict[str, Any] | None = None, code: str = "ok", message: str = "") -> Any:
    return {"data": data or {}, "error": {"code": code, "message": message, "log_id": _log_id()}}


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# --- the stub ---------------------------------------------------------------------------------


class TikTokStub:
    """The stand-in server. All state sits behind one lock; handler threads call in."""

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
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
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

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> TikTokStub:
        if self._server is not None:
            return self
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"tiktok-stub-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> TikTokStub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- clock --------------------------------------------------------------------------------

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

    # --- creators and tokens ------------------------------------------------------------------

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

    # --- fault injection ----------------------------------------------------------------------

    def _add_fault(self, fault: Fault) -> None:
        if fault.endpoint not in ENDPOINT_PATHS:
            raise ValueError(f"unknown endpoint {fault.endpoint!r}; one of {list(ENDPOINT_PATHS)}")
        if fault.times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.append(fault)

    def fail_next(
        self,
        endpoint: str,
        status: int = 500,
        code: str | None = None,
        message: str = "injected fault",
        times: int = 1,
    ) -> None:
        """The next `times` calls of `endpoint` answer `status` with error `code` (HTTP 200
        with an error code works too, as TikTok does for spam_risk_* on creator_info)."""
        code = code or _DEFAULT_FAULT_CODES.get(status, "internal_error")
        self._add_fault(Fault("fail", endpoint, times, status, code, message))

    def fail_chunk(
        self,
        index: int,
        status: int = 500,
        code: str | None = None,
        times: int = 1,
        publish_id: str | None = None,
        progress_header: bool = True,
    ) -> None:
        """The PUT of chunk `index` (0-based) answers `status`, `times` times; with
        `progress_header` off the reply lacks the `Content-Range` progress header."""
        code = code or _DEFAULT_FAULT_CODES.get(status, "internal_error")
        fault = Fault("fail", "upload", times, status, code, chunk_index=index)
        fault.publish_id = publish_id
        fault.progress_header = progress_header
        self._add_fault(fault)

    def drop_next(self, endpoint: str, times: int = 1, after_processing: bool = False) -> None:
        """Closes the connection of the next `times` calls without a reply; with
        `after_processing` the call takes effect first (the reply is what gets lost)."""
        self._add_fault(Fault("drop", endpoint, times, after_processing=after_processing))

    def drop_chunk(
        self,
        index: int,
        times: int = 1,
        after_processing: bool = False,
        publish_id: str | None = None,
    ) -> None:
        """Closes the connection of the PUT of chunk `index` without a reply."""
        fault = Fault("drop", "upload", times, chunk_index=index, after_processing=after_processing)
        fault.publish_id = publish_id
        self._add_fault(fault)

    def delay_next(self, endpoint: str, seconds: float, times: int = 1) -> None:
        """The next `times` calls of `endpoint` wait `seconds` before answering."""
        self._add_fault(Fault("delay", endpoint, times, seconds=seconds))

    def fail_publish(self, publish_id: str | None = None, fail_reason: str = "internal") -> None:
        """Makes a publish end FAILED with `fail_reason`: an existing one at once, or (no id)
        the next one created, when its upload completes."""
        with self._lock:
            if publish_id is None:
                self._pending_fail_reasons.append(fail_reason)
                return
            post = self._posts[publish_id]
            post.fail_reason = fail_reason
            post.failed_at = self.now()
            post.published = False

    def set_processing_fetches(self, count: int, publish_id: str | None = None) -> None:
        """Posts created from now on (or, with `publish_id`, that one) report PROCESSING_UPLOAD
        for `count` status fetches after their upload completes, then PUBLISH_COMPLETE."""
        with self._lock:
            if publish_id is None:
                self.processing_fetches = count
            else:
                self._posts[publish_id].processing_fetches_left = count

    def faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.view() for f in self._faults]

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._pending_fail_reasons.clear()

    def _take_fault(
        self, endpoint: str, chunk_index: int | None = None, publish_id: str | None = None
    ) -> tuple[float, Fault | None]:
        """Consumes the delays and the first fail/drop fault matching this call."""
        with self._lock:
            delay, chosen = 0.0, None
            for fault in list(self._faults):
                if not fault.matches(endpoint, chunk_index, publish_id):
                    continue
                if fault.kind == "delay":
                    delay += fault.seconds
                elif chosen is None:
                    chosen = fault
                else:
                    continue
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
            return delay, chosen

    # --- inspection ---------------------------------------------------------------------------

    def posts(self) -> list[dict[str, Any]]:
        """Every publish received, oldest first."""
        with self._lock:
            return [self._post_view(p) for p in self._posts.values()]

    def post(self, publish_id: str) -> dict[str, Any]:
        with self._lock:
            return self._post_view(self._posts[publish_id])

    def requests(self) -> list[dict[str, Any]]:
        """Method, path (no query), endpoint and status of every request; never a token."""
        with self._lock:
            return list(self._requests)

    def _post_view(self, post: Post) -> dict[str, Any]:
        return {
            "publish_id": post.publish_id,
            "open_id": post.open_id,
            "title": post.post_info.get("title", ""),
            "privacy_level": post.post_info.get("privacy_level"),
            "post_info": post.post_info,
            "video_size": post.video_size,
            "chunk_size": post.chunk_size,
            "total_chunk_count": post.total_chunk_count,
            "bytes_received": post.bytes_received,
            "chunk_count_received": post.chunks_received,
            "complete": post.complete,
            "sha256": post.hasher.hexdigest(),
            "status": post.status(),
            "fail_reason": post.fail_reason,
            "public_post_ids": [str(i) for i in post.public_post_ids],
            "content_types": sorted(set(post.content_types)),
            "authorization_header_on_put": post.authorization_on_put,
            "created_at": _iso(post.created_at),
            "completed_at": _iso(post.completed_at),
            "upload_expires_at": _iso(post.upload_expires_at),
        }

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._requests.append(entry)

    # --- the HTTP surface ---------------------------------------------------------------------

    def handle(self, request: _Handler) -> Reply:
        """Routes one request; `request` gives headers, query and body access."""
        endpoint = _ENDPOINT_BY_ROUTE.get((request.command, request.path_only))
        if endpoint is None:
            return self._handle_internal(request)
        if endpoint == "upload":
            return self._upload(request)
        body = request.read_body()
        delay, fault = self._take_fault(endpoint)
        if delay:
            time.sleep(delay)
        if fault is not None and not fault.after_processing:
            return self._fault_reply(endpoint, fault)
        try:
            reply = self._api(endpoint, request, body)
        except StubError as error:
            reply = self._error_reply(endpoint, error.status, error.code, error.message)
        if fault is not None:
            reply.drop = True
        return reply

    def _fault_reply(self, endpoint: str, fault: Fault) -> Reply:
        if fault.kind == "drop":
            return Reply(0, drop=True)
        return self._error_reply(endpoint, fault.status, fault.code, fault.message)

    def _error_reply(self, endpoint: str, status: int, code: str, message: str) -> Reply:
        if endpoint == "oauth_token":
            payload = {"error": code, "error_description": message, "log_id": _log_id()}
            return Reply.json(status, payload)
        return Reply.json(status, _envelope(None, code, message))

    def _api(self, endpoint: str, request: _Handler, body: bytes) -> Reply:
        if endpoint == "oauth_token":
            return Reply.json(200, self._oauth_token(request, body))
        grant = self._authenticate(request)
        if endpoint == "user_info":
            return Reply.json(200, _envelope({"user": self._user_info(grant, request.query)}))
        payload = self._json_body(body, allow_empty=endpoint == "creator_info")
        self._check_rate(endpoint, request.bearer or "")
        if endpoint == "creator_info":
            self._require_scope(grant, "video.publish")
            return Reply.json(200, _envelope(self._creator_info(grant)))
        if endpoint == "video_init":
            self._require_scope(grant, "video.publish")
            return Reply.json(200, _envelope(self._video_init(grant, payload)))
        self._require_scope(grant, "video.publish", "video.upload")
        return Reply.json(200, _envelope(self._status_fetch(grant, payload)))

    @staticmethod
    def _json_body(body: bytes, allow_empty: bool = False) -> dict[str, Any]:
        if not body.strip() and allow_empty:
            return {}
        try:
            payload = json.loads(body)
        except ValueError:
            raise StubError(400, "invalid_param", "request body is not valid JSON") from None
        if not isinstance(payload, dict):
            raise StubError(400, "invalid_param", "request body must be a JSON object")
        return payload

    # --- OAuth --------------------------------------------------------------------------------

    def _oauth_token(self, request: _Handler, body: bytes) -> dict[str, Any]:
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise StubError(400, "invalid_request", "body must be form-encoded")
        form = {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
        if form.get("client_key") != self.client_key:
            raise StubError(401, "invalid_client", "unknown client_key")
        if form.get("client_secret") != self.client_secret:
            raise StubError(401, "invalid_client", "client_secret does not match")
        grant_type = form.get("grant_type")
        with self._lock:
            if grant_type == "authorization_code":
                return self._redeem_code(form)
            if grant_type == "refresh_token":
                return self._rotate(form)
        raise StubError(400, "unsupported_grant_type", f"grant_type {grant_type!r}")

    def _redeem_code(self, form: dict[str, str]) -> dict[str, Any]:
        code = self._codes.get(form.get("code", ""))
        if code is None or code.used or code.expires_at <= self.now():
            raise StubError(400, "invalid_grant", "authorization code is invalid or expired")
        code.used = True
        if form.get("redirect_uri") != code.redirect_uri:
            raise StubError(400, "invalid_grant", "redirect_uri does not match")
        if code.code_verifier is not None and form.get("code_verifier") != code.code_verifier:
            raise StubError(400, "invalid_grant", "code_verifier does not match")
        if code.code_challenge is not None and _s256(form.get("code_verifier", "")) != (
            code.code_challenge
        ):
            raise StubError(400, "invalid_grant", "code_verifier does not match the challenge")
        return self._grant(code.open_id, code.scope, 86400, 31536000)

    def _rotate(self, form: dict[str, str]) -> dict[str, Any]:
        token = form.get("refresh_token", "")
        grant = self._refresh.get(token)
        now = self.now()
        if grant is None or grant.expires_at <= now:
            raise StubError(400, "invalid_grant", "refresh token is invalid or expired")
        # Rotation: the old refresh token stops working; the chain keeps its original expiry.
        del self._refresh[token]
        return self._grant(grant.open_id, grant.scope, 86400, grant.expires_at - now)

    # --- user and creator ---------------------------------------------------------------------

    def _authenticate(self, request: _Handler) -> Grant:
        token = request.bearer
        with self._lock:
            grant = self._access.get(token or "")
            if grant is None or grant.expires_at <= self.now():
                raise StubError(
                    401, "access_token_invalid", "The access token is invalid or not found."
                )
            return grant

    @staticmethod
    def _require_scope(grant: Grant, *any_of: str) -> None:
        if not grant.scopes.intersection(any_of):
            raise StubError(
                401, "scope_not_authorized", f"The user did not authorize {'/'.join(any_of)}."
            )

    def _check_rate(self, endpoint: str, token: str) -> None:
        limit = RATE_LIMITS.get(endpoint)
        if not self.rate_limits or limit is None:
            return
        with self._lock:
            now = self.now()
            window = self._calls.setdefault((endpoint, token), deque())
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= limit:
                raise StubError(429, "rate_limit_exceeded", "Too many requests; slow down.")
            window.append(now)

    def _user_info(self, grant: Grant, query: dict[str, str]) -> dict[str, Any]:
        fields = [f for f in query.get("fields", "").split(",") if f]
        if not fields:
            raise StubError(400, "invalid_param", "fields is required")
        known = [f for f in fields if f in USER_FIELD_SCOPES]
        missing = sorted({USER_FIELD_SCOPES[f] for f in known} - grant.scopes)
        if missing:
            raise StubError(401, "scope_not_authorized", f"fields need {', '.join(missing)}")
        with self._lock:
            creator = self._creator(grant.open_id)
        values = {
            "open_id": creator.open_id,
            "union_id": creator.union_id,
            "avatar_url": creator.avatar_url,
            "avatar_url_100": creator.avatar_url,
            "avatar_large_url": creator.avatar_url,
            "display_name": creator.display_name,
            "username": creator.username,
            "bio_description": "",
            "profile_deep_link": f"https://stub.tiktok.invalid/@{creator.username}",
            "is_verified": False,
            "follower_count": 0,
            "following_count": 0,
            "likes_count": 0,
            "video_count": 0,
        }
        return {f: values[f] for f in known}

    def _creator_info(self, grant: Grant) -> dict[str, Any]:
        with self._lock:
            creator = self._creator(grant.open_id)
        return {
            "creator_avatar_url": creator.avatar_url,
            "creator_username": creator.username,
            "creator_nickname": creator.display_name,
            "privacy_level_options": list(creator.privacy_level_options),
            "comment_disabled": creator.comment_disabled,
            "duet_disabled": creator.duet_disabled,
            "stitch_disabled": creator.stitch_disabled,
            "max_video_post_duration_sec": creator.max_video_post_duration_sec,
        }

    # --- Direct Post --------------------------------------------------------------------------

    def _video_init(self, grant: Grant, payload: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            creator = self._creator(grant.open_id)
        post_info = payload.get("post_info")
        if not isinstance(post_info, dict):
            post_info = {}
        privacy = post_info.get("privacy_level")
        if privacy not in creator.privacy_level_options:
            raise StubError(
                403,
                "privacy_level_option_mismatch",
                "privacy_level is missing or not among the creator's privacy_level_options",
            )
        _check_post_info(post_info)
        source = payload.get("source_info")
        if not isinstance(source, dict):
            raise StubError(400, "invalid_param", "source_info is required")
        if source.get("source") == "PULL_FROM_URL":
            raise StubError(403, "url_ownership_unverified", "no verified URL prefix")
        if source.get("source") != "FILE_UPLOAD":
            raise StubError(400, "invalid_param", "source_info.source must be FILE_UPLOAD")
        video_size, chunk_size, count = _check_chunking(source)
        with self._lock:
            now = self.now()
            publish_id = f"v_pub_file~v2-1.{secrets.randbelow(9 * 10**18) + 10**18}"
            upload_id = secrets.token_hex(12)
            post = Post(
                publish_id=publish_id,
                open_id=creator.open_id,
                post_info=dict(post_info),
                video_size=video_size,
                chunk_size=chunk_size,
                total_chunk_count=count,
                upload_id=upload_id,
                upload_token=secrets.token_urlsafe(24),
                created_at=now,
                upload_expires_at=now + UPLOAD_URL_TTL_SECONDS,
                processing_fetches_left=self.processing_fetches,
            )
            if self._pending_fail_reasons:
                post.fail_reason = self._pending_fail_reasons.popleft()
            self._posts[publish_id] = post
            self._uploads[upload_id] = publish_id
        upload_url = (
            f"{self.base_url}{UPLOAD_PATH}?upload_id={upload_id}&upload_token={post.upload_token}"
        )
        return {"publish_id": publish_id, "upload_url": upload_url}

    def _status_fetch(self, grant: Grant, payload: dict[str, Any]) -> dict[str, Any]:
        publish_id = payload.get("publish_id")
        with self._lock:
            post = self._posts.get(publish_id) if isinstance(publish_id, str) else None
            if post is None:
                raise StubError(400, "invalid_publish_id", "publish_id does not exist")
            if post.open_id != grant.open_id:
                raise StubError(
                    400,
                    "token_not_authorized_for_specified_publish_id",
                    "the token's user did not create this publish",
                )
            if post.complete and post.failed_at is None and not post.published:
                self._advance_processing(post)
            data: dict[str, Any] = {
                "status": post.status(),
                "uploaded_bytes": post.bytes_received,
                # Numbers beyond 2**53 on purpose, as TikTok sends them.
                "publicaly_available_post_id": list(post.public_post_ids),
            }
            if post.failed_at is not None:
                data["fail_reason"] = post.fail_reason
            return data

    def _advance_processing(self, post: Post) -> None:
        if post.fail_reason is not None:
            post.failed_at = self.now()
        elif post.processing_fetches_left > 0:
            post.processing_fetches_left -= 1
        else:
            post.published = True
            if post.post_info.get("privacy_level") != "SELF_ONLY":
                post.public_post_ids.append(7 * 10**18 + secrets.randbelow(10**18))

    # --- upload -------------------------------------------------------------------------------

    def _upload(self, request: _Handler) -> Reply:
        """One chunk PUT. Validates before reading, hashes while reading, commits at the end."""
        with self._lock:
            admitted = self._admit_chunk(request)
        if isinstance(admitted, Reply):
            # Draining a refused body happens outside the lock: it can be many megabytes.
            return request.reject(admitted)
        post, index, first, last, media_type = admitted
        try:
            return self._receive_chunk(request, post, index, first, last, media_type)
        finally:
            with self._lock:
                post.in_flight = False

    def _admit_chunk(self, request: _Handler) -> Reply | tuple[Post, int, int, int, str]:
        """The refusal of this PUT, or what to receive; marks the upload busy when admitted."""
        publish_id = self._uploads.get(request.query.get("upload_id", ""))
        post = self._posts.get(publish_id or "")
        if post is None or not secrets.compare_digest(
            request.query.get("upload_token", ""), post.upload_token
        ):
            return self._upload_error(404, "not_found", "no upload task for this URL")
        # The docs do not say whether TikTok refuses an Authorization header here; note it.
        if request.headers.get("Authorization"):
            post.authorization_on_put = True
        progress = self._progress_header(post)
        if self.now() >= post.upload_expires_at:
            return self._upload_error(403, "upload_url_expired", "upload URL expired", progress)
        try:
            first, last, media_type = self._check_chunk_headers(request, post)
        except StubError as error:
            return self._upload_error(error.status, error.code, error.message, progress)
        post.in_flight = True
        return post, post.chunks_received, first, last, media_type

    def _check_chunk_headers(self, request: _Handler, post: Post) -> tuple[int, int, str]:
        media_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media_type not in VIDEO_CONTENT_TYPES:
            raise StubError(400, "invalid_param", "Content-Type must be a supported video type")
        if request.headers.get("Transfer-Encoding"):
            raise StubError(400, "invalid_param", "Content-Length is required, not chunked")
        found = _CONTENT_RANGE.match(request.headers.get("Content-Range", "").strip())
        if not found:
            raise StubError(400, "invalid_param", "Content-Range must be bytes FIRST-LAST/TOTAL")
        first, last, total = (int(g) for g in found.groups())
        if total != post.video_size or last < first or last >= total:
            raise StubError(400, "invalid_param", "Content-Range disagrees with video_size")
        if post.complete or post.in_flight or first != post.bytes_received:
            raise StubError(416, "range_not_satisfiable", "Content-Range does not continue")
        length = last - first + 1
        if length != post.chunk_length(post.chunks_received):
            raise StubError(400, "invalid_param", "chunk size differs from the planned chunk")
        if request.content_length != length:
            raise StubError(400, "invalid_param", "Content-Length differs from Content-Range")
        return first, last, media_type

    def _receive_chunk(
        self,
        request: _Handler,
        post: Post,
        index: int,
        first: int,
        last: int,
        media_type: str,
    ) -> Reply:
        delay, fault = self._take_fault("upload", index, post.publish_id)
        if delay:
            time.sleep(delay)
        if fault is not None and not fault.after_processing:
            if fault.kind == "drop":
                return request.reject(Reply(0, drop=True))
            with self._lock:
                progress = self._progress_header(post) if fault.progress_header else None
            return request.reject(
                self._upload_error(fault.status, fault.code, "injected", progress)
            )
        # Hash into a copy: a chunk that does not arrive whole leaves the upload as it was.
        with self._lock:
            hasher = post.hasher.copy()
        if not request.read_body_into(last - first + 1, hasher.update):
            return self._upload_error(400, "invalid_param", "body shorter than Content-Length")
        with self._lock:
            post.hasher = hasher
            post.bytes_received = last + 1
            post.chunks_received = index + 1
            post.content_types.append(media_type)
            if post.complete:
                post.completed_at = self.now()
            progress = self._progress_header(post)
        status = 201 if post.complete else 206
        reply = Reply(status, b"", {"Content-Range": progress})
        if fault is not None:
            reply.drop = True
        logger.debug("upload %s chunk %d: bytes %d-%d", post.publish_id, index, first, last)
        return reply

    @staticmethod
    def _progress_header(post: Post) -> str:
        if post.bytes_received == 0:
            return f"bytes */{post.video_size}"
        return f"bytes 0-{post.bytes_received - 1}/{post.video_size}"

    @staticmethod
    def _upload_error(status: int, code: str, message: str, progress: str | None = None) -> Reply:
        headers = {"Content-Range": progress} if progress else {}
        return Reply.json(status, _envelope(None, code, message), headers)

    # --- control endpoints (not TikTok's) -----------------------------------------------------

    _FAULT_ACTIONS: Final = frozenset(
        {
            "fail_next",
            "fail_chunk",
            "drop_next",
            "drop_chunk",
            "delay_next",
            "fail_publish",
            "clear_faults",
        }
    )
    _CONTROL_ACTIONS: Final = frozenset(
        {
            "add_creator",
            "issue_tokens",
            "expire_access_token",
            "expire_refresh_token",
            "authorization_code",
            "advance",
            "reset",
            "set_processing_fetches",
            "set_rate_limits",
        }
    )

    def set_rate_limits(self, enabled: bool) -> None:
        with self._lock:
            self.rate_limits = enabled

    def _handle_internal(self, request: _Handler) -> Reply:
        method, path = request.command, request.path_only
        body = request.read_body()
        if method == "GET" and path == AUTHORIZE_PATH:
            return self._authorize(request.query)
        if path in {route[1] for route in ENDPOINT_PATHS.values()}:
            return Reply.json(405, _envelope(None, "method_not_allowed", f"{method} {path}"))
        if method == "GET" and path == "/_inspect/posts":
            return Reply.json(200, self.posts())
        if method == "GET" and path == "/_inspect/requests":
            return Reply.json(200, self.requests())
        if path == "/_faults" and method == "GET":
            return Reply.json(200, self.faults())
        if path == "/_faults" and method == "DELETE":
            self.clear_faults()
            return Reply.json(200, {"ok": True})
        if path in ("/_faults", "/_control") and method == "POST":
            allowed = self._FAULT_ACTIONS if path == "/_faults" else self._CONTROL_ACTIONS
            return self._call_action(body, allowed)
        return Reply.json(404, _envelope(None, "not_found", f"{method} {path}"))

    def _authorize(self, query: dict[str, str]) -> Reply:
        """TikTok's authorization page, approved at once: the user is the creator named by the
        stand-in's own `open_id` parameter (default "stand-in-creator", created on first use);
        the browser is sent back to `redirect_uri` with a code and the caller's state, as TikTok
        does once the user clicks Authorize."""
        redirect_uri = query.get("redirect_uri", "")
        problems = []
        if query.get("client_key") != self.client_key:
            problems.append("unknown client_key")
        if query.get("response_type") != "code":
            problems.append("response_type must be code")
        if not redirect_uri.startswith(("http://", "https://")):
            problems.append("redirect_uri is missing")
        challenge = query.get("code_challenge")
        if challenge and query.get("code_challenge_method") != "S256":
            problems.append("code_challenge_method must be S256")
        if problems:
            page = "<h1>TikTok (stand-in): authorization refused</h1><p>" + "; ".join(problems)
            return Reply(400, page.encode(), {"Content-Type": "text/html; charset=utf-8"})
        open_id = query.get("open_id") or "stand-in-creator"
        with self._lock:
            if open_id not in self._creators:
                self.add_creator(open_id, open_id.replace("-", "_"), f"Stand-in {open_id}")
            code = self.authorization_code(
                open_id, redirect_uri, scope=query.get("scope") or DEFAULT_SCOPE
            )
            self._codes[code].code_challenge = challenge or None
        separator = "&" if "?" in redirect_uri else "?"
        target = (
            f"{redirect_uri}{separator}{urlencode({'code': code, 'state': query.get('state', '')})}"
        )
        return Reply(302, b"", {"Location": target})

    def _call_action(self, body: bytes, allowed: frozenset[str]) -> Reply:
        """`{"action": name, ...arguments}` calls the Python method of that name."""
        try:
            arguments = json.loads(body or b"{}")
            action = arguments.pop("action", None) if isinstance(arguments, dict) else None
            if action == "clear":
                action = "clear_faults"
            if action not in allowed:
                return Reply.json(400, {"error": f"action must be one of {sorted(allowed)}"})
            result = getattr(self, action)(**arguments)
        except (TypeError, ValueError, KeyError) as error:
            return Reply.json(400, {"error": str(error)})
        return Reply.json(200, {"ok": True, "result": result})


def _check_post_info(post_info: dict[str, Any]) -> None:
    title = post_info.get("title", "")
    if not isinstance(title, str):
        raise StubError(400, "invalid_param", "title must be a string")
    if _utf16_units(title) > TITLE_MAX_UTF16_UNITS:
        raise StubError(400, "invalid_param", "title exceeds 2200 UTF-16 code units")
    for flag in (
        "disable_duet",
        "disable_stitch",
        "disable_comment",
        "brand_content_toggle",
        "brand_organic_toggle",
        "is_aigc",
    ):
        if flag in post_info and not isinstance(post_info[flag], bool):
            raise StubError(400, "invalid_param", f"{flag} must be a boolean")
    cover = post_info.get("video_cover_timestamp_ms")
    if cover is not None and not (_is_int(cover) and 0 <= cover < 2**31):
        raise StubError(400, "invalid_param", "video_cover_timestamp_ms must be an int32")


def _int_field(source: dict[str, Any], name: str) -> int:
    value = source.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise StubError(400, "invalid_param", f"source_info.{name} must be an integer")
    return value


def _check_chunking(source: dict[str, Any]) -> tuple[int, int, int]:
    """TikTok's FILE_UPLOAD chunk rules; returns (video_size, chunk_size, total_chunk_count)."""
    video_size = _int_field(source, "video_size")
    chunk_size = _int_field(source, "chunk_size")
    count = _int_field(source, "total_chunk_count")
    if not 0 < video_size <= MAX_VIDEO_BYTES:
        raise StubError(400, "invalid_param", "video_size must be 1 byte to 4 GB")
    if chunk_size <= 0 or count <= 0:
        raise StubError(400, "invalid_param", "The chunk size is invalid")
    if video_size < MIN_CHUNK_BYTES or (chunk_size == video_size and count == 1):
        # Small files go whole; files up to the chunk maximum may too.
        if chunk_size != video_size or count != 1 or video_size > MAX_CHUNK_BYTES:
            raise StubError(400, "invalid_param", "The chunk size is invalid")
        return video_size, chunk_size, count
    if not MIN_CHUNK_BYTES <= chunk_size <= MAX_CHUNK_BYTES:
        raise StubError(400, "invalid_param", "The chunk size is invalid")
    if count != video_size // chunk_size or not 1 <= count <= MAX_CHUNK_COUNT:
        raise StubError(400, "invalid_param", "The total chunk count is invalid")
    if count == 1:
        # Reached only with chunk_size != video_size: a one-chunk plan must declare the file.
        raise StubError(400, "invalid_param", "The chunk size is invalid")
    if chunk_size + video_size % chunk_size > MAX_LAST_CHUNK_BYTES:
        raise StubError(400, "invalid_param", "The last chunk is too large")
    return video_size, chunk_size, count


# --- HTTP plumbing ----------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], stub: TikTokStub) -> None:
        self.stub = stub
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket, alive: bool) -> None:
        with self._connections_lock:
            if alive:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """Ends idle keep-alive connections so their threads finish with the server."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    # Idle keep-alive connections and stalled bodies give up after this many seconds.
    timeout = 60

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every reply.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug(format, *args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    # --- request access used by the stub ------------------------------------------------------

    @property
    def path_only(self) -> str:
        return urlsplit(self.path).path

    @property
    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}

    @property
    def bearer(self) -> str | None:
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return token.strip() or None

    @property
    def content_length(self) -> int | None:
        raw = self.headers.get("Content-Length")
        if raw is None or not raw.strip().isdigit():
            return None
        return int(raw)

    def read_body(self) -> bytes:
        """A small (JSON or form) body, whole."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            # The sink gets views of a reused buffer: copy them.
            self._read_chunked(lambda part: parts.append(bytes(part)))
            return b"".join(parts)
        length = self.content_length or 0
        if length > _MAX_JSON_BODY:
            self.close_connection = True
            return b""
        return self.rfile.read(length) if length else b""

    def read_body_into(self, length: int, sink: Callable[[memoryview], object]) -> bool:
        """Streams exactly `length` body bytes into `sink`; False when the body ended early."""
        buffer = bytearray(min(length, _READ_BLOCK))
        view = memoryview(buffer)
        remaining = length
        while remaining:
            got = self.rfile.readinto(view[: min(remaining, len(buffer))])
            if not got:
                self.close_connection = True
                return False
            sink(view[:got])
            remaining -= got
        return True

    def reject(self, reply: Reply) -> Reply:
        """Discards the request body so the reply can be read, or gives up the connection."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self._read_chunked(lambda _part: None)
            return reply
        length = self.content_length
        if length is None or length > _MAX_DRAIN_BYTES:
            self.close_connection = True
            return reply
        if not self.read_body_into(length, lambda _part: None):
            reply.drop = True
        return reply

    def _read_chunked(self, sink: Callable[[memoryview], object]) -> None:
        while True:
            size_line = self.rfile.readline(1024)
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                return
            if size == 0:
                while self.rfile.readline(1024).strip():
                    pass
                return
            if not self.read_body_into(size, sink):
                return
            self.rfile.readline(3)

    # --- dispatch -----------------------------------------------------------------------------

    def _dispatch(self) -> None:
        stub = self.server.stub
        started = stub.now()
        try:
            reply = stub.handle(self)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
            return
        except Exception:
            logger.exception("stub failed on %s %s", self.command, self.path_only)
            reply = Reply.json(500, _envelope(None, "internal_error", "stub failure"))
        stub.record(
            {
                "at": _iso(started),
                "method": self.command,
                "path": self.path_only,
                "endpoint": _ENDPOINT_BY_ROUTE.get((self.command, self.path_only)),
                "status": None if reply.drop else reply.status,
                "dropped": reply.drop,
            }
        )
        if reply.drop:
            self.close_connection = True
            return
        # The client may be gone already (it sent a short body and left).
        with contextlib.suppress(ConnectionError):
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(reply.body)

    def version_string(self) -> str:
        return "tiktok-stub"


# --- running alone ----------------------------------------------------------------------------


def _serve(arguments: argparse.Namespace) -> None:
    stub = TikTokStub(
        host=arguments.host,
        port=arguments.port,
        client_key=arguments.client_key,
        client_secret=arguments.client_secret,
        rate_limits=arguments.rate_limits,
    )
    stub.start()
    print(f"TikTok stub on {stub.base_url} (client_key {stub.client_key})", flush=True)
    if arguments.demo:
        stub.add_creator("demo-open-id", "demo.creator", "Demo Creator")
        tokens = stub.issue_tokens("demo-open-id")
        print(f"demo creator tokens: {json.dumps(tokens)}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stub.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3001)
    parser.add_argument("--client-key", default="stub-client-key")
    parser.add_argument("--client-secret", default="stub-client-secret")
    parser.add_argument("--rate-limits", action="store_true", help="enforce TikTok's rate limits")
    parser.add_argument("--demo", action="store_true", help="add a demo creator, print tokens")
    logging.basicConfig(level=logging.INFO)
    _serve(parser.parse_args(argv))


if __name__ == "__main__":
    main()
