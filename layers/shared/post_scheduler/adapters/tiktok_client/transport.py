"""The HTTP transport under the TikTok client: one session with timeouts, the Content Posting
envelope, and every failure sorted into retryable or not. The upload URL's query (it authorises
the upload) is never logged."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final, Self
from urllib.parse import urlsplit

import requests

from post_scheduler.domain.errors import (
    TikTokAuthError,
    TikTokError,
    TikTokPermanentError,
    TikTokTransientError,
)

logger = logging.getLogger(__name__)


OAUTH_GRANT_PATH: Final = "/v2/oauth/token/"
USER_INFO_PATH: Final = "/v2/user/info/"
CREATOR_INFO_PATH: Final = "/v2/post/publish/creator_info/query/"
VIDEO_INIT_PATH: Final = "/v2/post/publish/video/init/"
STATUS_FETCH_PATH: Final = "/v2/post/publish/status/fetch/"

DEFAULT_TIMEOUT: Final = (3.05, 30.0)


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


def is_transient_status(status: int | None) -> bool:
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
    elif is_transient_status(http_status):
        error_type = TikTokTransientError
    else:
        error_type = TikTokPermanentError
    return error_type(code, message, http_status, log_id)


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def json_object(response: requests.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def unreadable(response: requests.Response) -> TikTokError:
    # Status decides: a garbled 5xx/429 is server trouble; a garbled 2xx is most likely a
    # proxy glitch, so also transient; anything else is a refusal.
    status = response.status_code
    if is_transient_status(status) or response.ok:
        return TikTokTransientError("invalid_response", "unreadable response body", status)
    return TikTokPermanentError("invalid_response", "unreadable response body", status)


def text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class TikTokTransport:
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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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
        body = json_object(response)
        if body is None:
            raise unreadable(response)
        error = body.get("error")
        error = error if isinstance(error, dict) else {}
        code = text_or_none(error.get("code")) or (
            "ok" if response.ok else f"http_{response.status_code}"
        )
        log_id = text_or_none(error.get("log_id"))
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
