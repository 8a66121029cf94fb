"""Builds use cases and adapters from the settings: the one place they are wired together.
Everything is created once per process and reused by warm invocations."""

from __future__ import annotations

import importlib
import os
import random
import sys
from functools import cache
from typing import TYPE_CHECKING

from post_scheduler.settings import FunctionSettings, get_settings
from post_scheduler.settings import check_settings as _check_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from post_scheduler.adapters.delivery_queue import DeliveryQueue
    from post_scheduler.adapters.give_up_queue import GiveUpQueue
    from post_scheduler.adapters.page_seal import TokenSealer
    from post_scheduler.adapters.publication_store import PublicationStore
    from post_scheduler.adapters.scheduler import PublishScheduler
    from post_scheduler.adapters.table import SchedulingTable
    from post_scheduler.adapters.tiktok_client import TikTokClient
    from post_scheduler.adapters.token_cipher import TokenCipher
    from post_scheduler.adapters.webhook_sender import UrlGuard
    from post_scheduler.adapters.webhook_store import WebhookStore
    from post_scheduler.auth.authorizer import Authorizer
    from post_scheduler.domain.accounts import AccountService
    from post_scheduler.domain.api_keys import ApiKeyService
    from post_scheduler.domain.preflight import CreatorInfoReader
    from post_scheduler.domain.publishing import PostPublisher
    from post_scheduler.domain.schedules import ScheduleService
    from post_scheduler.domain.tiktok import TikTokAppCredentials
    from post_scheduler.domain.videos import VideoService
    from post_scheduler.domain.webhooks import WebhookDeliverer, WebhookEvents, WebhookService


def check_settings(function: str) -> FunctionSettings:
    """A handler's cold-start check: its variables (the error names each one at fault), and
    under SnapStart the hook that re-initialises what a restore must not share."""
    checked = _check_settings(function)
    prime_for_snapshot()
    return checked


# AWS_LAMBDA_INITIALIZATION_TYPE while Lambda initialises a version for its SnapStart snapshot.
SNAPSTART_INIT = "snap-start"


def prime_for_snapshot(*modules: str) -> None:
    """Under SnapStart, where the init runs once and every environment resumes from its
    snapshot: import `modules` now (what a handler otherwise imports at its first call), so the
    snapshot holds them, and register `after_restore`. Elsewhere: nothing."""
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") != SNAPSTART_INIT:
        return
    _register_restore_hook()
    for name in modules:
        importlib.import_module(name)


@cache
def _register_restore_hook() -> bool:
    try:
        # Part of Lambda's Python runtimes (snapshot-restore-py); not a dependency of the layer.
        from snapshot_restore_py import register_after_restore  # type: ignore[import-not-found]
    except ImportError:
        return False
    register_after_restore(after_restore)
    return True


def after_restore() -> None:
    """Run in each environment resumed from a snapshot, which all start from the same memory:
    `random` (the retries' jitter) gets its own seed, or every environment would back off in
    step; and whatever was built before the snapshot is forgotten (clients and their pooled
    connections, cached parameters and data keys), though the wiring builds nothing during
    init. The `secrets` and `uuid` modules read the OS's entropy at each call and need nothing."""
    random.seed()
    for factory in _FACTORIES:
        factory.cache_clear()
    aws = sys.modules.get("post_scheduler.adapters.aws")
    if aws is not None:
        aws.aws_client.cache_clear()
    parameters = sys.modules.get("aws_lambda_powertools.utilities.parameters")
    if parameters is not None:
        parameters.clear_caches()


@cache
def scheduling_table() -> SchedulingTable:
    from post_scheduler.adapters.table import SchedulingTable

    return SchedulingTable(get_settings().table_name)


@cache
def page_token_sealer() -> TokenSealer:
    """Seals page tokens with the deployment's data key of its page-token KMS key."""
    from post_scheduler.adapters.page_seal import KmsKeyRing, TokenSealer

    settings = get_settings()
    if not settings.page_token_kms_key_id or not settings.page_token_key_parameter:
        raise RuntimeError(
            "PAGE_TOKEN_KMS_KEY_ID and PAGE_TOKEN_KEY_PARAMETER must be set to seal list pages"
        )
    return TokenSealer(
        KmsKeyRing(settings.page_token_kms_key_id, settings.page_token_key_parameter)
    )


@cache
def publish_scheduler() -> PublishScheduler:
    from post_scheduler.adapters.scheduler import PublishScheduler, PublishTarget

    settings = get_settings()
    return PublishScheduler(
        settings.schedule_group,
        PublishTarget(
            target_arn=settings.publish_target_arn,
            role_arn=settings.scheduler_role_arn,
            dead_letter_arn=settings.scheduler_dlq_arn,
            max_retry_attempts=settings.publisher_max_retry_attempts,
            max_event_age_seconds=settings.publisher_max_event_age_seconds,
        ),
    )


@cache
def schedule_service() -> ScheduleService:
    from post_scheduler.domain.schedules import ScheduleService, TimeRules

    settings = get_settings()
    return ScheduleService(
        scheduling_table(),
        publish_scheduler(),
        TimeRules(settings.min_schedule_lead_seconds, settings.max_schedule_horizon_days),
        creator_info=_creator_info_reader(),
    )


def _creator_info_reader() -> CreatorInfoReader:
    from post_scheduler.domain.preflight import CreatorInfoReader
    from post_scheduler.timestamps import utc_now

    return CreatorInfoReader(_impatient_tiktok_client, token_cipher, scheduling_table(), utc_now)


@cache
def _impatient_tiktok_client() -> TikTokClient:
    from post_scheduler.adapters.tiktok_client import TikTokClient

    # Short: a create waits for this call, and goes on without it when TikTok is slow.
    return TikTokClient(get_settings().tiktok_api_base_url, timeout=(2.0, 3.0))


@cache
def idempotency_store() -> DynamoDBPersistenceLayer:
    """Powertools' idempotency records, in their own table (its own TTL attribute)."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from post_scheduler.adapters.aws import aws_client

    return DynamoDBPersistenceLayer(
        get_settings().idempotency_table, boto3_client=aws_client("dynamodb")
    )


@cache
def authorizer() -> Authorizer:
    from post_scheduler.auth.authorizer import Authorizer
    from post_scheduler.auth.jwt_verifier import JwtVerifier

    settings = get_settings()
    secret_parameter = settings.jwt_secret_parameter

    def hs256_secret() -> str | None:
        from aws_lambda_powertools.utilities import parameters

        value = parameters.get_parameter(secret_parameter, decrypt=True, max_age=300)
        return str(value) if value else None

    verifier = JwtVerifier(
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        hs256_secret=hs256_secret if secret_parameter else None,
        jwks_url=settings.jwt_jwks_url or None,
    )
    return Authorizer(
        scheduling_table(), verifier, remember_seconds=settings.authorizer_cache_seconds
    )


@cache
def video_service(bucket: str | None = None) -> VideoService:
    """Videos in `bucket` (default: the deployment's video bucket)."""
    from post_scheduler.adapters.video_store import VideoStore
    from post_scheduler.domain.videos import UploadRules, VideoService

    settings = get_settings()
    rules = UploadRules(
        multipart_threshold_bytes=settings.video_multipart_threshold_bytes,
        part_size_bytes=settings.video_part_size_bytes,
        url_seconds=settings.video_upload_url_seconds,
    )
    return VideoService(scheduling_table(), VideoStore(bucket or settings.video_bucket), rules)


@cache
def account_service() -> AccountService:
    from post_scheduler.domain.accounts import AccountService, OAuthSettings

    settings = get_settings()
    oauth = OAuthSettings(
        authorize_url=settings.tiktok_auth_url,
        redirect_uri=settings.tiktok_redirect_uri,
        use_pkce=settings.tiktok_use_pkce,
    )
    return AccountService(
        scheduling_table(),
        settings=oauth,
        credentials=tiktok_app_credentials,
        tiktok=tiktok_client,
        cipher=token_cipher,
        schedules=schedule_service,
    )


@cache
def api_key_service() -> ApiKeyService:
    from post_scheduler.domain.api_keys import ApiKeyService

    def forget(key_hash: str) -> None:
        if authorizer.cache_info().currsize:  # only where an authorizer already runs
            authorizer().forget(key_hash)

    return ApiKeyService(scheduling_table(), on_revoked=forget)


@cache
def tiktok_client() -> TikTokClient:
    from post_scheduler.adapters.tiktok_client import TikTokClient

    return TikTokClient(get_settings().tiktok_api_base_url)


@cache
def token_cipher() -> TokenCipher:
    from post_scheduler.adapters.token_cipher import TokenCipher

    return TokenCipher(get_settings().token_kms_key_id)


@cache
def publication_store() -> PublicationStore:
    from post_scheduler.adapters.publication_store import PublicationStore

    return PublicationStore(scheduling_table())


@cache
def give_up_queue() -> GiveUpQueue:
    from post_scheduler.adapters.give_up_queue import GiveUpQueue

    return GiveUpQueue(get_settings().publisher_failure_queue_url)


@cache
def post_publisher() -> PostPublisher:
    from post_scheduler.adapters.video_store import VideoStore
    from post_scheduler.domain.publishing import PostPublisher

    return PostPublisher(
        store=publication_store(),
        videos=VideoStore(get_settings().video_bucket),
        tiktok=tiktok_client(),
        cipher=token_cipher(),
        credentials=tiktok_app_credentials,
    )


def _url_guard() -> UrlGuard:
    from post_scheduler.adapters.webhook_sender import UrlGuard

    return UrlGuard(allow_loopback_http=get_settings().webhook_allow_loopback_http)


def _webhook_store() -> WebhookStore:
    from post_scheduler.adapters.webhook_store import WebhookStore

    return WebhookStore(scheduling_table())


@cache
def webhook_service() -> WebhookService:
    from post_scheduler.domain.webhooks import WebhookService

    return WebhookService(_webhook_store(), token_cipher(), _url_guard())


@cache
def webhook_events() -> WebhookEvents:
    from post_scheduler.domain.webhooks import WebhookEvents

    return WebhookEvents(scheduling_table(), _webhook_store(), delivery_queue())


@cache
def webhook_deliverer() -> WebhookDeliverer:
    from post_scheduler.adapters.webhook_sender import send
    from post_scheduler.domain.webhooks import WebhookDeliverer

    settings = get_settings()
    return WebhookDeliverer(
        _webhook_store(),
        token_cipher(),
        _url_guard(),
        send,
        delays=settings.webhook_retry_delays,
        timeout_seconds=settings.webhook_timeout_seconds,
    )


@cache
def delivery_queue() -> DeliveryQueue:
    from post_scheduler.adapters.delivery_queue import DeliveryQueue

    return DeliveryQueue(get_settings().webhook_queue_url)


def tiktok_app_credentials() -> TikTokAppCredentials:
    """From the SSM SecureString named by TIKTOK_CLIENT_PARAMETER, holding
    `{"clientKey": ..., "clientSecret": ...}`; cached for five minutes so a rotation lands."""
    import json

    from aws_lambda_powertools.utilities import parameters

    from post_scheduler.domain.tiktok import TikTokAppCredentials

    name = get_settings().tiktok_client_parameter
    if not name:
        raise RuntimeError("TIKTOK_CLIENT_PARAMETER is not set")
    raw = parameters.get_parameter(name, decrypt=True, max_age=300)
    value = json.loads(str(raw))
    return TikTokAppCredentials(value["clientKey"], value["clientSecret"])


# Everything the wiring builds once per process.
_FACTORIES = (
    scheduling_table,
    page_token_sealer,
    publish_scheduler,
    schedule_service,
    idempotency_store,
    authorizer,
    publication_store,
    give_up_queue,
    post_publisher,
    video_service,
    account_service,
    api_key_service,
    tiktok_client,
    _impatient_tiktok_client,
    token_cipher,
    webhook_service,
    webhook_events,
    webhook_deliverer,
    delivery_queue,
)


def reset() -> None:
    """Forget everything built so far (tests change settings and AWS mocks between cases)."""
    from post_scheduler.adapters.aws import aws_client

    for factory in _FACTORIES:
        factory.cache_clear()
    aws_client.cache_clear()
    get_settings.cache_clear()
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()  # type: ignore[no-untyped-call]
