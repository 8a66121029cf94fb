"""TikTok's OAuth and Content Posting API over HTTP: token exchange and refresh, user and
creator info, Direct Post init, chunked FILE_UPLOAD and status, with every failure sorted into
retryable or not. Tokens and the upload URL's query (it authorises the upload) are never logged."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

import requests

logger = logging.getLogger(__name__)

# TikTok's media-transfer rules, in the safe reading of "MB" (see the reference, section 4):
# chunks of at least 5 MiB and at most 64,000,000 bytes, at most 1000 of them, files up to 4 GiB.
MIN_CHUNK_BYTES: Final = 5_242_880
MAX_CHUNK_BYTES: Final = 64_000_000
MAX_CHUNK_COUNT: Final = 1000
MAX_VIDEO_BYTES: Final = 4 * 1024**3
DEFAULT_CHUNK_BYTES: Final = 10_485_760

VIDEO_CONTENT_TYPES: Final = frozenset({"video/mp4", "video/quicktime", "video/webm"})
# `username` needs the user.info.profile scope since TikTok's 2024 scope migration.
USER_FIELDS: Final = ("open_id", "union_id", "avatar_url", "display_name", "username")

OAUTH_GRANT_PATH: Final = "/v2/oauth/token/"
USER_INFO_PATH: Final = "/v2/user/info/"
CREATOR_INFO_PATH: Final = "/v2/post/publish/creator_info/query/"
VIDEO_INIT_PATH: Final = "/v2/post/publish/video/init/"
STATUS_FETCH_PATH: Final = "/v2/post/publish/status/fetch/"

DEFAULT_TIMEOUT: Final = (3.05, 30.0)

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)


# --- errors -----------------------------------------------------------------------------------


class TikTokError(Exception):
    """A call to TikTok failed. `code` is TikTok's error code (or ours: `network_error`,
    `invalid_response`, `http_<status>`); `retryable` says whether repeating the same call
    later can succeed."""

    retryable: bool = False

    def __init__(
        self,
        code: str,
        message: str = "",
        http_status: int | None = None,
        log_id: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.log_id = log_id


class TikTokTransientError(TikTokError):
    """Server trouble, rate limiting or a lost connection: retry with backoff."""

    retryable = True


class TikTokPermanentError(TikTokError):
    """TikTok refused the request as it stands; repeating it will not help."""


class TikTokAuthError(TikTokError):
    """The access token is invalid or expired: refresh it once, then give up."""


class TikTokUploadRangeError(TikTokError):
    """The chunk does not continue the upload (416); resume after `received_through`."""

    retryable = True

    def __init__(
        self,
        received_through: int | None,
        message: str = "",
        http_status: int | None = 416,
        log_id: str | None = None,
    ) -> None:
        super().__init__("upload_range_mismatch", message, http_status, log_id)
        self.received_through = received_through


class TikTokUploadExpired(TikTokError):
    """The upload URL's hour is over (403); this upload cannot be finished."""


class ChunkLengthError(ValueError):
    """The chunk's bytes did not add up to the length announced for it."""


_AUTH_CODES: Final = frozenset({"access_token_invalid"})
_TRANSIENT_CODES: Final = frozenset({"rate_limit_exceeded", "internal_error", "network_error"})
_PERMANENT_CODES: Final = frozenset(
    {
        "privacy_level_option_mismatch",
        # The docs say invalid_param; real responses have been seen saying invalid_params.
        "invalid_param",
        "invalid_params",
        "scope_not_authorized",
        "url_ownership_unverified",
        "reached_active_user_cap",
        "invalid_publish_id",
        "token_not_authorized_for_specified_publish_id",
        # OAuth errors of the token endpoint.
        "invalid_grant",
        "invalid_client",
        "invalid_request",
        "invalid_scope",
        "unauthorized_client",
        "unsupported_grant_type",
        "access_denied",
    }
)
_PERMANENT_PREFIXES: Final = ("spam_risk", "unaudited_client")
# fail_reason values of a FAILED publish that a fresh attempt may get past.
_RETRYABLE_FAIL_REASONS: Final = frozenset({"internal", "video_pull_failed", "photo_pull_failed"})


def _is_transient_status(status: int | None) -> bool:
    return status is not None and (status == 429 or status >= 500)


def classify_error(
    code: str, message: str = "", http_status: int | None = None, log_id: str | None = None
) -> TikTokError:
    """The error type for a TikTok error code; codes we do not know go by HTTP status
    (5xx and 429 transient, anything else permanent)."""
    error_type: type[TikTokError]
    if code in _AUTH_CODES:
        error_type = TikTokAuthError
    elif code in _TRANSIENT_CODES:
        error_type = TikTokTransientError
    elif code in _PERMANENT_CODES or code.startswith(_PERMANENT_PREFIXES):
        error_type = TikTokPermanentError
    elif _is_transient_status(http_status):
        error_type = TikTokTransientError
    else:
        error_type = TikTokPermanentError
    return error_type(code, message, http_status, log_id)


# --- values -----------------------------------------------------------------------------------


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
class ChunkPlan:
    """How a video goes up: `total_chunk_count` chunks of `chunk_size` bytes, the last one
    also carrying the remainder (TikTok's floor rule)."""

    video_size: int
    chunk_size: int
    total_chunk_count: int

    def __post_init__(self) -> None:
        if min(self.video_size, self.chunk_size, self.total_chunk_count) <= 0:
            raise ValueError("chunk plan values must be positive")
        if self.video_size > MAX_VIDEO_BYTES:
            raise ValueError(f"TikTok accepts videos up to {MAX_VIDEO_BYTES} bytes")
        if self.video_size // self.chunk_size != self.total_chunk_count:
            raise ValueError("total_chunk_count must be floor(video_size / chunk_size)")
        if self.total_chunk_count > MAX_CHUNK_COUNT:
            raise ValueError(f"more than {MAX_CHUNK_COUNT} chunks")
        if self.total_chunk_count == 1:
            if self.chunk_size != self.video_size or self.video_size > MAX_CHUNK_BYTES:
                raise ValueError("a one-chunk upload sends the whole file, at most 64,000,000 B")
        elif not MIN_CHUNK_BYTES <= self.chunk_size <= MAX_CHUNK_BYTES:
            raise ValueError("chunks must be 5,242,880 to 64,000,000 bytes")

    def chunk_length(self, index: int) -> int:
        if not 0 <= index < self.total_chunk_count:
            raise IndexError(index)
        if index < self.total_chunk_count - 1:
            return self.chunk_size
        return self.video_size - self.chunk_size * index

    def ranges(self, start: int = 0) -> Iterator[tuple[int, int]]:
        """(first, last) inclusive byte offsets of each chunk from byte `start`, which must be
        a chunk boundary (resuming after `UploadProgress.next_byte`)."""
        if start == self.video_size:
            return
        if start % self.chunk_size or not 0 <= start < self.video_size:
            raise ValueError(f"byte {start} is not the start of a chunk")
        for index in range(start // self.chunk_size, self.total_chunk_count):
            first = index * self.chunk_size
            yield first, first + self.chunk_length(index) - 1


def plan_chunks(video_size: int, preferred_chunk_size: int = DEFAULT_CHUNK_BYTES) -> ChunkPlan:
    """TikTok's chunking for a file of `video_size` bytes: one chunk when it is under 5 MiB or
    under the (clamped) preferred size, else chunks of that size with the last one absorbing
    the remainder (two halves when that would leave a single chunk over 64,000,000 bytes)."""
    if video_size <= 0:
        raise ValueError("a video must have at least one byte")
    if video_size > MAX_VIDEO_BYTES:
        raise ValueError(f"TikTok accepts videos up to {MAX_VIDEO_BYTES} bytes")
    chunk_size = min(max(preferred_chunk_size, MIN_CHUNK_BYTES), MAX_CHUNK_BYTES)
    if video_size < MIN_CHUNK_BYTES or video_size < chunk_size:
        return ChunkPlan(video_size, video_size, 1)
    count = video_size // chunk_size
    if count == 1:
        if video_size <= MAX_CHUNK_BYTES:
            # A one-chunk plan declares the whole file as its chunk size.
            return ChunkPlan(video_size, video_size, 1)
        # Floor would make one oversized PUT; TikTok wants files over 64 MB in several chunks.
        chunk_size, count = video_size // 2, 2
    if count > MAX_CHUNK_COUNT:
        raise ValueError(f"{count} chunks exceed TikTok's limit of {MAX_CHUNK_COUNT}")
    return ChunkPlan(video_size, chunk_size, count)


# --- the client -------------------------------------------------------------------------------


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _received_through(header: str | None) -> int | None:
    """The last byte offset in a `bytes 0-LAST/TOTAL` progress header."""
    found = _CONTENT_RANGE.match(header or "")
    return int(found.group(2)) if found else None


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _unreadable(response: requests.Response) -> TikTokError:
    # Status decides: a garbled 5xx/429 is server trouble; a garbled 2xx is most likely a
    # proxy glitch, so also transient; anything else is a refusal.
    status = response.status_code
    if _is_transient_status(status) or response.ok:
        return TikTokTransientError("invalid_response", "unreadable response body", status)
    return TikTokPermanentError("invalid_response", "unreadable response body", status)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class _SizedBody:
    """An iterable body of known length, so requests sends Content-Length instead of chunked
    transfer-encoding (which TikTok's upload endpoint does not take)."""

    def __init__(self, parts: Iterable[bytes | memoryview], length: int) -> None:
        self._parts = parts
        self._length = length

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes | memoryview]:
        sent = 0
        for part in self._parts:
            sent += len(part)
            if sent > self._length:
                raise ChunkLengthError(f"chunk source gave more than {self._length} bytes")
            if part:
                yield part
        if sent != self._length:
            raise ChunkLengthError(f"chunk source gave {sent} of {self._length} bytes")


class TikTokClient:
    """One HTTP session to TikTok's open API; every call has a timeout and raises a
    `TikTokError` subclass on failure."""

    def __init__(
        self,
        base_url: str,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session if session is not None else requests.Session()
        self.timeout = timeout

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> TikTokClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- OAuth --------------------------------------------------------------------------------

    def exchange_code(
        self,
        client_key: str,
        client_secret: str,
        code: str,
        redirect_uri: str,
        code_verifier: str | None = None,
    ) -> TokenGrant:
        """Trades the authorization code from TikTok's redirect for the user's tokens."""
        form = {
            "client_key": client_key,
            "client_secret": client_secret,
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": redirect_uri,
        }
        if code_verifier is not None:
            form["code_verifier"] = code_verifier
        return self._token(form, "exchange_code")

    def refresh_access_token(
        self, client_key: str, client_secret: str, refresh_token: str
    ) -> TokenGrant:
        """A new access token. TikTok rotates the refresh token too: store the returned one,
        the old one stops working."""
        form = {
            "client_key": client_key,
            "client_secret": client_secret,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }
        return self._token(form, "refresh_access_token")

    def _token(self, form: dict[str, str], operation: str) -> TokenGrant:
        response = self._send(
            "POST",
            self.base_url + OAUTH_GRANT_PATH,
            operation,
            data=form,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cache-Control": "no-cache",
            },
        )
        body = _json_object(response)
        if body is None:
            raise _unreadable(response)
        error = body.get("error")
        # OAuth errors arrive as {"error": "<code>", "error_description": ...}, whatever the
        # HTTP status; tolerate the Content Posting envelope too.
        if isinstance(error, dict):
            code = _text(error.get("code")) or "ok"
            message = error.get("message", "")
        else:
            code = _text(error) or "ok"
            message = body.get("error_description", "")
        if code != "ok":
            raise classify_error(
                code, str(message), response.status_code, _text(body.get("log_id"))
            )
        if not response.ok:
            raise classify_error(f"http_{response.status_code}", "", response.status_code)
        nested = body.get("data")
        grant: dict[str, Any] = nested if isinstance(nested, dict) else body
        try:
            return TokenGrant(
                access_token=str(grant["access_token"]),
                expires_in=int(grant["expires_in"]),
                refresh_token=str(grant["refresh_token"]),
                refresh_expires_in=int(grant["refresh_expires_in"]),
                open_id=str(grant["open_id"]),
                scope=str(grant.get("scope", "")),
            )
        except (KeyError, TypeError, ValueError):
            raise TikTokTransientError(
                "invalid_response", "token response lacks fields", response.status_code
            ) from None

    # --- user and creator ---------------------------------------------------------------------

    def user_info(self, access_token: str, fields: Iterable[str] = USER_FIELDS) -> TikTokUser:
        """The user's profile; fields outside the granted scopes make TikTok refuse the call."""
        data = self._api(
            "GET", USER_INFO_PATH, "user_info", access_token, params={"fields": ",".join(fields)}
        )
        user = data.get("user")
        if not isinstance(user, dict) or not _text(user.get("open_id")):
            raise TikTokTransientError("invalid_response", "user info lacks the user")
        return TikTokUser(
            open_id=str(user["open_id"]),
            username=_text(user.get("username")),
            display_name=_text(user.get("display_name")),
            avatar_url=_text(user.get("avatar_url")),
            union_id=_text(user.get("union_id")),
        )

    def creator_info(self, access_token: str) -> CreatorInfo:
        """Whether and how the creator may post now. TikTok signals "cannot post now"
        (spam_risk_*, reached_active_user_cap) with HTTP 200 and an error code."""
        data = self._api("POST", CREATOR_INFO_PATH, "creator_info", access_token)
        try:
            return CreatorInfo(
                creator_username=str(data.get("creator_username", "")),
                creator_nickname=str(data.get("creator_nickname", "")),
                creator_avatar_url=_text(data.get("creator_avatar_url")),
                privacy_level_options=tuple(str(o) for o in data["privacy_level_options"]),
                comment_disabled=bool(data.get("comment_disabled", False)),
                duet_disabled=bool(data.get("duet_disabled", False)),
                stitch_disabled=bool(data.get("stitch_disabled", False)),
                max_video_post_duration_sec=int(data["max_video_post_duration_sec"]),
            )
        except (KeyError, TypeError, ValueError):
            raise TikTokTransientError("invalid_response", "creator info lacks fields") from None

    # --- publishing ---------------------------------------------------------------------------

    def init_direct_post(
        self, access_token: str, post_info: Mapping[str, Any], plan: ChunkPlan
    ) -> InitResult:
        """Starts a Direct Post of a FILE_UPLOAD video. Not idempotent: after a network error
        or 5xx the post may exist anyway, so callers record `publish_id` at once and never
        re-init blindly once bytes went up."""
        body = {
            "post_info": dict(post_info),
            "source_info": {
                "source": "FILE_UPLOAD",
                "video_size": plan.video_size,
                "chunk_size": plan.chunk_size,
                "total_chunk_count": plan.total_chunk_count,
            },
        }
        data = self._api("POST", VIDEO_INIT_PATH, "init_direct_post", access_token, body)
        publish_id, upload_url = _text(data.get("publish_id")), _text(data.get("upload_url"))
        if publish_id is None or upload_url is None:
            raise TikTokTransientError("invalid_response", "init lacks publish_id or upload_url")
        return InitResult(publish_id, upload_url)

    def upload_chunk(
        self,
        upload_url: str,
        chunk: Iterable[bytes] | bytes | bytearray | memoryview,
        first: int,
        last: int,
        total: int,
        content_type: str = "video/mp4",
    ) -> UploadProgress:
        """PUTs bytes `first..last` (inclusive) of `total`. An iterable chunk is streamed as
        it is produced, so memory stays bounded by its parts."""
        length = last - first + 1
        if first < 0 or length <= 0 or last >= total:
            raise ValueError(f"bad chunk range {first}-{last}/{total}")
        body: bytes | _SizedBody
        if isinstance(chunk, bytes):
            if len(chunk) != length:
                raise ChunkLengthError(f"chunk has {len(chunk)} bytes, range needs {length}")
            body = chunk
        elif isinstance(chunk, bytearray | memoryview):
            body = _SizedBody([memoryview(chunk)], length)
        else:
            body = _SizedBody(chunk, length)
        response = self._send(
            "PUT",
            upload_url,
            "upload_chunk",
            data=body,
            headers={
                "Content-Type": content_type,
                "Content-Length": str(length),
                "Content-Range": f"bytes {first}-{last}/{total}",
            },
        )
        status = response.status_code
        received = _received_through(response.headers.get("Content-Range"))
        if status in (200, 201, 206):
            complete = status == 201 or (status == 200 and received == total - 1)
            return UploadProgress(complete, received)
        error = (_json_object(response) or {}).get("error")
        error = error if isinstance(error, dict) else {}
        message = str(error.get("message", ""))
        log_id = _text(error.get("log_id"))
        if status == 416:
            raise TikTokUploadRangeError(received, message, status, log_id)
        if status == 403:
            raise TikTokUploadExpired("upload_url_expired", message, status, log_id)
        code = _text(error.get("code")) or f"http_{status}"
        if _is_transient_status(status):
            raise TikTokTransientError(code, message, status, log_id)
        # 400 (bad headers or length) and 404 (no such upload) cannot succeed as sent.
        raise TikTokPermanentError(code, message, status, log_id)

    def fetch_status(self, access_token: str, publish_id: str) -> PublishStatus:
        """Where the publish stands. A FAILED publish is a normal answer, not an error; see
        `PublishStatus.failure()`."""
        data = self._api(
            "POST", STATUS_FETCH_PATH, "fetch_status", access_token, {"publish_id": publish_id}
        )
        status = _text(data.get("status"))
        if status is None:
            raise TikTokTransientError("invalid_response", "status lacks status")
        # TikTok spells the field "publicaly"; accept the correct spelling too.
        post_ids = data.get("publicaly_available_post_id", data.get("publicly_available_post_id"))
        try:
            uploaded = int(data.get("uploaded_bytes") or 0)
        except (TypeError, ValueError):
            uploaded = 0
        return PublishStatus(
            status=status,
            fail_reason=_text(data.get("fail_reason")),
            uploaded_bytes=uploaded,
            public_post_ids=[str(i) for i in post_ids or [] if isinstance(i, int | str)],
        )

    # --- transport ----------------------------------------------------------------------------

    def _api(
        self,
        method: str,
        path: str,
        operation: str,
        access_token: str,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """One Content Posting call: the envelope's `error.code` decides, even on HTTP 200."""
        response = self._send(
            method,
            self.base_url + path,
            operation,
            json=json_body,
            params=params,
            headers={
                "Authorization": f"Bearer {access_token}",
                "Content-Type": "application/json; charset=UTF-8",
            },
        )
        body = _json_object(response)
        if body is None:
            raise _unreadable(response)
        error = body.get("error")
        error = error if isinstance(error, dict) else {}
        code = _text(error.get("code")) or ("ok" if response.ok else f"http_{response.status_code}")
        log_id = _text(error.get("log_id"))
        if code != "ok":
            raise classify_error(code, str(error.get("message", "")), response.status_code, log_id)
        if not response.ok:
            raise classify_error(f"http_{response.status_code}", "", response.status_code, log_id)
        data = body.get("data")
        if not isinstance(data, dict):
            raise TikTokTransientError("invalid_response", "response lacks data", log_id=log_id)
        return data

    def _send(self, method: str, url: str, operation: str, **arguments: Any) -> requests.Response:
        try:
            response = self.session.request(method, url, timeout=self.timeout, **arguments)
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ) as exc:
            # requests' messages can hold the URL (with the upload token): keep only the type.
            logger.warning("TikTok %s failed: %s", operation, type(exc).__name__)
            raise TikTokTransientError(
                "network_error", f"{operation}: {type(exc).__name__}"
            ) from None
        except requests.RequestException as exc:
            raise TikTokPermanentError(
                "request_error", f"{operation}: {type(exc).__name__}"
            ) from None
        logger.debug("TikTok %s %s -> %s", operation, _redacted(url), response.status_code)
        return response
