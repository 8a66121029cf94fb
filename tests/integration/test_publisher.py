"""The publisher against moto and the stand-in TikTok over real sockets: exact time, at most
once under duplicates and crashes, token refresh, permanent and transient failures, the
give-up consumer and the sweep."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from local.tiktok import TikTokStub
from post_scheduler import wiring
from post_scheduler.adapters.publication_store import PublicationStore
from post_scheduler.adapters.tiktok_client import TikTokClient
from post_scheduler.adapters.token_cipher import TokenCipher
from post_scheduler.adapters.video_store import SequentialReader, VideoReadError, VideoStore
from post_scheduler.domain.publishing import (
    PostPublisher,
    PublishCommand,
    PublisherConfig,
    RetryLater,
    SystemClock,
)
from post_scheduler.domain.sweep import rearm_missed_posts
from post_scheduler.models.records import ScheduleRecord
from post_scheduler.timestamps import parse_utc
from tests.support import AwsStack, User, future

MIB = 1024 * 1024
FAST = PublisherConfig(
    poll_interval_seconds=0.01,
    max_poll_interval_seconds=0.05,
    backoff_seconds=0.01,
    max_backoff_seconds=0.05,
    reserve_seconds=1.0,
)


class Crash(BaseException):
    """A process dying mid-run: no `except Exception` cleanup runs."""


class FakeClock:
    """Time that moves only when the publisher sleeps (or the test says so)."""

    def __init__(self, start: datetime) -> None:
        self.moment = start
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self.moment

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.moment += timedelta(seconds=max(seconds, 0))

    def advance(self, seconds: float) -> None:
        self.sleep(seconds)


@dataclass
class Scene:
    """One user with a video in S3, a connected stand-in TikTok account and a pending post."""

    stack: AwsStack
    stub: TikTokStub
    user: User
    video_id: str
    account_id: str
    content: bytes
    schedule_id: str = ""
    publishers: list[PostPublisher] = field(default_factory=list)

    @property
    def post(self) -> ScheduleRecord:
        post = self.stack.table.get_schedule(self.user.user_id, self.schedule_id)
        assert post is not None
        return post

    @property
    def command(self) -> PublishCommand:
        post = self.post
        return PublishCommand(scheduleId=post.scheduleId, userId=post.userId, version=post.version)

    def publisher(
        self, clock: Any = None, config: PublisherConfig = FAST, tiktok: Any = None
    ) -> PostPublisher:
        env = self.stack.environment
        publisher = PostPublisher(
            store=PublicationStore(self.stack.table),
            videos=VideoStore(env["VIDEO_BUCKET"], boto3.client("s3")),
            tiktok=tiktok or TikTokClient(self.stub.base_url),
            cipher=TokenCipher(env["TOKEN_KMS_KEY_ID"], boto3.client("kms")),
            credentials=wiring.tiktok_app_credentials,
            config=config,
            clock=clock or SystemClock(),
        )
        self.publishers.append(publisher)
        return publisher

    def at_post_time(self, seconds_before: float = 0) -> FakeClock:
        return FakeClock(self.post.scheduledPublishTime - timedelta(seconds=seconds_before))

    def complete_uploads(self) -> list[dict[str, Any]]:
        return [p for p in self.stub.posts() if p["complete"]]

    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def _remaining(ms: int = 600_000) -> Callable[[], int]:
    return lambda: ms


@pytest.fixture
def scene_factory(
    stack: AwsStack, tiktok_stub: TikTokStub, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Scene]]:
    env = stack.environment
    monkeypatch.setenv("TIKTOK_API_BASE_URL", tiktok_stub.base_url)
    boto3.client("ssm").put_parameter(
        Name=env["TIKTOK_CLIENT_PARAMETER"],
        Type="SecureString",
        Value=json.dumps(
            {"clientKey": tiktok_stub.client_key, "clientSecret": tiktok_stub.client_secret}
        ),
    )
    wiring.reset()
    cipher = TokenCipher(env["TOKEN_KMS_KEY_ID"], boto3.client("kms"))
    counter = iter(range(1000))

    def make(
        size: int = 256 * 1024,
        minutes_ahead: float = 20,
        access_ttl: int = 86400,
        private_account: bool = False,
        **create_fields: Any,
    ) -> Scene:
        number = next(counter)
        user = stack.user("basic")
        content = os.urandom(size)
        video_id = user.video(sizeBytes=size, title="Launch day")
        key = stack.table.get_video(user.user_id, video_id).s3Key  # type: ignore[union-attr]
        boto3.client("s3").put_object(
            Bucket=env["VIDEO_BUCKET"], Key=key, Body=content, ContentType="video/mp4"
        )
        open_id = f"open-{number}"
        tiktok_stub.add_creator(
            open_id, f"creator{number}", "Creator", private_account=private_account
        )
        tokens = tiktok_stub.issue_tokens(open_id, access_ttl=access_ttl)
        account_id = f"acct-{number}"
        now = datetime.now(UTC)
        user.account(
            account_id,
            openId=open_id,
            accessTokenCipher=cipher.encrypt(tokens["access_token"], account_id, "access"),
            refreshTokenCipher=cipher.encrypt(tokens["refresh_token"], account_id, "refresh"),
            accessTokenExpiresAt=now + timedelta(seconds=access_ttl),
            refreshTokenExpiresAt=now + timedelta(days=365),
        )
        scene = Scene(stack, tiktok_stub, user, video_id, account_id, content)
        created = user.create(
            video_id,
            account_id,
            future(minutes_ahead),
            title="Launch day",
            hashtags="#launch #demo",
            **create_fields,
        )
        assert created.status == 200, created.body
        scene.schedule_id = created.body["data"]["scheduleId"]
        return scene

    yield make
    wiring.reset()


def _assert_published_once(scene: Scene) -> None:
    post = scene.post
    assert post.status == "executed", (post.status, post.failureReason, post.lastError)
    uploads = scene.complete_uploads()
    assert len(uploads) == 1, uploads
    assert uploads[0]["sha256"] == scene.sha256()
    assert uploads[0]["bytes_received"] == len(scene.content)
    assert post.tiktokPublishId == uploads[0]["publish_id"]
    assert scene.user.pending_count() == 0
    video = scene.stack.table.get_video(scene.user.user_id, scene.video_id)
    assert video is not None
    assert video.status == "published"
    assert video.pendingScheduleId is None


# --- happy paths and exact time ---------------------------------------------------------------


def test_small_video_is_published_in_one_put_at_the_exact_second(scene_factory: Any) -> None:
    scene = scene_factory(size=300 * 1024)
    clock = scene.at_post_time(seconds_before=50)

    outcome = scene.publisher(clock).publish(scene.command, _remaining())

    assert outcome.result == "executed"
    _assert_published_once(scene)
    post = scene.post
    # Invoked 50 s early, it waited exactly until the requested second before claiming.
    assert clock.slept[0] == pytest.approx(50)
    assert post.publishStartedAt == post.scheduledPublishTime
    assert post.claimedAt == post.scheduledPublishTime
    (upload,) = scene.complete_uploads()
    assert upload["chunk_count_received"] == 1
    assert upload["title"] == "Launch day #launch #demo"
    assert upload["privacy_level"] == "PUBLIC_TO_EVERYONE"
    listed = scene.user.call("GET", "/api/v1/schedule/scheduled-videos").body["data"][0]
    assert listed["status"] == "executed"
    assert listed["tiktokPublishId"] == upload["publish_id"]
    assert listed["publishStartedAt"] == listed["scheduledPublishTime"]
    assert "executedAt" in listed


def test_multi_chunk_video_bytes_arrive_intact(scene_factory: Any) -> None:
    scene = scene_factory(size=25 * MIB + 12345)
    outcome = scene.publisher(scene.at_post_time()).publish(scene.command, _remaining())
    assert outcome.result == "executed"
    _assert_published_once(scene)
    (upload,) = scene.complete_uploads()
    assert upload["total_chunk_count"] == 2
    assert upload["chunk_count_received"] == 2


def test_requested_privacy_and_options_reach_tiktok(scene_factory: Any) -> None:
    scene = scene_factory(
        options={"privacyLevel": "SELF_ONLY", "disableComment": True, "isAigc": True}
    )
    scene.publisher(scene.at_post_time()).publish(scene.command, _remaining())
    (upload,) = scene.complete_uploads()
    assert upload["privacy_level"] == "SELF_ONLY"
    assert upload["post_info"]["disable_comment"] is True
    assert upload["post_info"]["is_aigc"] is True
    assert upload["post_info"]["brand_content_toggle"] is False


def test_an_event_far_too_early_is_ignored(scene_factory: Any) -> None:
    scene = scene_factory()
    outcome = scene.publisher(scene.at_post_time(seconds_before=600)).publish(
        scene.command, _remaining()
    )
    assert outcome.result == "skipped"
    assert scene.post.status == "pending"
    assert scene.stub.posts() == []


# --- at most once ------------------------------------------------------------------------------


def test_invoked_twice_in_a_row_publishes_once(scene_factory: Any) -> None:
    scene = scene_factory()
    command = scene.command
    first = scene.publisher(scene.at_post_time()).publish(command, _remaining())
    second = scene.publisher(scene.at_post_time()).publish(command, _remaining())
    assert first.result == "executed"
    assert second.result == "skipped"
    _assert_published_once(scene)


def test_ten_concurrent_invocations_publish_once(
    scene_factory: Any, monkeypatch: pytest.MonkeyPatch, atomic_requests: None
) -> None:
    monkeypatch.setenv("MIN_SCHEDULE_LEAD_SECONDS", "1")
    wiring.reset()
    scene = scene_factory(size=6 * MIB, minutes_ahead=3 / 60)
    command = scene.command
    publisher = scene.publisher()
    outcomes: list[str] = []
    barrier = threading.Barrier(10)

    def invoke() -> None:
        barrier.wait()
        outcomes.append(publisher.publish(command, _remaining()).result)

    threads = [threading.Thread(target=invoke) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["executed"] + ["skipped"] * 9
    _assert_published_once(scene)


def test_the_handler_publishes_through_the_template_function(
    scene_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIN_SCHEDULE_LEAD_SECONDS", "1")
    wiring.reset()
    scene = scene_factory(minutes_ahead=3 / 60)
    event = json.loads(scene.stack.schedules()[0]["Target"]["Input"])
    result = scene.stack.gateway.runner.invoke("PublisherFunction", event)
    assert result["result"] == "executed"
    _assert_published_once(scene)
    assert scene.post.publishStartedAt is not None
    lag = (scene.post.publishStartedAt - scene.post.scheduledPublishTime).total_seconds()
    assert 0 <= lag < 1


def _crash_after(target: Any, name: str, when: Callable[..., bool] = lambda *a, **k: True) -> None:
    original = getattr(target, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if when(*args, **kwargs):
            setattr(target, name, original)  # crash once
            raise Crash(name)
        return result

    setattr(target, name, wrapper)


def _crash_before(target: Any, name: str) -> None:
    original = getattr(target, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        setattr(target, name, original)
        raise Crash(name)

    setattr(target, name, wrapper)


CRASH_POINTS = [
    "after-claim",
    "after-init-before-checkpoint",
    "after-checkpoint",
    "after-chunk-0",
    "after-chunk-1",
    "after-chunk-2",
    "before-final-mark",
]


@pytest.mark.parametrize("crash_point", CRASH_POINTS)
def test_a_crash_anywhere_then_retries_publishes_exactly_once(
    scene_factory: Any, crash_point: str
) -> None:
    scene = scene_factory(size=30 * MIB + 7)  # 3 chunks of 10 MiB (the last carries the rest)
    clock = scene.at_post_time()
    publisher = scene.publisher(clock)
    if crash_point == "after-claim":
        _crash_after(publisher.store, "claim")
    elif crash_point == "after-init-before-checkpoint":
        _crash_after(publisher.tiktok, "init_direct_post")
    elif crash_point == "after-checkpoint":
        _crash_after(publisher.store, "checkpoint", lambda *a, **k: "tiktokPublishId" in k)
    elif crash_point.startswith("after-chunk-"):
        index = int(crash_point.rsplit("-", 1)[1])
        _crash_after(publisher.tiktok, "upload_chunk", lambda *a, **k: a[2] == index * 10 * MIB)
    else:
        _crash_before(publisher.store, "finish")
    lease = 60_000

    with pytest.raises(Crash):
        publisher.publish(scene.command, _remaining(lease))
    assert scene.post.status == "publishing"

    # A retry while the crashed run's lease is still on does nothing...
    early = publisher.publish(scene.command, _remaining(lease))
    assert early.result == "skipped"
    # ...and once the lease (the crashed invocation's deadline) has passed, it resumes.
    clock.advance(lease / 1000 + 1)
    outcome = publisher.publish(scene.command, _remaining(lease))

    assert outcome.result == "executed", outcome
    _assert_published_once(scene)
    if crash_point != "after-init-before-checkpoint":
        assert len(scene.stub.posts()) == 1  # the retry resumed the recorded publish
    else:
        # The first init was never recorded, so its publish received no byte: TikTok shows
        # nothing for it, and only the second became a post.
        abandoned = [p for p in scene.stub.posts() if not p["complete"]]
        assert [p["bytes_received"] for p in abandoned] == [0]


# --- tokens -------------------------------------------------------------------------------------


def test_expired_access_token_is_refreshed_and_the_rotated_tokens_are_kept(
    scene_factory: Any,
) -> None:
    scene = scene_factory(access_ttl=60)  # within the refresh margin at the post's time
    before = scene.stack.table.get_account(scene.user.user_id, scene.account_id)
    assert before is not None
    cipher = scene.publisher().cipher
    old_refresh = cipher.decrypt(before.refreshTokenCipher, scene.account_id, "refresh")

    outcome = scene.publisher(scene.at_post_time()).publish(scene.command, _remaining())

    assert outcome.result == "executed"
    after = scene.stack.table.get_account(scene.user.user_id, scene.account_id)
    assert after is not None
    assert after.tokenVersion == before.tokenVersion + 1
    new_refresh = cipher.decrypt(after.refreshTokenCipher, scene.account_id, "refresh")
    new_access = cipher.decrypt(after.accessTokenCipher, scene.account_id, "access")
    assert new_refresh != old_refresh
    client = TikTokClient(scene.stub.base_url)
    # The stored tokens are the live ones: the new access token works, and the old refresh
    # token was retired by rotation.
    assert client.creator_info(new_access).creator_username
    with pytest.raises(Exception, match="invalid_grant"):
        client.refresh_access_token(scene.stub.client_key, scene.stub.client_secret, old_refresh)


def test_access_token_rejected_mid_run_is_refreshed_once(scene_factory: Any) -> None:
    scene = scene_factory()
    scene.stub.fail_next("creator_info", 401, "access_token_invalid")
    outcome = scene.publisher(scene.at_post_time()).publish(scene.command, _remaining())
    assert outcome.result == "executed"
    _assert_published_once(scene)


def test_access_token_rejected_after_refresh_fails_the_post(scene_factory: Any) -> None:
    scene = scene_factory()
    scene.stub.fail_next("creator_info", 401, "access_token_invalid", times=2)
    outcome = scene.publisher(scene.at_post_time()).publish(scene.command, _remaining())
    assert outcome.result == "failed"
    assert "reconnect the account" in (scene.post.failureReason or "")


# --- permanent and transient failures ------------------------------------------------------------


def _assert_failed_and_released(scene: Scene, *reason_parts: str) -> None:
    post = scene.post
    assert post.status == "failed"
    for part in reason_parts:
        assert part in (post.failureReason or ""), post.failureReason
    assert scene.user.pending_count() == 0
    video = scene.stack.table.get_video(scene.user.user_id, scene.video_id)
    assert video is not None
    assert video.pendingScheduleId is None
    assert video.status == "ready"  # it can be scheduled again
    listed = scene.user.call("GET", "/api/v1/schedule/scheduled-videos").body["data"][0]
    assert listed["status"] == "failed"
    assert listed["failureReason"] == post.failureReason


@pytest.mark.parametrize(
    ("endpoint", "status", "code"),
    [
        ("video_init", 403, "spam_risk_too_many_posts"),
        ("video_init", 400, "invalid_params"),
        ("creator_info", 200, "spam_risk_user_banned_from_posting"),
        ("video_init", 403, "unaudited_client_can_only_post_to_private_accounts"),
    ],
)
def test_permanent_tiktok_errors_fail_the_post_with_the_reason(
    scene_factory: Any, endpoint: str, status: int, code: str
) -> None:
    scene = scene_factory()
    scene.stub.fail_next(endpoint, status, code)
    outcome = scene.publisher(scene.at_post_time()).publish(scene.command, _remaining())
    assert outcome.result == "failed"
    _assert_failed_and_released(scene, code)


def test_privacy_level_the_account_does_not_offer_fails_before_init(scene_factory: Any) -> None:
    """The account turned private after the post was created (create would refuse it now)."""
    scene = scene_factory(options={"privacyLevel": "PUBLIC_TO_EVERYONE"})
    open_id = f"open-{scene.account_id.removeprefix('acct-')}"
    scene.stub.add_creator(open_id, "creator", "Creator", private_account=True)
    outcome = scene.publisher(scene.at_post_time()).publish(scene.command, _remaining())
    assert outcome.result == "failed"
    _assert_failed_and_released(scene, "PUBLIC_TO_EVERYONE", "not available")
    assert scene.stub.posts() == []


def _set_duration(scene: Scene, seconds: str) -> None:
    """The video's duration as the upload check stored it."""
    scene.stack.table.client.update_item(
        TableName=scene.stack.table.name,
        Key={"pk": {"S": f"USER#{scene.user.user_id}"}, "sk": {"S": f"VIDEO#{scene.video_id}"}},
        UpdateExpression="SET durationSeconds = :seconds",
        ExpressionAttributeValues={":seconds": {"N": seconds}},
    )


def test_a_video_longer_than_the_creator_now_allows_fails_before_init(
    scene_factory: Any,
) -> None:
    """The creator's maximum can shrink between create and the post's second: the publisher
    checks the video's duration against creator_info before init, fails the post early with
    the reason, and caches what TikTok said on the account."""
    scene = scene_factory()
    table = scene.stack.table
    _set_duration(scene, "73.25")
    open_id = f"open-{scene.account_id.removeprefix('acct-')}"
    scene.stub.add_creator(open_id, "creator", "Creator", max_video_post_duration_sec=60)

    outcome = scene.publisher(scene.at_post_time()).publish(scene.command, _remaining())

    assert outcome.result == "failed"
    _assert_failed_and_released(scene, "VIDEO_TOO_LONG", "73.25", "60")
    assert scene.stub.posts() == []
    account = table.get_account(scene.user.user_id, scene.account_id)
    assert account is not None
    assert account.creatorInfo is not None
    assert account.creatorInfo.maxVideoPostDurationSec == 60
    assert account.creatorInfoAt is not None


def test_a_video_within_the_creators_maximum_is_published(scene_factory: Any) -> None:
    scene = scene_factory()
    _set_duration(scene, "60.0")
    open_id = f"open-{scene.account_id.removeprefix('acct-')}"
    scene.stub.add_creator(open_id, "creator", "Creator", max_video_post_duration_sec=60)
    outcome = scene.publisher(scene.at_post_time()).publish(scene.command, _remaining())
    assert outcome.result == "executed"
    _assert_published_once(scene)


def test_tiktok_failing_the_processed_video_fails_the_post(scene_factory: Any) -> None:
    scene = scene_factory()
    scene.stub.fail_publish(None, "frame_rate_check_failed")
    outcome = scene.publisher(scene.at_post_time()).publish(scene.command, _remaining())
    assert outcome.result == "failed"
    _assert_failed_and_released(scene, "frame_rate_check_failed")


def test_missing_video_file_fails_the_post(scene_factory: Any) -> None:
    scene = scene_factory()
    video = scene.stack.table.get_video(scene.user.user_id, scene.video_id)
    assert video is not None
    boto3.client("s3").delete_object(
        Bucket=scene.stack.environment["VIDEO_BUCKET"], Key=video.s3Key
    )
    outcome = scene.publisher(scene.at_post_time()).publish(scene.command, _remaining())
    assert outcome.result == "failed"
    _assert_failed_and_released(scene, "missing")


def _replace_video_after_first_chunk(scene: Scene, publisher: PostPublisher) -> None:
    video = scene.stack.table.get_video(scene.user.user_id, scene.video_id)
    assert video is not None
    original = publisher.tiktok.upload_chunk

    def replace_file_after_first_chunk(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if args[2] == 0:
            boto3.client("s3").put_object(
                Bucket=scene.stack.environment["VIDEO_BUCKET"], Key=video.s3Key, Body=b"x" * 9
            )
        return result

    publisher.tiktok.upload_chunk = replace_file_after_first_chunk  # type: ignore[method-assign]


def test_video_replaced_mid_upload_still_uploads_the_version_it_started(
    scene_factory: Any,
) -> None:
    scene = scene_factory(size=25 * MIB)
    publisher = scene.publisher(scene.at_post_time())
    _replace_video_after_first_chunk(scene, publisher)
    assert publisher.publish(scene.command, _remaining()).result == "executed"
    _assert_published_once(scene)  # the bytes TikTok got are the original file's, all of them


def test_video_replaced_before_a_resumed_chunk_fails_the_post(scene_factory: Any) -> None:
    scene = scene_factory(size=25 * MIB)
    publisher = scene.publisher(scene.at_post_time())
    _replace_video_after_first_chunk(scene, publisher)
    scene.stub.fail_chunk(1, 500)  # the retry has to reopen the video: its ETag changed
    outcome = publisher.publish(scene.command, _remaining())
    assert outcome.result == "failed"
    _assert_failed_and_released(scene, "replaced")


def test_a_broken_video_stream_is_retried(
    scene_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene = scene_factory(size=25 * MIB)
    original = SequentialReader.chunk
    calls = {"n": 0}

    def flaky(self: SequentialReader, first: int, last: int) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:  # the second chunk's stream breaks after one block
            self.close()
            yield b"x" * 1000
            raise VideoReadError("connection reset reading the video")
        yield from original(self, first, last)

    monkeypatch.setattr(SequentialReader, "chunk", flaky)
    publisher = scene.publisher(scene.at_post_time())
    assert publisher.publish(scene.command, _remaining()).result == "executed"
    assert calls["n"] == 3
    _assert_published_once(scene)


@pytest.mark.parametrize(
    "inject",
    [
        lambda stub: stub.fail_chunk(0, 500),
        lambda stub: stub.fail_chunk(1, 503, times=2),
        lambda stub: stub.fail_next("video_init", 429, "rate_limit_exceeded"),
        lambda stub: stub.fail_next("creator_info", 500),
        lambda stub: stub.drop_next("status_fetch"),
        lambda stub: stub.drop_chunk(1),
        lambda stub: stub.drop_chunk(0, after_processing=True),
    ],
    ids=[
        "chunk-500",
        "chunk-503-twice",
        "init-429",
        "creator-500",
        "status-drop",
        "chunk-drop",
        "chunk-reply-lost",
    ],
)
def test_transient_errors_are_retried_within_the_run(
    scene_factory: Any, inject: Callable[[TikTokStub], None]
) -> None:
    scene = scene_factory(size=25 * MIB)  # two chunks
    inject(scene.stub)
    outcome = scene.publisher(scene.at_post_time()).publish(scene.command, _remaining())
    assert outcome.result == "executed", outcome
    assert scene.stub.faults() == []  # the fault did happen
    _assert_published_once(scene)


def test_persistent_transient_errors_hand_over_to_lambda_retries(scene_factory: Any) -> None:
    scene = scene_factory(size=12 * MIB)
    clock = scene.at_post_time()
    publisher = scene.publisher(clock)
    scene.stub.fail_chunk(0, 500, times=50)

    with pytest.raises(RetryLater):
        publisher.publish(scene.command, _remaining())
    post = scene.post
    assert post.status == "publishing"
    assert post.leaseExpiresAt is not None
    assert post.leaseExpiresAt <= clock.now()  # released at once for the retry
    assert "500" in (post.lastError or "") or "internal" in (post.lastError or "")

    scene.stub.clear_faults()
    assert publisher.publish(scene.command, _remaining()).result == "executed"
    _assert_published_once(scene)


# --- stale events, give-up consumer, sweep -----------------------------------------------------


def test_stale_version_is_a_no_op(scene_factory: Any) -> None:
    scene = scene_factory()
    old = scene.command
    moved = scene.user.call(
        "PUT", f"/api/v1/schedule/{scene.schedule_id}", {"scheduledPublishTime": future(45)}
    )
    assert moved.status == 200
    outcome = scene.publisher(scene.at_post_time()).publish(old, _remaining())
    assert outcome.result == "skipped"
    assert "stale" in outcome.detail
    assert scene.post.status == "pending"
    assert scene.stub.posts() == []


def test_cancelled_post_is_never_published(scene_factory: Any) -> None:
    scene = scene_factory()
    command = scene.command
    scene.user.call("PUT", f"/api/v1/schedule/{scene.schedule_id}", {"status": "cancelled"})
    outcome = scene.publisher(scene.at_post_time()).publish(command, _remaining())
    assert outcome.result == "skipped"
    assert scene.stub.posts() == []


def _failure_record(command: PublishCommand, message: str) -> dict[str, Any]:
    destination = {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(),
        "requestContext": {
            "requestId": "8d2c7e2a-0000-4000-8000-000000000001",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:local-PublisherFunction",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": command.model_dump(),
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        "responsePayload": {"errorMessage": message, "errorType": "RetryLater"},
    }
    return {
        "Records": [
            {
                "messageId": "4c2f8a5e-0000-4000-8000-000000000001",
                "receiptHandle": "handle",
                "body": json.dumps(destination),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:local-PublisherFailureQueue",
                "awsRegion": "us-east-1",
            }
        ]
    }


def test_give_up_consumer_marks_the_post_failed_with_the_last_error(scene_factory: Any) -> None:
    scene = scene_factory()
    result = scene.stack.gateway.runner.invoke(
        "PublishFailuresFunction", _failure_record(scene.command, "TikTok internal_error: boom")
    )
    assert result == {"batchItemFailures": []}
    _assert_failed_and_released(scene, "gave up", "internal_error: boom")


def test_give_up_consumer_leaves_executed_and_live_posts_alone(scene_factory: Any) -> None:
    done = scene_factory()
    done.publisher(done.at_post_time()).publish(done.command, _remaining())
    live = scene_factory()
    store = PublicationStore(live.stack.table)
    now = datetime.now(UTC)
    claimed = store.claim(live.post, now, now + timedelta(minutes=10), "someone-else")
    assert claimed is not None

    for scene in (done, live):
        scene.stack.gateway.runner.invoke(
            "PublishFailuresFunction", _failure_record(scene.command, "late failure")
        )
    assert done.post.status == "executed"
    assert live.post.status == "publishing"


def _no_give_up(post: ScheduleRecord, reason: str) -> None:
    raise AssertionError(f"the sweep gave up on {post.scheduleId}: {reason}")


def test_sweep_rearms_a_missed_post_and_leaves_fresh_and_live_ones_alone(
    scene_factory: Any,
) -> None:
    missed, live = scene_factory(), scene_factory()
    fresh = scene_factory(minutes_ahead=120)
    stack = missed.stack
    scheduler = wiring.publish_scheduler()
    # The missed post's schedule was lost and its time is long past.
    scheduler.delete(missed.schedule_id)
    now = missed.post.scheduledPublishTime + timedelta(minutes=10)
    # The live one is being published by a run whose lease is still on.
    store = PublicationStore(stack.table)
    assert store.claim(live.post, now, now + timedelta(minutes=5), "live-run") is not None

    result = rearm_missed_posts(store, scheduler, now, give_up=_no_give_up)

    assert result.rearmed == [missed.schedule_id]
    schedules = {s["Name"]: s for s in stack.schedules()}
    again = schedules[f"rearm-{missed.schedule_id}-{missed.post.version}-1"]
    fire_at = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
    assert again["ScheduleExpression"] == f"at({fire_at.strftime('%Y-%m-%dT%H:%M:%S')})"
    assert json.loads(again["Target"]["Input"])["version"] == missed.post.version
    assert f"post-{fresh.schedule_id}" in schedules
    # ...and firing it publishes the missed post.
    clock = FakeClock(fire_at + timedelta(seconds=5))
    outcome = missed.publisher(clock).publish(missed.command, _remaining())
    assert outcome.result == "executed"


def test_sweep_takes_over_a_post_whose_run_died(scene_factory: Any) -> None:
    scene = scene_factory()
    store = PublicationStore(scene.stack.table)
    start = scene.post.scheduledPublishTime
    assert store.claim(scene.post, start, start + timedelta(minutes=15), "dead-run") is not None
    now = start + timedelta(minutes=20)
    result = rearm_missed_posts(store, wiring.publish_scheduler(), now, give_up=_no_give_up)
    assert result.rearmed == [scene.schedule_id]
    outcome = scene.publisher(FakeClock(now)).publish(scene.command, _remaining())
    assert outcome.result == "executed"
    _assert_published_once(scene)


def test_publish_started_at_survives_a_takeover(scene_factory: Any) -> None:
    scene = scene_factory()
    store = PublicationStore(scene.stack.table)
    start = scene.post.scheduledPublishTime
    store.claim(scene.post, start, start + timedelta(seconds=30), "dead-run")
    later = FakeClock(start + timedelta(minutes=2))
    scene.publisher(later).publish(scene.command, _remaining())
    assert scene.post.publishStartedAt == start
    assert parse_utc("2025-01-01T00:00:00Z")  # timestamps module stays importable here
