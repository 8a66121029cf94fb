"""The TikTok client against the stand-in TikTok over real sockets: the publishing flow, token
rotation, and how every kind of failure surfaces."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from local.tiktok import TikTokStub
from post_scheduler.adapters.tiktok_client import (
    ChunkLengthError,
    PublishStatus,
    TikTokAuthError,
    TikTokClient,
    TikTokError,
    TikTokPermanentError,
    TikTokTransientError,
    TikTokUploadExpired,
    TikTokUploadRangeError,
    plan_chunks,
)

if TYPE_CHECKING:
    from tests.tiktok_fixtures import StubCreator

MIB = 1024 * 1024
REDIRECT_URI = "https://scheduler.example/oauth/tiktok/callback"
PUBLIC_POST = {"title": "Launch day #news", "privacy_level": "PUBLIC_TO_EVERYONE"}


@pytest.fixture(scope="module")
def video() -> bytes:
    """12 MiB of varied bytes, built once."""
    return hashlib.sha256(b"seed").digest() * (12 * MIB // 32)


@pytest.fixture
def client(tiktok_stub: TikTokStub) -> Iterator[TikTokClient]:
    with TikTokClient(tiktok_stub.base_url, timeout=(2, 5)) as tiktok:
        yield tiktok


def parts(data: bytes, first: int, last: int, size: int = MIB) -> Iterator[bytes]:
    """Bytes first..last in pieces, as a ranged S3 read would yield them."""
    for start in range(first, last + 1, size):
        yield data[start : min(start + size, last + 1)]


def upload(client: TikTokClient, url: str, data: bytes, chunk_size: int) -> list[Any]:
    plan = plan_chunks(len(data), chunk_size)
    return [
        client.upload_chunk(url, parts(data, first, last), first, last, len(data))
        for first, last in plan.ranges()
    ]


# --- the publishing flow ----------------------------------------------------------------------


def test_small_video_single_put(
    tiktok_stub: TikTokStub, client: TikTokClient, tiktok_creator: StubCreator
) -> None:
    data = b"tiny video" * 1000
    creator = client.creator_info(tiktok_creator.access_token)
    assert "PUBLIC_TO_EVERYONE" in creator.privacy_level_options
    plan = plan_chunks(len(data))
    assert plan.total_chunk_count == 1
    init = client.init_direct_post(tiktok_creator.access_token, PUBLIC_POST, plan)
    assert init.publish_id.startswith("v_pub_file~")
    (progress,) = upload(client, init.upload_url, data, plan.chunk_size)
    assert progress.complete
    assert progress.received_through == len(data) - 1
    status = client.fetch_status(tiktok_creator.access_token, init.publish_id)
    assert status.published
    assert status.terminal
    assert status.uploaded_bytes == len(data)
    (post_id,) = status.public_post_ids
    assert isinstance(post_id, str)
    assert int(post_id) > 2**53
    (received,) = tiktok_stub.posts()
    assert received["sha256"] == hashlib.sha256(data).hexdigest()
    assert received["title"] == "Launch day #news"
    assert received["authorization_header_on_put"] is False


def test_multi_chunk_video_streams_in_order(
    tiktok_stub: TikTokStub, client: TikTokClient, tiktok_creator: StubCreator, video: bytes
) -> None:
    tiktok_stub.set_processing_fetches(1)
    plan = plan_chunks(len(video), 5 * MIB)
    assert (plan.chunk_size, plan.total_chunk_count) == (5 * MIB, 2)
    init = client.init_direct_post(tiktok_creator.access_token, PUBLIC_POST, plan)
    progress = upload(client, init.upload_url, video, 5 * MIB)
    assert [(p.complete, p.received_through) for p in progress] == [
        (False, 5 * MIB - 1),
        (True, len(video) - 1),
    ]
    processing = client.fetch_status(tiktok_creator.access_token, init.publish_id)
    assert processing.status == "PROCESSING_UPLOAD"
    assert not processing.terminal
    assert client.fetch_status(tiktok_creator.access_token, init.publish_id).published
    (received,) = tiktok_stub.posts()
    assert received["sha256"] == hashlib.sha256(video).hexdigest()
    assert received["bytes_received"] == len(video)
    assert received["content_types"] == ["video/mp4"]


def test_bytes_like_chunks(
    tiktok_stub: TikTokStub, client: TikTokClient, tiktok_creator: StubCreator
) -> None:
    data = bytearray(b"z" * 3000)
    init = client.init_direct_post(tiktok_creator.access_token, PUBLIC_POST, plan_chunks(len(data)))
    progress = client.upload_chunk(
        init.upload_url, memoryview(data), 0, len(data) - 1, len(data), "video/webm"
    )
    assert progress.complete
    assert tiktok_stub.posts()[0]["sha256"] == hashlib.sha256(data).hexdigest()


def test_user_info(client: TikTokClient, tiktok_creator: StubCreator) -> None:
    user = client.user_info(tiktok_creator.access_token)
    assert user.open_id == tiktok_creator.open_id
    assert user.username == "creator.one"
    assert user.display_name == "Creator One"
    assert user.avatar_url


# --- OAuth ------------------------------------------------------------------------------------


def test_exchange_code_and_rotating_refresh(tiktok_stub: TikTokStub, client: TikTokClient) -> None:
    tiktok_stub.add_creator("oauth-user", "oauth.user", "OAuth User")
    code = tiktok_stub.authorization_code("oauth-user", REDIRECT_URI, code_verifier="x" * 64)
    key, secret = tiktok_stub.client_key, tiktok_stub.client_secret
    grant = client.exchange_code(key, secret, code, REDIRECT_URI, code_verifier="x" * 64)
    assert grant.open_id == "oauth-user"
    assert {"video.publish", "user.info.basic"} <= grant.scopes
    assert grant.access_token not in repr(grant)
    assert grant.refresh_token not in repr(grant)

    with pytest.raises(TikTokPermanentError) as reused:
        client.exchange_code(key, secret, code, REDIRECT_URI, code_verifier="x" * 64)
    assert reused.value.code == "invalid_grant"
    assert reused.value.log_id

    rotated = client.refresh_access_token(key, secret, grant.refresh_token)
    assert rotated.refresh_token != grant.refresh_token
    assert client.creator_info(rotated.access_token).creator_username == "oauth.user"
    with pytest.raises(TikTokPermanentError) as stale:
        client.refresh_access_token(key, secret, grant.refresh_token)
    assert stale.value.code == "invalid_grant"
    assert not stale.value.retryable
    assert client.refresh_access_token(key, secret, rotated.refresh_token).open_id == "oauth-user"


def test_expired_access_token_then_refresh(
    tiktok_stub: TikTokStub, client: TikTokClient, tiktok_creator: StubCreator
) -> None:
    tiktok_stub.advance(86401)
    with pytest.raises(TikTokAuthError) as expired:
        client.creator_info(tiktok_creator.access_token)
    assert expired.value.code == "access_token_invalid"
    assert expired.value.http_status == 401
    grant = client.refresh_access_token(
        tiktok_stub.client_key, tiktok_stub.client_secret, tiktok_creator.refresh_token
    )
    assert client.creator_info(grant.access_token).creator_nickname == "Creator One"


def test_wrong_client_secret(tiktok_stub: TikTokStub, client: TikTokClient) -> None:
    with pytest.raises(TikTokPermanentError) as refused:
        client.refresh_access_token(tiktok_stub.client_key, "wrong", "rft.nothing")
    assert refused.value.code == "invalid_client"


# --- error mapping ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "status", "code", "expected"),
    [
        ("video_init", 500, "internal_error", TikTokTransientError),
        ("video_init", 502, "bad_gateway_of_some_kind", TikTokTransientError),
        ("video_init", 429, "rate_limit_exceeded", TikTokTransientError),
        ("video_init", 401, "access_token_invalid", TikTokAuthError),
        ("video_init", 401, "scope_not_authorized", TikTokPermanentError),
        ("video_init", 403, "spam_risk_too_many_posts", TikTokPermanentError),
        ("video_init", 403, "spam_risk_user_banned_from_posting", TikTokPermanentError),
        ("video_init", 403, "reached_active_user_cap", TikTokPermanentError),
        (
            "video_init",
            403,
            "unaudited_client_can_only_post_to_private_accounts",
            TikTokPermanentError,
        ),
        ("video_init", 403, "url_ownership_unverified", TikTokPermanentError),
        ("video_init", 400, "invalid_param", TikTokPermanentError),
        ("video_init", 400, "invalid_params", TikTokPermanentError),
        ("video_init", 418, "something_new", TikTokPermanentError),
        ("creator_info", 200, "spam_risk_too_many_posts", TikTokPermanentError),
        ("creator_info", 200, "reached_active_user_cap", TikTokPermanentError),
        ("creator_info", 200, "internal_error", TikTokTransientError),
        ("status_fetch", 500, "internal_error", TikTokTransientError),
        ("status_fetch", 429, "rate_limit_exceeded", TikTokTransientError),
        ("user_info", 503, "internal_error", TikTokTransientError),
        ("oauth_token", 400, "invalid_grant", TikTokPermanentError),
        ("oauth_token", 500, "server_error", TikTokTransientError),
        ("oauth_token", 200, "invalid_request", TikTokPermanentError),
    ],
)
def test_error_codes_map_to_error_classes(
    tiktok_stub: TikTokStub,
    client: TikTokClient,
    tiktok_creator: StubCreator,
    endpoint: str,
    status: int,
    code: str,
    expected: type[TikTokError],
) -> None:
    token = tiktok_creator.access_token
    calls: dict[str, Callable[[], object]] = {
        "video_init": lambda: client.init_direct_post(token, PUBLIC_POST, plan_chunks(100)),
        "creator_info": lambda: client.creator_info(token),
        "status_fetch": lambda: client.fetch_status(token, "v_pub_file~any"),
        "user_info": lambda: client.user_info(token),
        "oauth_token": lambda: client.refresh_access_token(
            tiktok_stub.client_key, tiktok_stub.client_secret, tiktok_creator.refresh_token
        ),
    }
    tiktok_stub.fail_next(endpoint, status, code, "injected for the test")
    with pytest.raises(TikTokError) as raised:
        calls[endpoint]()
    assert type(raised.value) is expected
    assert raised.value.code == code
    assert raised.value.http_status == status
    assert raised.value.message == "injected for the test"
    assert raised.value.retryable is (expected is TikTokTransientError)
    if endpoint != "status_fetch":  # (no such publish: that call cannot succeed)
        calls[endpoint]()  # the fault was used up: the same call now works


def test_real_refusals_are_permanent(
    tiktok_stub: TikTokStub, client: TikTokClient, tiktok_creator: StubCreator
) -> None:
    token = tiktok_creator.access_token
    with pytest.raises(TikTokPermanentError) as privacy:
        client.init_direct_post(token, {"privacy_level": "FOLLOWER_OF_CREATOR"}, plan_chunks(10))
    assert privacy.value.code == "privacy_level_option_mismatch"
    assert privacy.value.http_status == 403
    long_title = {**PUBLIC_POST, "title": "x" * 2201}
    with pytest.raises(TikTokPermanentError) as title:
        client.init_direct_post(token, long_title, plan_chunks(10))
    assert title.value.code == "invalid_param"
    with pytest.raises(TikTokPermanentError) as unknown:
        client.fetch_status(token, "v_pub_file~unknown")
    assert unknown.value.code == "invalid_publish_id"
    narrow = tiktok_stub.issue_tokens(tiktok_creator.open_id, scope="user.info.basic")
    with pytest.raises(TikTokPermanentError) as scope:
        client.creator_info(narrow["access_token"])
    assert scope.value.code == "scope_not_authorized"


def test_dropped_connection_is_a_transient_network_error(
    tiktok_stub: TikTokStub, client: TikTokClient, tiktok_creator: StubCreator
) -> None:
    tiktok_stub.drop_next("video_init", after_processing=True)
    with pytest.raises(TikTokTransientError) as dropped:
        client.init_direct_post(tiktok_creator.access_token, PUBLIC_POST, plan_chunks(100))
    assert dropped.value.code == "network_error"
    assert dropped.value.http_status is None
    # The post exists although the client never heard of it: why callers must not re-init.
    assert len(tiktok_stub.posts()) == 1


def test_timeout_is_a_transient_network_error(
    tiktok_stub: TikTokStub, tiktok_creator: StubCreator
) -> None:
    tiktok_stub.delay_next("creator_info", 0.3)
    impatient = TikTokClient(tiktok_stub.base_url, timeout=(1, 0.05))
    with impatient, pytest.raises(TikTokTransientError) as slow:
        impatient.creator_info(tiktok_creator.access_token)
    assert slow.value.code == "network_error"
    assert "Timeout" in slow.value.message


def test_unreachable_server_is_a_transient_network_error() -> None:
    stub = TikTokStub().start()
    base_url = stub.base_url
    stub.stop()
    client = TikTokClient(base_url, timeout=(0.5, 0.5))
    with client, pytest.raises(TikTokTransientError) as refused:
        client.creator_info("act.any")
    assert refused.value.code == "network_error"


# --- upload failures and resuming -------------------------------------------------------------


def start(client: TikTokClient, token: str, data: bytes, chunk_size: int) -> Any:
    return client.init_direct_post(token, PUBLIC_POST, plan_chunks(len(data), chunk_size))


def test_out_of_order_chunk_raises_range_error_and_resume_works(
    tiktok_stub: TikTokStub, client: TikTokClient, tiktok_creator: StubCreator, video: bytes
) -> None:
    size = len(video)
    init = start(client, tiktok_creator.access_token, video, 5 * MIB)
    with pytest.raises(TikTokUploadRangeError) as skipped:
        client.upload_chunk(init.upload_url, video[5 * MIB :], 5 * MIB, size - 1, size)
    assert skipped.value.received_through is None
    assert skipped.value.http_status == 416
    assert skipped.value.retryable
    client.upload_chunk(init.upload_url, video[: 5 * MIB], 0, 5 * MIB - 1, size)
    with pytest.raises(TikTokUploadRangeError) as repeated:
        client.upload_chunk(init.upload_url, video[: 5 * MIB], 0, 5 * MIB - 1, size)
    assert repeated.value.received_through == 5 * MIB - 1
    plan = plan_chunks(size, 5 * MIB)
    for first, last in plan.ranges(repeated.value.received_through + 1):
        progress = client.upload_chunk(
            init.upload_url, parts(video, first, last), first, last, size
        )
    assert progress.complete
    assert tiktok_stub.posts()[0]["sha256"] == hashlib.sha256(video).hexdigest()


def test_chunk_5xx_is_transient_and_the_same_chunk_retries(
    tiktok_stub: TikTokStub, client: TikTokClient, tiktok_creator: StubCreator, video: bytes
) -> None:
    size = len(video)
    init = start(client, tiktok_creator.access_token, video, 5 * MIB)
    tiktok_stub.fail_chunk(1, 503)
    client.upload_chunk(init.upload_url, video[: 5 * MIB], 0, 5 * MIB - 1, size)
    with pytest.raises(TikTokTransientError) as failed:
        client.upload_chunk(init.upload_url, video[5 * MIB :], 5 * MIB, size - 1, size)
    assert failed.value.http_status == 503
    progress = client.upload_chunk(init.upload_url, video[5 * MIB :], 5 * MIB, size - 1, size)
    assert progress.complete
    assert tiktok_stub.posts()[0]["sha256"] == hashlib.sha256(video).hexdigest()


def test_lost_chunk_reply_resumes_from_the_servers_progress(
    tiktok_stub: TikTokStub, client: TikTokClient, tiktok_creator: StubCreator, video: bytes
) -> None:
    size = len(video)
    init = start(client, tiktok_creator.access_token, video, 5 * MIB)
    tiktok_stub.drop_chunk(0, after_processing=True)
    with pytest.raises(TikTokTransientError) as lost:
        client.upload_chunk(init.upload_url, parts(video, 0, 5 * MIB - 1), 0, 5 * MIB - 1, size)
    assert lost.value.code == "network_error"
    with pytest.raises(TikTokUploadRangeError) as ahead:
        client.upload_chunk(init.upload_url, video[: 5 * MIB], 0, 5 * MIB - 1, size)
    assert ahead.value.received_through == 5 * MIB - 1
    assert client.upload_chunk(init.upload_url, video[5 * MIB :], 5 * MIB, size - 1, size).complete


def test_expired_upload_url(
    tiktok_stub: TikTokStub, client: TikTokClient, tiktok_creator: StubCreator
) -> None:
    init = client.init_direct_post(tiktok_creator.access_token, PUBLIC_POST, plan_chunks(100))
    tiktok_stub.advance(3600)
    with pytest.raises(TikTokUploadExpired) as expired:
        client.upload_chunk(init.upload_url, b"x" * 100, 0, 99, 100)
    assert expired.value.http_status == 403
    assert not expired.value.retryable


@pytest.mark.parametrize(
    ("mangle", "status"),
    [
        (lambda url: url.replace("upload_token=", "upload_token=bad"), 404),
        (lambda url: url, 400),  # with a content type TikTok does not take
    ],
)
def test_upload_refusals_are_permanent(
    client: TikTokClient, tiktok_creator: StubCreator, mangle: Any, status: int
) -> None:
    init = client.init_direct_post(tiktok_creator.access_token, PUBLIC_POST, plan_chunks(100))
    content_type = "video/mp4" if status == 404 else "image/gif"
    with pytest.raises(TikTokPermanentError) as refused:
        client.upload_chunk(mangle(init.upload_url), b"x" * 100, 0, 99, 100, content_type)
    assert refused.value.http_status == status


def test_chunk_source_of_the_wrong_length(
    tiktok_stub: TikTokStub, client: TikTokClient, tiktok_creator: StubCreator
) -> None:
    init = client.init_direct_post(tiktok_creator.access_token, PUBLIC_POST, plan_chunks(100))
    with pytest.raises(ChunkLengthError):
        client.upload_chunk(init.upload_url, iter([b"x" * 60]), 0, 99, 100)
    with pytest.raises(ChunkLengthError):
        client.upload_chunk(init.upload_url, iter([b"x" * 60, b"x" * 60]), 0, 99, 100)
    with pytest.raises(ChunkLengthError):
        client.upload_chunk(init.upload_url, b"x" * 99, 0, 99, 100)
    with pytest.raises(ValueError, match="bad chunk range"):
        client.upload_chunk(init.upload_url, b"", 100, 99, 100)
    assert tiktok_stub.posts()[0]["bytes_received"] == 0
    # The client recovers from the abandoned request.
    assert client.upload_chunk(init.upload_url, iter([b"x" * 100]), 0, 99, 100).complete


# --- status -----------------------------------------------------------------------------------


def test_failed_publish_is_a_status_with_a_classified_failure(
    tiktok_stub: TikTokStub, client: TikTokClient, tiktok_creator: StubCreator
) -> None:
    tiktok_stub.fail_publish(fail_reason="picture_size_check_failed")
    init = client.init_direct_post(tiktok_creator.access_token, PUBLIC_POST, plan_chunks(100))
    client.upload_chunk(init.upload_url, b"x" * 100, 0, 99, 100)
    status = client.fetch_status(tiktok_creator.access_token, init.publish_id)
    assert status.failed
    assert status.terminal
    assert status.fail_reason == "picture_size_check_failed"
    failure = status.failure()
    assert isinstance(failure, TikTokPermanentError)
    assert failure.code == "picture_size_check_failed"


def test_failure_classification() -> None:
    assert PublishStatus("PUBLISH_COMPLETE", None, 1).failure() is None
    assert isinstance(PublishStatus("FAILED", "internal", 1).failure(), TikTokTransientError)
    assert isinstance(PublishStatus("FAILED", "auth_removed", 1).failure(), TikTokPermanentError)
    assert isinstance(PublishStatus("FAILED", None, 1).failure(), TikTokPermanentError)


# --- secrecy ----------------------------------------------------------------------------------


def test_tokens_and_upload_query_stay_out_of_logs_and_errors(
    tiktok_stub: TikTokStub,
    client: TikTokClient,
    tiktok_creator: StubCreator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="post_scheduler")
    token = tiktok_creator.access_token
    init = client.init_direct_post(token, PUBLIC_POST, plan_chunks(100))
    query = init.upload_url.split("?", 1)[1]
    assert query not in repr(init)
    tiktok_stub.drop_chunk(0)
    with pytest.raises(TikTokTransientError) as dropped:
        client.upload_chunk(init.upload_url, b"x" * 100, 0, 99, 100)
    client.upload_chunk(init.upload_url, b"x" * 100, 0, 99, 100)
    client.fetch_status(token, init.publish_id)
    assert caplog.records, "the client logs its calls"
    for secret in (token, query, tiktok_creator.refresh_token):
        assert secret not in caplog.text
        assert secret not in str(dropped.value)
    assert dropped.value.__cause__ is None
    assert dropped.value.__suppress_context__
