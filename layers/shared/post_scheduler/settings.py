"""Deployment settings, read once from the environment the template (or the local stack) sets.

Each function checks its own variables at cold start (`check_settings`, against its small
model in `FUNCTION_SETTINGS`), so a misconfigured function fails at start-up naming the
variable, not at its first request. `get_settings` then reads them all for the wiring."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

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


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


# A variable the function cannot work without: set and not blank.
Required = Annotated[str, Field(min_length=1), BeforeValidator(lambda v: v.strip())]
# A whole number that may be left unset (the default applies) but, when set, must parse.
OptionalCount = Annotated[int | None, BeforeValidator(_blank_is_none), Field(ge=0)]


class FunctionSettings(BaseModel):
    """What every function has (the template's Globals)."""

    # A function validates only its own model: the others' schemas are never built.
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    table_name: Required = Field("post-scheduler", alias="TABLE_NAME")
    idempotency_table: Required = Field("post-scheduler-idempotency", alias="IDEMPOTENCY_TABLE")
    min_schedule_lead_seconds: OptionalCount = Field(None, alias="MIN_SCHEDULE_LEAD_SECONDS")
    max_schedule_horizon_days: OptionalCount = Field(None, alias="MAX_SCHEDULE_HORIZON_DAYS")


class AuthorizerSettings(FunctionSettings):
    authorizer_cache_seconds: OptionalCount = Field(None, alias="AUTHORIZER_CACHE_SECONDS")


class ScheduleWriterSettings(FunctionSettings):
    """Functions that create, move or delete a post's one-time schedule."""

    publish_target_arn: Required = Field(alias="PUBLISH_QUEUE_ARN")
    scheduler_role_arn: Required = Field(alias="SCHEDULER_ROLE_ARN")
    scheduler_dlq_arn: Required = Field(alias="SCHEDULER_DLQ_ARN")


class VideoSettings(FunctionSettings):
    video_bucket: Required = Field(alias="VIDEO_BUCKET")
    video_multipart_threshold_bytes: OptionalCount = Field(
        None, alias="VIDEO_MULTIPART_THRESHOLD_BYTES"
    )
    video_part_size_bytes: OptionalCount = Field(None, alias="VIDEO_PART_SIZE_BYTES")
    video_upload_url_seconds: OptionalCount = Field(None, alias="VIDEO_UPLOAD_URL_SECONDS")


class ConnectSettings(FunctionSettings):
    tiktok_client_parameter: Required = Field(alias="TIKTOK_CLIENT_PARAMETER")


class TikTokTokenSettings(ConnectSettings):
    """Functions that hold an account's TikTok tokens (encrypted with the token key)."""

    token_kms_key_id: Required = Field(alias="TOKEN_KMS_KEY_ID")


class PublisherSettings(TikTokTokenSettings):
    video_bucket: Required = Field(alias="VIDEO_BUCKET")
    publish_queue_url: Required = Field(alias="PUBLISH_QUEUE_URL")
    publish_retry_delay_seconds: OptionalCount = Field(None, alias="PUBLISH_RETRY_DELAY_SECONDS")


class SweepSettings(ScheduleWriterSettings):
    publisher_failure_queue_url: Required = Field(alias="PUBLISHER_FAILURE_QUEUE_URL")


class WebhookSecretSettings(FunctionSettings):
    token_kms_key_id: Required = Field(alias="TOKEN_KMS_KEY_ID")


class WebhookEventsSettings(FunctionSettings):
    webhook_queue_url: Required = Field(alias="WEBHOOK_QUEUE_URL")


class WebhookDeliverySettings(WebhookEventsSettings):
    token_kms_key_id: Required = Field(alias="TOKEN_KMS_KEY_ID")


# Each function (by its folder under functions/) and the settings it must have to start.
FUNCTION_SETTINGS: dict[str, type[FunctionSettings]] = {
    "authorizer": AuthorizerSettings,
    "create_schedule": ScheduleWriterSettings,
    "update_schedule": ScheduleWriterSettings,
    "retry_schedule": ScheduleWriterSettings,
    "delete_schedule": ScheduleWriterSettings,
    "list_scheduled_videos": FunctionSettings,
    "get_schedule": FunctionSettings,
    "schedule_quota": FunctionSettings,
    "upcoming": FunctionSettings,
    "list_videos": FunctionSettings,
    "list_tiktok_accounts": FunctionSettings,
    "create_video": VideoSettings,
    "get_video": VideoSettings,
    "complete_video_upload": VideoSettings,
    "delete_video": VideoSettings,
    "video_uploaded": FunctionSettings,
    "connect_tiktok_account": ConnectSettings,
    "tiktok_account_callback": FunctionSettings,
    "complete_tiktok_connect": TikTokTokenSettings,
    "delete_tiktok_account": FunctionSettings,
    "create_api_key": FunctionSettings,
    "list_api_keys": FunctionSettings,
    "delete_api_key": FunctionSettings,
    "publisher": PublisherSettings,
    "publish_failures": TikTokTokenSettings,
    "sweep": SweepSettings,
    "create_webhook": WebhookSecretSettings,
    "list_webhooks": FunctionSettings,
    "delete_webhook": FunctionSettings,
    "list_webhook_deliveries": FunctionSettings,
    "webhook_events": WebhookEventsSettings,
    "webhook_delivery": WebhookDeliverySettings,
}


class SettingsError(RuntimeError):
    """A function's environment lacks a variable it needs, or holds one that does not parse."""


def check_settings(function: str) -> FunctionSettings:
    """Validate `function`'s variables (at cold start); the error names each one at fault."""
    model = FUNCTION_SETTINGS[function]
    try:
        return model.model_validate(dict(os.environ))
    except ValidationError as error:
        problems = []
        for issue in error.errors():
            variable = str(issue["loc"][0]) if issue["loc"] else "?"
            if issue["type"] == "missing" or (
                issue["type"] == "string_too_short" and not os.environ.get(variable, "").strip()
            ):
                problems.append(f"{variable} is not set")
            else:
                problems.append(f"{variable} is invalid ({issue['msg']})")
        raise SettingsError(f"{function}: " + "; ".join(problems)) from None


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
