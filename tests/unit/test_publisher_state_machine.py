"""The publisher's state machine over the in-memory fakes: claim, checkpoint, upload, confirm,
end; duplicate deliveries, crashes and retries, TikTok's error kinds, token refresh. Each post
is published at most once and never silently dropped."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from post_scheduler.domain.errors import (
    TikTokAuthError,
    TikTokPermanentError,
    TikTokTransientError,
)
from post_scheduler.domain.ports import (
    ChunkReaderPort,
    PublicationStorePort,
    TikTokPort,
    TokenCipherPort,
    VideoFilesPort,
)
from post_scheduler.domain.publishing import PublishMetrics, RetryLater
from tests.fakes import (
    FakeCipher,
    FakeClock,
    FakePublicationStore,
    FakeTikTok,
    FakeVideoFiles,
    MemoryTable,
)
from tests.fakes.world import START, World, remaining

MIB = 1024 * 1024


class Crash(BaseException):
    """The process dying mid-run: no `except Exception` cleanup runs."""


def test_the_fakes_are_the_ports() -> None:
    """mypy checks these assignments (the fakes implement the domain's Protocols)."""
    files = FakeVideoFiles()
    store: PublicationStorePort = FakePublicationStore(MemoryTable())
    videos: VideoFilesPort = files
    reader: ChunkReaderPort = files.sequential_reader("k")
    tiktok: TikTokPort = FakeTikTok(FakeClock(START))
    cipher: TokenCipherPort = FakeCipher()
    assert all(x is not None for x in (store, videos, reader, tiktok, cipher))


@pytest.fixture
def world() -> World:
    world = World()
    world.user()
    world.account()
    return world


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _assert_published_once(world: World, schedule_id: str, content: bytes) -> None:
    post = world.post(schedule_id)
    assert post.status == "executed", (post.failureReason, post.lastError)
    (published,) = world.tiktok.completed()
    assert published.sha256 == _sha(content)
    assert post.tiktokPublishId == published.publish_id
    assert world.tiktok.inits() == 1
    assert world.pending_count() == 0
    video = world.video_record(post.videoId)
    assert video.status == "published"
    assert video.pendingScheduleId is None
    assert post.claimToken is None
    assert post.accountMinute is None


def test_happy_path_waits_for_the_second_then_publishes(world: World) -> None:
    video_id, content = world.video()
    post = world.pending_post(video_id, seconds_ahead=40)
    metrics = PublishMetrics()

    outcome = world.publisher().publish(world.command(post.scheduleId), remaining(), metrics)

    assert outcome.result == "executed", outcome
    _assert_published_once(world, post.scheduleId, content)
    assert world.clock.slept[0] == pytest.approx(40)  # waited for its exact second
    assert metrics.lag_seconds == pytest.approx(0)
    assert metrics.uploaded_bytes == len(content)
    assert metrics.events == ["PublishSucceeded"]
    posted = world.tiktok.publishes[outcome.publish_id or ""].post_info
    assert posted["title"] == "Launch day #launch"
    assert posted["privacy_level"] == "PUBLIC_TO_EVERYONE"


def test_a_duplicate_delivery_after_the_post_ended_does_nothing(world: World) -> None:
    video_id, content = world.video()
    post = world.pending_post(video_id)
    command = world.command(post.scheduleId)
    assert world.publisher().publish(command, remaining()).result == "executed"

    again = world.publisher().publish(command, remaining())

    assert (again.result, again.detail) == ("skipped", "post already executed")
    _assert_published_once(world, post.scheduleId, content)


def test_a_second_invocation_while_the_first_holds_the_lease_is_skipped(world: World) -> None:
    video_id, content = world.video()
    post = world.pending_post(video_id, seconds_ahead=0)
    command = world.command(post.scheduleId)
    second = []
    # The duplicate event arrives while the first run is uploading.
    world.tiktok.hooks["upload_chunk"] = lambda: second.append(
        world.publisher().publish(command, remaining())
    )

    first = world.publisher().publish(command, remaining())

    assert first.result == "executed"
    assert [(o.result, o.detail) for o in second] == [
        ("skipped", "claimed by another run, or changed meanwhile")
    ]
    _assert_published_once(world, post.scheduleId, content)


def test_a_stale_event_for_an_older_version_is_ignored(world: World) -> None:
    video_id, _ = world.video()
    post = world.pending_post(video_id)
    stale = world.command(post.scheduleId).model_copy(update={"version": post.version - 1})

    outcome = world.publisher().publish(stale, remaining())

    assert outcome.result == "skipped"
    assert "stale event" in outcome.detail
    assert world.post(post.scheduleId).status == "pending"
    assert world.tiktok.calls == []


def test_a_crash_mid_upload_resumes_from_the_checkpoint_without_a_second_init(
    world: World,
) -> None:
    video_id, content = world.video(size=11 * MIB)  # two chunks of 5 MiB, the last with the rest
    post = world.pending_post(video_id, seconds_ahead=0)
    command = world.command(post.scheduleId)
    uploads = []

    def die_on_second_chunk() -> None:
        uploads.append(1)
        if len(uploads) == 2:
            raise Crash

    world.tiktok.hooks["upload_chunk"] = die_on_second_chunk
    with pytest.raises(Crash):
        world.publisher().publish(command, remaining(60_000))

    crashed = world.post(post.scheduleId)
    assert crashed.status == "publishing"
    assert crashed.tiktokPublishId is not None  # checkpointed before the first byte
    # A retry while the dead run's lease is live must not take the post over.
    early = world.publisher().publish(command, remaining())
    assert early.result == "skipped"

    world.clock.advance(61)
    del world.tiktok.hooks["upload_chunk"]
    metrics = PublishMetrics()
    outcome = world.publisher().publish(command, remaining(), metrics)

    assert outcome.result == "executed", outcome
    _assert_published_once(world, post.scheduleId, content)
    assert metrics.uploaded_bytes == len(content) - 5_242_880  # only the missing chunk
    assert world.post(post.scheduleId).publishAttempts == 2


def test_a_lost_upload_reply_continues_from_tiktoks_count(world: World) -> None:
    """The chunk arrived but its reply did not: the resend gets a 416 naming what TikTok
    holds, and the upload goes on from there."""
    video_id, content = world.video(size=11 * MIB)
    post = world.pending_post(video_id, seconds_ahead=0)
    world.tiktok.lose_reply("upload_chunk", TikTokTransientError("network_error", "reset"))

    outcome = world.publisher().publish(world.command(post.scheduleId), remaining())

    assert outcome.result == "executed", outcome
    _assert_published_once(world, post.scheduleId, content)
    # The first chunk, its resend (answered 416: TikTok holds it), then the second chunk.
    assert world.tiktok.calls.count("upload_chunk") == 3


def test_transient_tiktok_errors_are_retried_with_backoff(world: World) -> None:
    video_id, content = world.video()
    post = world.pending_post(video_id, seconds_ahead=0)
    world.tiktok.fail(
        "init_direct_post",
        TikTokTransientError("rate_limit_exceeded", "slow down", 429),
        TikTokTransientError("internal_error", "", 500),
    )

    outcome = world.publisher().publish(world.command(post.scheduleId), remaining())

    assert outcome.result == "executed"
    _assert_published_once(world, post.scheduleId, content)
    assert world.clock.slept[:2] == [0.5, 1.0]


def test_transient_errors_outlasting_the_run_release_the_claim_for_lambdas_retry(
    world: World,
) -> None:
    video_id, content = world.video()
    post = world.pending_post(video_id, seconds_ahead=0)
    command = world.command(post.scheduleId)
    world.tiktok.fail("creator_info", *[TikTokTransientError("internal_error")] * 4)

    with pytest.raises(RetryLater):
        world.publisher().publish(command, remaining())

    released = world.post(post.scheduleId)
    assert released.status == "publishing"
    assert released.leaseExpiresAt == world.clock.now().replace(
        microsecond=world.clock.now().microsecond // 1000 * 1000
    )
    assert released.lastError is not None
    assert "internal_error" in released.lastError
    assert world.tiktok.inits() == 0
    # Lambda's retry takes the post over at once (the lease was given back), and publishes it.
    assert world.publisher().publish(command, remaining()).result == "executed"
    _assert_published_once(world, post.scheduleId, content)


def test_a_permanent_error_fails_the_post_and_gives_its_slot_back(world: World) -> None:
    video_id, _ = world.video()
    post = world.pending_post(video_id, seconds_ahead=0)
    world.tiktok.fail("init_direct_post", TikTokPermanentError("spam_risk_too_many_posts"))

    outcome = world.publisher().publish(world.command(post.scheduleId), remaining())

    assert outcome.result == "failed"
    failed = world.post(post.scheduleId)
    assert failed.status == "failed"
    assert failed.failureReason == "TikTok refused the post: TikTok spam_risk_too_many_posts: "
    assert failed.tiktokPublishId is None
    assert world.pending_count() == 0
    assert world.video_record(video_id).pendingScheduleId is None
    assert world.video_record(video_id).status == "ready"  # may be scheduled again
    assert world.tiktok.completed() == []


def test_an_invalid_access_token_is_refreshed_once_and_stored(world: World) -> None:
    video_id, content = world.video()
    post = world.pending_post(video_id, seconds_ahead=0)
    world.tiktok.expire_access_token("open-acct-1")  # TikTok says access_token_invalid
    metrics = PublishMetrics()

    outcome = world.publisher().publish(world.command(post.scheduleId), remaining(), metrics)

    assert outcome.result == "executed"
    _assert_published_once(world, post.scheduleId, content)
    assert world.tiktok.calls.count("refresh_access_token") == 1
    assert "TokenRefreshed" in metrics.events
    account = world.table.accounts[(world.user_id, "acct-1")]
    creator = world.tiktok.creators["open-acct-1"]
    assert account.tokenVersion == 1
    assert account.refreshLeaseToken is None
    # The rotated refresh token is the one stored (the old one no longer works at TikTok).
    assert world.cipher.decrypt(account.refreshTokenCipher, "acct-1", "refresh") == (
        creator.refresh_token
    )


def test_auth_refused_even_after_a_refresh_fails_the_post(world: World) -> None:
    video_id, _ = world.video()
    post = world.pending_post(video_id, seconds_ahead=0)
    world.tiktok.fail(
        "creator_info",
        TikTokAuthError("access_token_invalid", "", 401),
        TikTokAuthError("access_token_invalid", "", 401),
    )

    outcome = world.publisher().publish(world.command(post.scheduleId), remaining())

    assert outcome.result == "failed"
    assert "no longer accepts this account's authorization" in outcome.detail
    assert world.tiktok.inits() == 0
    assert world.pending_count() == 0


def test_an_access_token_near_expiry_is_refreshed_before_the_call(world: World) -> None:
    world.account(accessTokenExpiresAt=START + timedelta(seconds=60))
    video_id, content = world.video()
    post = world.pending_post(video_id, seconds_ahead=0)

    assert world.publisher().publish(world.command(post.scheduleId), remaining()).result == (
        "executed"
    )
    _assert_published_once(world, post.scheduleId, content)
    assert world.tiktok.calls[:2] == ["refresh_access_token", "creator_info"]


def test_a_refused_refresh_token_fails_the_post_and_asks_for_reconnection(world: World) -> None:
    world.account(
        accessTokenExpiresAt=START,
        refreshTokenCipher=FakeCipher().encrypt("rft.rotated-away", "acct-1", "refresh"),
    )
    video_id, _ = world.video()
    post = world.pending_post(video_id, seconds_ahead=0)
    metrics = PublishMetrics()

    outcome = world.publisher().publish(world.command(post.scheduleId), remaining(), metrics)

    assert outcome.result == "failed"
    assert "reconnect the account" in outcome.detail
    account = world.table.accounts[(world.user_id, "acct-1")]
    assert account.needsReconnection is not None
    assert "invalid_grant" in account.needsReconnection
    assert account.refreshLeaseToken is None
    assert "AccountNeedsReconnection" in metrics.events


def test_a_run_waits_for_another_runs_refresh_and_uses_its_tokens(world: World) -> None:
    """Refreshes are serialised per account: while another run holds the refresh lease, this one
    waits, then uses the tokens that run stored, never rotating them a second time."""
    world.account(
        accessTokenExpiresAt=START,
        refreshLeaseToken="other-run",
        refreshLeaseUntil=START + timedelta(seconds=10),
    )
    video_id, content = world.video()
    post = world.pending_post(video_id, seconds_ahead=0)

    def other_run_rotates() -> None:
        account = world.table.accounts[(world.user_id, "acct-1")]
        grant = world.tiktok.refresh_access_token(
            world.tiktok.client_key,
            world.tiktok.client_secret,
            world.cipher.decrypt(account.refreshTokenCipher, "acct-1", "refresh"),
        )
        world.store.save_tokens(
            account,
            accessTokenCipher=world.cipher.encrypt(grant.access_token, "acct-1", "access"),
            refreshTokenCipher=world.cipher.encrypt(grant.refresh_token, "acct-1", "refresh"),
            accessTokenExpiresAt=world.clock.now() + timedelta(seconds=grant.expires_in),
            refreshLeaseToken=None,
            refreshLeaseUntil=None,
        )

    world.clock.on_sleep.append(other_run_rotates)

    outcome = world.publisher().publish(world.command(post.scheduleId), remaining())

    assert outcome.result == "executed"
    _assert_published_once(world, post.scheduleId, content)
    assert world.tiktok.calls.count("refresh_access_token") == 1  # the other run's only


def test_status_is_polled_until_publish_complete(world: World) -> None:
    world.tiktok.processing_polls = 3
    video_id, content = world.video()
    post = world.pending_post(video_id, seconds_ahead=0)

    outcome = world.publisher().publish(world.command(post.scheduleId), remaining())

    assert outcome.result == "executed"
    _assert_published_once(world, post.scheduleId, content)
    assert world.tiktok.calls.count("fetch_status") == 4
    assert world.clock.slept == [1.0, 1.5, 2.25]  # the interval grows


def test_tiktok_reporting_failed_fails_the_post_with_tiktoks_reason(world: World) -> None:
    world.tiktok.outcome, world.tiktok.fail_reason = "FAILED", "spam_risk_user_banned"
    video_id, _ = world.video()
    post = world.pending_post(video_id, seconds_ahead=0)

    outcome = world.publisher().publish(world.command(post.scheduleId), remaining())

    assert outcome.result == "failed"
    failed = world.post(post.scheduleId)
    assert failed.failureReason == "TikTok rejected the video: spam_risk_user_banned"
    assert failed.publishOutcome == "tiktok_failed"
    assert world.pending_count() == 0


def test_a_status_outage_after_the_upload_is_retried_from_tiktoks_status(world: World) -> None:
    """TikTok has the whole video but cannot be asked: the run hands over to Lambda's retry
    with the publish id kept, and the retry reads TikTok's status, never calling init again."""
    video_id, content = world.video()
    post = world.pending_post(video_id, seconds_ahead=0)
    command = world.command(post.scheduleId)
    world.tiktok.fail("fetch_status", *[TikTokTransientError("internal_error")] * 4)

    with pytest.raises(RetryLater):
        world.publisher().publish(command, remaining())

    held = world.post(post.scheduleId)
    assert held.status == "publishing"
    assert held.tiktokPublishId is not None
    assert held.uploadCompletedAt is not None
    assert world.publisher().publish(command, remaining()).result == "executed"
    _assert_published_once(world, post.scheduleId, content)


def test_when_lambda_gives_up_unknown_status_leaves_the_post_unconfirmed_never_lost(
    world: World,
) -> None:
    """Not failed on our word: the post stays `publishing`, unconfirmed, its claim released,
    and the next run (the sweep's re-arm) settles it from TikTok without a second init."""
    video_id, content = world.video()
    post = world.pending_post(video_id, seconds_ahead=0)
    command = world.command(post.scheduleId)
    world.tiktok.fail("fetch_status", *[TikTokTransientError("internal_error")] * 8)
    with pytest.raises(RetryLater):
        world.publisher().publish(command, remaining())

    outcome = world.publisher().give_up(command, "Lambda gave up")

    assert outcome.result == "unconfirmed"
    held = world.post(post.scheduleId)
    assert (held.status, held.publishOutcome) == ("publishing", "unconfirmed")
    assert held.leaseExpiresAt is not None
    assert held.leaseExpiresAt <= world.clock.now()
    assert world.pending_count() == 1  # still holds its slot: it is not over

    assert world.publisher().publish(command, remaining()).result == "executed"
    _assert_published_once(world, post.scheduleId, content)


def test_give_up_settles_a_post_holding_a_publish_from_tiktoks_status(world: World) -> None:
    world.tiktok.processing_polls = 0  # TikTok has finished by the time it is asked again
    video_id, content = world.video()
    post = world.pending_post(video_id, seconds_ahead=0)
    command = world.command(post.scheduleId)
    world.tiktok.fail("fetch_status", *[TikTokTransientError("internal_error")] * 4)
    with pytest.raises(RetryLater):
        world.publisher().publish(command, remaining())

    outcome = world.publisher().give_up(command, "Lambda gave up")

    assert outcome.result == "executed"
    _assert_published_once(world, post.scheduleId, content)


def test_give_up_fails_a_post_that_never_reached_tiktok(world: World) -> None:
    video_id, _ = world.video()
    post = world.pending_post(video_id, seconds_ahead=0)

    outcome = world.publisher().give_up(world.command(post.scheduleId), "timeouts")

    assert outcome.result == "failed"
    failed = world.post(post.scheduleId)
    assert failed.failureReason == "publishing gave up after repeated failures: timeouts"
    assert world.pending_count() == 0
    assert world.tiktok.calls == []


def test_a_throttled_claim_is_retried_not_dropped(world: World) -> None:
    video_id, content = world.video()
    post = world.pending_post(video_id, seconds_ahead=0)
    world.table.throttle["claim"] = 2

    outcome = world.publisher().publish(world.command(post.scheduleId), remaining())

    assert outcome.result == "executed"
    _assert_published_once(world, post.scheduleId, content)
