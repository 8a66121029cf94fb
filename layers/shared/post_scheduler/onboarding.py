"""Builds the onboarding use cases (videos, TikTok accounts, API keys) from the settings, beside
`wiring`. Each is built once per table, so warm invocations reuse it and `wiring.reset()` (a new
table) rebuilds it.

Settings read here besides `settings.Settings`:
    TIKTOK_REDIRECT_URI                 the registered callback URL (empty: derived per request)
    TIKTOK_USE_PKCE                     "true" to add PKCE (S256) to the authorization request
    VIDEO_MULTIPART_THRESHOLD_BYTES     files above this size upload in parts (default 100 MiB)
    VIDEO_PART_SIZE_BYTES               size of each part (default 64 MiB)
    VIDEO_UPLOAD_URL_SECONDS            lifetime of presigned upload URLs (default 3600)
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING

from post_scheduler import wiring
from post_scheduler.settings import get_settings

if TYPE_CHECKING:
    from post_scheduler.adapters.table import SchedulingTable
    from post_scheduler.adapters.tiktok_client import TikTokClient
    from post_scheduler.adapters.token_cipher import TokenCipher
    from post_scheduler.domain.accounts import AccountService
    from post_scheduler.domain.api_keys import ApiKeyService
    from post_scheduler.domain.videos import VideoService


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def video_service(bucket: str | None = None) -> VideoService:
    """Videos in `bucket` (default: the deployment's video bucket)."""
    return _video_service(wiring.scheduling_table(), bucket or get_settings().video_bucket)


@lru_cache(maxsize=4)
def _video_service(table: SchedulingTable, bucket: str) -> VideoService:
    from post_scheduler.adapters.video_store import VideoStore
    from post_scheduler.domain.videos import MIB, UploadRules, VideoService

    rules = UploadRules(
        multipart_threshold_bytes=_int("VIDEO_MULTIPART_THRESHOLD_BYTES", 100 * MIB),
        part_size_bytes=_int("VIDEO_PART_SIZE_BYTES", 64 * MIB),
        url_seconds=_int("VIDEO_UPLOAD_URL_SECONDS", 3600),
    )
    return VideoService(table, VideoStore(bucket), rules)


def account_service() -> AccountService:
    return _account_service(wiring.scheduling_table())


@lru_cache(maxsize=1)
def _account_service(table: SchedulingTable) -> AccountService:
    from post_scheduler.domain.accounts import AccountService, OAuthSettings

    settings = get_settings()
    oauth = OAuthSettings(
        authorize_url=settings.tiktok_auth_url,
        redirect_uri=os.environ.get("TIKTOK_REDIRECT_URI", "").strip(),
        use_pkce=os.environ.get("TIKTOK_USE_PKCE", "").strip().lower() == "true",
    )

    @lru_cache(maxsize=1)
    def tiktok() -> TikTokClient:
        from post_scheduler.adapters.tiktok_client import TikTokClient

        return TikTokClient(settings.tiktok_api_base_url)

    @lru_cache(maxsize=1)
    def cipher() -> TokenCipher:
        from post_scheduler.adapters.token_cipher import TokenCipher

        return TokenCipher(settings.token_kms_key_id)

    return AccountService(
        table,
        settings=oauth,
        credentials=wiring.tiktok_app_credentials,
        tiktok=tiktok,
        cipher=cipher,
        schedules=wiring.schedule_service,
    )


def api_key_service() -> ApiKeyService:
    from post_scheduler.domain.api_keys import ApiKeyService

    return ApiKeyService(wiring.scheduling_table())
