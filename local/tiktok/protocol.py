"""TikTok's protocol as the stand-in speaks it: limits, paths, scopes, the error envelope and
the reply a handler gives."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

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
ENDPOINT_BY_ROUTE: Final = {route: name for name, route in ENDPOINT_PATHS.items()}


class StubError(Exception):
    """A reply the stub gives instead of the normal one."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


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


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def new_log_id() -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + secrets.token_hex(9).upper()


def envelope(data: dict[str, Any] | None = None, code: str = "ok", message: str = "") -> Any:
    return {"data": data or {}, "error": {"code": code, "message": message, "log_id": new_log_id()}}


def iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
