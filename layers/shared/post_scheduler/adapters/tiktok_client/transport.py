"""TikTok's OAuth and Content Posting API over HTTP: token exchange and refresh, user and
creator info, Direct Post init, chunked FILE_UPLOAD and status, with every failure sorted into
retryable or not. Tokens and the upload URL's query (it authorises the upload) are never logged."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

import requests

# The domain owns these types; they are re-exported here for the callers that import them from
# the client.
from post_scheduler.domain.chunks import DEFAULT_CHUNK_BYTES as DEFAULT_CHUNK_BYTES
from post_scheduler.domain.chunks import MAX_CHUNK_BYTES as MAX_CHUNK_BYTES
from post_scheduler.domain.chunks import MAX_CHUNK_COUNT as MAX_CHUNK_COUNT
from post_scheduler.domain.chunks import MAX_VIDEO_BYTES as MAX_VIDEO_BYTES
from post_scheduler.domain.chunks import MIN_CHUNK_BYTES as MIN_CHUNK_BYTES
from post_scheduler.domain.chunks import ChunkPlan as ChunkPlan
from post_scheduler.domain.chunks import plan_chunks as plan_chunks
from post_scheduler.domain.errors import ChunkLengthError as ChunkLengthError
from post_scheduler.domain.errors import TikTokAuthError as TikTokAuthError
from post_scheduler.domain.errors import TikTokError as TikTokError
from post_scheduler.domain.errors import TikTokPermanentError as TikTokPermanentError
from post_scheduler.domain.errors import TikTokTransientError as TikTokTransientError
from post_scheduler.domain.errors import TikTokUploadExpired as TikTokUploadExpired
from post_scheduler.domain.errors import TikTokUploadRangeError as TikTokUploadRangeError
from post_scheduler.domain.tiktok import PROCESSING_STATUSES as PROCESSING_STATUSES
from post_scheduler.domain.tiktok import USER_FIELDS as USER_FIELDS
from post_scheduler.domain.tiktok import CreatorInfo as CreatorInfo
from post_scheduler.domain.tiktok import InitResult as InitResult
from post_scheduler.domain.tiktok import PublishStatus as PublishStatus
from post_scheduler.domain.tiktok import TikTokUser as TikTokUser
from post_scheduler.domain.tiktok import TokenGrant as TokenGrant
from post_scheduler.domain.tiktok import UploadProgress as UploadProgress

logger = logging.getLogger(__name__)


VIDEO_CONTENT_TYPES: Final = frozenset({"video/mp4", "video/quicktime", "video/webm"})

OAUTH_GRANT_PATH: Final = "/v2/oauth/token/"
USER_INFO_PATH: Final = "/v2/user/info/"
CREATOR_INFO_PATH: Final = "/v2/post/publish/creator_info/query/"
VIDEO_INIT_PATH: Final = "/v2/post/publish/video/init/"
STATUS_FETCH_PATH: Final = "/v2/post/publish/status/fetch/"

DEFAULT_TIMEOUT: Final = (3.05, 30.0)

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)


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
