"""Deployment settings, read once from the environment the template (or the local stack) sets."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

_MIB = 1024 * 1024


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _delays(raw: str) -> tuple[int, ...]:
    """Seconds between webhook attempts, e.g. "5,300,1800"; empty: the standard schedule."""
    if not raw.strip():
        from post_scheduler.domain.webhooks import RETRY_DELAYS_SECONDS

        return RETRY_DELAYS_SECONDS
    return tuple(int(part) for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    """Everything a function needs to know about where it runs."""

    table_name: str
    idempotency_table: str
    schedule_group: str
    # Where each post's schedule delivers: the publish queue (the publisher consumes it).
    publish_target_arn: str
    publish_queue_url: str
    publish_retry_delay_seconds: int
    scheduler_role_arn: str
    scheduler_dlq_arn: str
    publisher_failure_queue_url: str
    video_bucket: str
    min_schedule_lead_seconds: int
    max_schedule_horizon_days: int
    publisher_max_retry_attempts: int
    publisher_max_event_age_seconds: int
    jwt_issuer: str
    jwt_audience: str
    jwt_secret_parameter: str
    jwt_jwks_url: str
    authorizer_cache_seconds: int
    tiktok_api_base_url: str
    tiktok_auth_url: str
    tiktok_client_parameter: str
    token_kms_key_id: str
    page_token_kms_key_id: str
    page_token_key_parameter: str
    tiktok_redirect_uri: str
    tiktok_use_pkce: bool
    video_multipart_threshold_bytes: int
    video_part_size_bytes: int
    video_upload_url_seconds: int
    webhook_queue_url: str
    webhook_allow_loopback_http: bool
    webhook_retry_delays: tuple[int, ...]
    webhook_timeout_seconds: float


@cache
def get_settings() -> Settings:
    """Settings of this process; tests clear the cache after changing the environment."""
    env = os.environ.get
    return Settings(
        table_name=env("TABLE_NAME", "post-scheduler"),
        idempotency_table=env("IDEMPOTENCY_TABLE", "post-scheduler-idempotency"),
        schedule_group=env("SCHEDULE_GROUP", "post-scheduler"),
        publish_target_arn=env("PUBLISH_QUEUE_ARN", ""),
        publish_queue_url=env("PUBLISH_QUEUE_URL", ""),
        publish_retry_delay_seconds=_int("PUBLISH_RETRY_DELAY_SECONDS", 60),
        scheduler_role_arn=env("SCHEDULER_ROLE_ARN", ""),
        scheduler_dlq_arn=env("SCHEDULER_DLQ_ARN", ""),
        publisher_failure_queue_url=env("PUBLISHER_FAILURE_QUEUE_URL", ""),
        video_bucket=env("VIDEO_BUCKET", ""),
        min_schedule_lead_seconds=_int("MIN_SCHEDULE_LEAD_SECONDS", 900),
        max_schedule_horizon_days=_int("MAX_SCHEDULE_HORIZON_DAYS", 365),
        publisher_max_retry_attempts=_int("PUBLISHER_MAX_RETRY_ATTEMPTS", 10),
        publisher_max_event_age_seconds=_int("PUBLISHER_MAX_EVENT_AGE_SECONDS", 3600),
        jwt_issuer=env("JWT_ISSUER", ""),
        jwt_audience=env("JWT_AUDIENCE", ""),
        jwt_secret_parameter=env("JWT_SECRET_PARAMETER", ""),
        jwt_jwks_url=env("JWT_JWKS_URL", ""),
        # Capped at 10: a revoked key must stop working within 10 seconds.
        authorizer_cache_seconds=max(0, min(10, _int("AUTHORIZER_CACHE_SECONDS", 5))),
        tiktok_api_base_url=env("TIKTOK_API_BASE_URL", "https://open.tiktokapis.com"),
        tiktok_auth_url=env("TIKTOK_AUTH_URL", "https://www.tiktok.com/v2/auth/authorize/"),
        tiktok_client_parameter=env("TIKTOK_CLIENT_PARAMETER", ""),
        token_kms_key_id=env("TOKEN_KMS_KEY_ID", ""),
        page_token_kms_key_id=env("PAGE_TOKEN_KMS_KEY_ID", ""),
        page_token_key_parameter=env("PAGE_TOKEN_KEY_PARAMETER", ""),
        # Empty: the connect function uses the API's default address (never request headers).
        tiktok_redirect_uri=env("TIKTOK_REDIRECT_URI", "").strip(),
        tiktok_use_pkce=env("TIKTOK_USE_PKCE", "").strip().lower() == "true",
        video_multipart_threshold_bytes=_int("VIDEO_MULTIPART_THRESHOLD_BYTES", 100 * _MIB),
        video_part_size_bytes=_int("VIDEO_PART_SIZE_BYTES", 64 * _MIB),
        video_upload_url_seconds=_int("VIDEO_UPLOAD_URL_SECONDS", 3600),
        webhook_queue_url=env("WEBHOOK_QUEUE_URL", ""),
        # Only the local stack sets these two: receivers on loopback, retries within seconds.
        webhook_allow_loopback_http=env("WEBHOOK_ALLOW_LOOPBACK_HTTP", "").strip().lower()
        == "true",
        webhook_retry_delays=_delays(env("WEBHOOK_RETRY_DELAYS", "")),
        webhook_timeout_seconds=float(env("WEBHOOK_TIMEOUT_SECONDS", "") or 10),
    )
