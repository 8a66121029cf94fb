"""Exactly once at the edges: a TikTok status outage, processing that outlasts invocations,
concurrent token refreshes, rotated tokens that cannot be saved, the sweep racing a move, a 416
without Content-Range, and a failure write that raises. Against moto and the stand-in TikTok."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from post_scheduler import wiring
from post_scheduler.adapters.publication_store import PublicationStore
from post_scheduler.adapters.tiktok_client import TikTokClient
from post_scheduler.domain.publishing import (
    PostPublisher,
    PublishCommand,
    PublishMetrics,
    RetryLater,
)
from post_scheduler.domain.sweep import rearm_missed_posts
from post_scheduler.models.records import ScheduleRecord
from tests.integration import test_publisher
from tests.integration.test_publisher import (
    FAST,
    MIB,
    Crash,
    FakeClock,
    Scene,
    _failure_record,
    _remaining,
)
from tests.support import future

scene_factory = test_publisher.scene_factory

INVOCATION_MS = 60_000


def _outage(scene: Scene) -> None:
    """TikTok's status endpoint answers 503 until the faults are cleared."""
    scene.stub.fail_next("status_fetch", 503, "internal_error", times=10_000)


def _invocation(clock: FakeClock, ms: int = INVOCATION_MS) -> Callable[[], int]:
    """An invocation's remaining time on `clock`: Lambda's deadline `ms` from now."""
    deadline = clock.now() + timedelta(milliseconds=ms)
    return lambda: int((deadline - clock.now()).total_seconds() * 1000)


def _invocations(
    publisher: PostPublisher, clock: FakeClock, command: PublishCommand, count: int
) -> None:
    """`count` publisher invocations (the first and Lambda's retries), each running out."""
    for _ in range(count):
        with pytest.raises(RetryLater):
            publisher.publish(command, _invocation(clock))


def _throttled(operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, operation
    )


def _another_post(scene: Scene, minutes_ahead: float = 20) -> str:
    """A second post of the scene's user on the same TikTok account (its own video)."""
    video_id = scene.user.video(sizeBytes=len(scene.content), title="More")
    key = scene.stack.table.get_video(scene.user.user_id, video_id).s3Key  # type: ignore[union-attr]
    boto3.client("s3").put_object(
        Bucket=scene.stack.environment["VIDEO_BUCKET"], Key=key, Body=scene.content
    )
    created = scene.user.create(video_id, scene.account_id, future(minutes_ahead), title="More")
    assert created.status == 200, created.body
    schedule_id: str = created.body["data"]["scheduleId"]
    return schedule_id


def _command(scene: Scene, schedule_id: str) -> PublishCommand:
    post = scene.stack.table.get_schedule(scene.user.user_id, schedule_id)
    assert post is not None
    return PublishCommand(scheduleId=schedule_id, userId=post.userId, version=post.version)


def _listed(scene: Scene) -> dict[str, Any]:
    items = scene.user.call("GET", "/api/v1/schedule/scheduled-videos").body["data"]
    (item,) = [i for i in items if i["id"] == scene.schedule_id]
    return item


# --- 1. a status outage never leads to a second post --------------------------------------------


def test_status_outage_then_reactivation_publishes_exactly_once(scene_factory: Any) -> None:
    scene = scene_factory(size=12 * MIB)
    clock = scene.at_post_time()
    wiring.schedule_service().clock = clock.now  # the user acts on the same timeline
    publisher = scene.publisher(clock)
    _outage(scene)

    # The whole video goes out, then TikTok's status cannot be read: the first invocation and
    # Lambda's two retries run out, and Lambda hands the event to the give-up consumer.
    _invocations(publisher, clock, scene.command, 3)
    (upload,) = scene.complete_uploads()
    outcome = publisher.give_up(scene.command, "RetryLater: status fetch failing")

    # Not failed on our word: TikTok has the video, so the outcome is unconfirmed.
    assert outcome.result == "unconfirmed", outcome
    post = scene.post
    assert post.status == "publishing"
    assert post.publishOutcome == "unconfirmed"
    assert post.tiktokPublishId == upload["publish_id"]
    assert post.leaseExpiresAt is not None
    assert post.leaseExpiresAt <= clock.now()
    assert "unconfirmed" in (post.failureReason or "")
    listed = _listed(scene)
    assert listed["status"] == "pending"
    assert listed["publishOutcome"] == "unconfirmed"
    assert listed["tiktokPublishId"] == upload["publish_id"]
    assert scene.user.pending_count() == 1  # the slot and the video lock are still held

    # Re-timing it would mean a second post: refused, and nothing changes.
    before = scene.post
    moved = scene.user.put(
        scene.schedule_id, {"status": "pending", "scheduledPublishTime": future(60)}
    )
    assert moved.status == 409, moved.body
    assert scene.post == before

    # TikTok answers again; re-activation reconciles the same publish, never a new init.
    scene.stub.clear_faults()
    reactivated = scene.user.put(scene.schedule_id, {"status": "pending"})
    assert reactivated.status == 200, reactivated.body
    assert reactivated.body["data"]["status"] == "pending"
    post = scene.post
    assert post.tiktokPublishId == upload["publish_id"]
    # Cancelling cannot take a video back from TikTok: refused while the publish is held.
    assert scene.user.put(scene.schedule_id, {"status": "cancelled"}).status == 409
    assert scene.post == post
    armed = scene.stack.schedule(scene.schedule_id)
    assert armed is not None
    assert json.loads(armed["Target"]["Input"])["version"] == post.version

    final = publisher.publish(scene.command, _remaining(INVOCATION_MS))
    assert final.result == "executed", final
    assert len(scene.stub.posts()) == 1  # init was called once, ever
    (upload,) = scene.complete_uploads()
    assert scene.post.status == "executed"
    assert scene.post.tiktokPublishId == upload["publish_id"]
    assert scene.user.pending_count() == 0
    video = scene.stack.table.get_video(scene.user.user_id, scene.video_id)
    assert video is not None
    assert video.status == "published"
    assert video.pendingScheduleId is None


def test_give_up_consumer_settles_a_publish_id_from_tiktoks_status(scene_factory: Any) -> None:
    """Lambda gave up, but TikTok did publish: the post ends executed, not failed."""
    scene = scene_factory()
    clock = scene.at_post_time()
    publisher = scene.publisher(clock)
    _outage(scene)
    _invocations(publisher, clock, scene.command, 1)
    scene.stub.clear_faults()

    outcome = publisher.give_up(scene.command, "RetryLater: status fetch failing")

    assert outcome.result == "executed", outcome
    assert scene.post.status == "executed"
    assert len(scene.complete_uploads()) == 1
    assert scene.user.pending_count() == 0


def test_a_publish_tiktok_failed_may_be_reactivated_into_a_new_publish(
    scene_factory: Any,
) -> None:
    scene = scene_factory()
    scene.stub.fail_publish(None, "frame_rate_check_failed")
    outcome = scene.publisher(scene.at_post_time()).publish(scene.command, _remaining())
    assert outcome.result == "failed"
    assert scene.post.publishOutcome == "tiktok_failed"

    again = scene.user.put(
        scene.schedule_id, {"status": "pending", "scheduledPublishTime": future(30)}
    )
    assert again.status == 200, again.body
    assert scene.post.tiktokPublishId is None
    outcome = scene.publisher(scene.at_post_time()).publish(scene.command, _remaining())
    assert outcome.result == "executed", outcome
    assert [p["status"] for p in scene.stub.posts()] == ["FAILED", "PUBLISH_COMPLETE"]


def test_the_sweeps_last_give_up_fetches_the_status_then_ends_the_post(
    scene_factory: Any,
) -> None:
    scene = scene_factory()
    clock = scene.at_post_time()
    wiring.schedule_service().clock = clock.now
    publisher = scene.publisher(clock)
    _outage(scene)
    _invocations(publisher, clock, scene.command, 1)

    outcome = publisher.give_up(scene.command, "re-armed too often", final=True)

    assert outcome.result == "failed"
    post = scene.post
    assert post.status == "failed"
    assert post.publishOutcome == "unconfirmed"
    assert "never confirmed" in (post.failureReason or "")
    assert scene.user.pending_count() == 0
    # Re-activating it reconciles the same publish once TikTok answers.
    scene.stub.clear_faults()
    assert scene.user.put(scene.schedule_id, {"status": "pending"}).status == 200
    assert publisher.publish(scene.command, _remaining()).result == "executed"
    assert len(scene.stub.posts()) == 1
    assert scene.user.pending_count() == 0


# --- 2. TikTok's processing outlasting invocations -----------------------------------------------


def test_processing_that_outlasts_three_invocations_is_confirmed_by_a_later_check(
    scene_factory: Any,
) -> None:
    scene = scene_factory()
    scene.stub.set_processing_fetches(10_000)
    clock = scene.at_post_time()
    publisher = scene.publisher(clock)

    _invocations(publisher, clock, scene.command, 3)
    completed_at = scene.post.uploadCompletedAt
    assert completed_at is not None
    outcome = publisher.give_up(scene.command, "RetryLater: out of time")
    assert outcome.result == "unconfirmed", outcome
    assert scene.post.uploadCompletedAt == completed_at  # measured from the upload's end

    # TikTok finishes; the sweep's re-arm runs one more check, which confirms it.
    (upload,) = scene.complete_uploads()
    scene.stub.set_processing_fetches(0, publish_id=upload["publish_id"])
    clock.advance(600)
    store = PublicationStore(scene.stack.table)
    result = rearm_missed_posts(
        store, wiring.publish_scheduler(), clock.now(), give_up=_unexpected_give_up
    )
    assert result.rearmed == [scene.schedule_id]
    assert publisher.publish(scene.command, _remaining(INVOCATION_MS)).result == "executed"
    assert len(scene.stub.posts()) == 1
    assert scene.post.status == "executed"


def test_the_confirmation_timeout_counts_from_the_end_of_the_upload(scene_factory: Any) -> None:
    scene = scene_factory()
    scene.stub.set_processing_fetches(10_000)
    clock = scene.at_post_time()
    config = replace(FAST, confirm_timeout_seconds=150)
    publisher = scene.publisher(clock, config=config)

    # Each invocation waits under 60 s; the wait since the upload passes 150 s in the third.
    _invocations(publisher, clock, scene.command, 2)
    outcome = publisher.publish(scene.command, _remaining(INVOCATION_MS))

    assert outcome.result == "unconfirmed", outcome
    post = scene.post
    assert post.status == "publishing"
    assert post.publishOutcome == "unconfirmed"
    assert "after the upload ended" in (post.failureReason or "")
    assert post.uploadCompletedAt is not None
    assert post.leaseExpiresAt is not None
    assert post.leaseExpiresAt <= clock.now()


def _unexpected_give_up(post: ScheduleRecord, reason: str) -> None:
    raise AssertionError(f"the sweep gave up on {post.scheduleId}: {reason}")


# --- 3. token refresh, serialised per account ----------------------------------------------------


class GatedClock(FakeClock):
    """Runs that sleep before the rotated tokens are stored are held until they are, so the
    interleaving is decided by the test, not by timing."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self.saved = threading.Event()
        self.sleepers = 0
        self.changed = threading.Condition()

    def sleep(self, seconds: float) -> None:
        if not self.saved.is_set():
            with self.changed:
                self.sleepers += 1
                self.changed.notify_all()
            assert self.saved.wait(timeout=20), "the rotated tokens were never stored"
        super().sleep(seconds)


def test_concurrent_runs_of_one_account_refresh_once_and_all_publish(
    scene_factory: Any, atomic_requests: None
) -> None:
    runs = 4
    scene = scene_factory(access_ttl=60)  # every run finds the access token about to expire
    schedule_ids = [scene.schedule_id] + [_another_post(scene) for _ in range(runs - 1)]
    commands = [_command(scene, schedule_id) for schedule_id in schedule_ids]
    posts = [scene.stack.table.get_schedule(scene.user.user_id, s) for s in schedule_ids]
    clock = GatedClock(max(p.scheduledPublishTime for p in posts if p is not None))
    publisher = scene.publisher(clock)
    refreshes: list[str] = []
    finished_refreshes = 0
    original_refresh = publisher.tiktok.refresh_access_token
    original_save = publisher.store.save_tokens

    def refresh(*args: Any) -> Any:
        nonlocal finished_refreshes
        refreshes.append(threading.current_thread().name)
        try:
            return original_refresh(*args)
        finally:
            with clock.changed:
                finished_refreshes += 1
                clock.changed.notify_all()

    def save(*args: Any, **kwargs: Any) -> Any:
        # Store only once every other run is either waiting for us or has tried TikTok itself.
        with clock.changed:
            assert clock.changed.wait_for(
                lambda: clock.sleepers + finished_refreshes - 1 >= runs - 1, timeout=20
            )
        try:
            return original_save(*args, **kwargs)
        finally:
            clock.saved.set()

    publisher.tiktok.refresh_access_token = refresh  # type: ignore[method-assign]
    publisher.store.save_tokens = save  # type: ignore[method-assign]
    barrier = threading.Barrier(runs)
    results: dict[str, str] = {}

    def run(command: PublishCommand) -> None:
        barrier.wait()
        results[command.scheduleId] = publisher.publish(command, _remaining()).result

    threads = [
        threading.Thread(target=run, args=(c,), name=f"run-{i}") for i, c in enumerate(commands)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert results == dict.fromkeys(schedule_ids, "executed"), [
        scene.stack.table.get_schedule(scene.user.user_id, s).failureReason  # type: ignore[union-attr]
        for s in schedule_ids
    ]
    assert len(refreshes) == 1  # one run rotated the tokens; the others used them
    assert len(scene.complete_uploads()) == runs
    account = scene.stack.table.get_account(scene.user.user_id, scene.account_id)
    assert account is not None
    assert account.refreshLeaseToken is None
    assert account.needsReconnection is None
    # The stored refresh token is the live one.
    stored = publisher.cipher.decrypt(account.refreshTokenCipher, scene.account_id, "refresh")
    TikTokClient(scene.stub.base_url).refresh_access_token(
        scene.stub.client_key, scene.stub.client_secret, stored
    )


def test_rotated_tokens_are_stored_through_kms_throttling(scene_factory: Any) -> None:
    scene = scene_factory(access_ttl=60)
    publisher = scene.publisher(scene.at_post_time())
    original = publisher.cipher.encrypt
    failures = iter(range(2))

    def throttled_encrypt(*args: Any) -> str:
        if next(failures, None) is not None:
            raise _throttled("Encrypt")
        return original(*args)

    publisher.cipher.encrypt = throttled_encrypt  # type: ignore[method-assign]
    outcome = publisher.publish(scene.command, _remaining())

    assert outcome.result == "executed", outcome
    account = scene.stack.table.get_account(scene.user.user_id, scene.account_id)
    assert account is not None
    assert account.needsReconnection is None
    stored = publisher.cipher.decrypt(account.refreshTokenCipher, scene.account_id, "refresh")
    TikTokClient(scene.stub.base_url).refresh_access_token(
        scene.stub.client_key, scene.stub.client_secret, stored
    )


def test_a_rotation_that_cannot_be_saved_marks_the_account_for_reconnection(
    scene_factory: Any,
) -> None:
    scene = scene_factory(access_ttl=60)
    second = _another_post(scene, minutes_ahead=25)
    publisher = scene.publisher(scene.at_post_time())

    def failing_save(*args: Any, **kwargs: Any) -> Any:
        raise _throttled("UpdateItem")

    publisher.store.save_tokens = failing_save  # type: ignore[method-assign]
    figures = PublishMetrics()
    outcome = publisher.publish(scene.command, _remaining(), figures)

    # This run still holds a working access token and finishes its own post with it...
    assert outcome.result == "executed", outcome
    assert "TokenRotationLost" in figures.events
    account = scene.stack.table.get_account(scene.user.user_id, scene.account_id)
    assert account is not None
    reason = account.needsReconnection or ""
    assert "could not be saved" in reason
    assert "ThrottlingException" in reason
    assert "reconnect the account" in reason
    # ...and later posts of the account fail at once with that exact reason, not a
    # misleading one, without another refresh attempt.
    later = scene.publisher(FakeClock(scene.post.scheduledPublishTime + timedelta(minutes=5)))
    result = later.publish(_command(scene, second), _remaining())
    assert result.result == "failed"
    failed = scene.stack.table.get_schedule(scene.user.user_id, second)
    assert failed is not None
    assert failed.failureReason == f"the TikTok account needs to be reconnected: {reason}"


# --- 4. the sweep -------------------------------------------------------------------------------


def test_the_sweep_racing_a_move_never_replaces_the_newer_schedule(scene_factory: Any) -> None:
    scene = scene_factory()
    store = PublicationStore(scene.stack.table)
    scheduler = wiring.publish_scheduler()
    stale = scene.post
    now = stale.scheduledPublishTime + timedelta(minutes=10)
    snapshot = list(store.due_posts(now))  # the due index as the sweep reads it
    assert [p.scheduleId for p in snapshot] == [scene.schedule_id]

    # The user moves the post before the sweep acts on its snapshot.
    moved = scene.user.put(scene.schedule_id, {"scheduledPublishTime": future(90)})
    assert moved.status == 200, moved.body
    own = scene.stack.schedule(scene.schedule_id)
    assert own is not None
    store.due_posts = lambda *args, **kwargs: iter(snapshot)  # type: ignore[method-assign]

    result = rearm_missed_posts(store, scheduler, now, give_up=_unexpected_give_up)

    assert result.rearmed == []
    after = scene.stack.schedule(scene.schedule_id)
    assert after == own  # the moved post's schedule is untouched
    assert json.loads(after["Target"]["Input"])["version"] == scene.post.version == 2
    assert [s["Name"] for s in scene.stack.schedules()] == [f"post-{scene.schedule_id}"]


def test_a_move_right_after_a_rearm_wins(scene_factory: Any) -> None:
    scene = scene_factory()
    store = PublicationStore(scene.stack.table)
    old = scene.command
    now = scene.post.scheduledPublishTime + timedelta(minutes=10)
    result = rearm_missed_posts(store, wiring.publish_scheduler(), now, give_up=_unexpected_give_up)
    assert result.rearmed == [scene.schedule_id]

    moved = scene.user.put(scene.schedule_id, {"scheduledPublishTime": future(90)})
    assert moved.status == 200, moved.body
    own = scene.stack.schedule(scene.schedule_id)
    assert own is not None
    assert json.loads(own["Target"]["Input"])["version"] == scene.post.version
    # The re-arm, created under its own name, still carries the old version: a no-op.
    rearm = next(s for s in scene.stack.schedules() if s["Name"].startswith("rearm-"))
    assert json.loads(rearm["Target"]["Input"])["version"] == old.version
    outcome = scene.publisher(FakeClock(now)).publish(old, _remaining())
    assert outcome.result == "skipped"
    assert "stale" in outcome.detail
    assert scene.post.status == "pending"


def test_the_sweep_pages_past_live_posts_to_every_missed_one(scene_factory: Any) -> None:
    scenes = [scene_factory(minutes_ahead=20 + i) for i in range(5)]
    store = PublicationStore(scenes[0].stack.table)
    now = scenes[-1].post.scheduledPublishTime + timedelta(minutes=10)
    for live in scenes[:3]:  # the oldest three are held by live runs
        assert store.claim(live.post, now, now + timedelta(minutes=10), "live") is not None

    result = rearm_missed_posts(
        store, wiring.publish_scheduler(), now, give_up=_unexpected_give_up, page_size=2
    )

    assert result.rearmed == [s.schedule_id for s in scenes[3:]]


def test_the_sweep_gives_up_after_a_bounded_number_of_rearms(scene_factory: Any) -> None:
    scene = scene_factory()
    # The video's lock drifted (changed by hand): the post can never end normally.
    scene.stack.table.client.update_item(
        TableName=scene.stack.table.name,
        Key={"pk": {"S": f"USER#{scene.user.user_id}"}, "sk": {"S": f"VIDEO#{scene.video_id}"}},
        UpdateExpression="SET pendingScheduleId = :other",
        ExpressionAttributeValues={":other": {"S": "some-other-post"}},
    )
    store = PublicationStore(scene.stack.table)
    scheduler = wiring.publish_scheduler()
    now = scene.post.scheduledPublishTime + timedelta(minutes=10)
    publisher = scene.publisher(FakeClock(now))
    given_up: list[str] = []

    def give_up(post: ScheduleRecord, reason: str) -> None:
        given_up.append(reason)
        command = PublishCommand(
            scheduleId=post.scheduleId, userId=post.userId, version=post.version
        )
        publisher.give_up(command, reason, final=True)

    for sweep in range(3):
        result = rearm_missed_posts(store, scheduler, now, give_up=give_up, max_rearms=2)
        assert result.rearmed == ([scene.schedule_id] if sweep < 2 else []), sweep
        now += timedelta(minutes=5)

    assert given_up == ["the sweep re-armed it 2 times without a result"]
    post = scene.post
    assert post.status == "failed"
    assert "re-armed it 2 times" in (post.failureReason or "")
    assert scene.user.pending_count() == 0  # the slot was given back, once
    names = sorted(s["Name"] for s in scene.stack.schedules() if s["Name"].startswith("rearm-"))
    assert names == [f"rearm-{scene.schedule_id}-1-1", f"rearm-{scene.schedule_id}-1-2"]
    # A later sweep finds nothing left to do.
    assert rearm_missed_posts(store, scheduler, now, give_up=give_up, max_rearms=2).rearmed == []


# --- 5. smaller edges ---------------------------------------------------------------------------


def test_a_416_without_content_range_is_retried_with_backoff_and_bounded(
    scene_factory: Any,
) -> None:
    scene = scene_factory(size=25 * MIB)
    clock = scene.at_post_time()
    publisher = scene.publisher(clock)
    scene.stub.fail_chunk(1, 416, "range_not_satisfiable", times=10_000, progress_header=False)
    original = publisher.tiktok.upload_chunk
    calls = 0

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls > 50:
            raise Crash("the upload loop does not end")
        return original(*args, **kwargs)

    publisher.tiktok.upload_chunk = counted  # type: ignore[method-assign]
    with pytest.raises(RetryLater):
        publisher.publish(scene.command, _remaining())

    assert calls <= FAST.transient_attempts + 1
    assert any(s >= FAST.backoff_seconds for s in clock.slept)
    assert scene.post.leaseExpiresAt is not None
    assert scene.post.leaseExpiresAt <= clock.now()
    scene.stub.clear_faults()
    assert publisher.publish(scene.command, _remaining()).result == "executed"
    (upload,) = scene.complete_uploads()
    assert upload["sha256"] == scene.sha256()


def test_a_single_416_without_content_range_resumes_from_tiktoks_count(
    scene_factory: Any,
) -> None:
    scene = scene_factory(size=25 * MIB)
    scene.stub.fail_chunk(1, 416, "range_not_satisfiable", progress_header=False)
    outcome = scene.publisher(scene.at_post_time()).publish(scene.command, _remaining())
    assert outcome.result == "executed", outcome
    (upload,) = scene.complete_uploads()
    assert upload["sha256"] == scene.sha256()


def test_a_failure_write_that_raises_still_releases_the_lease(scene_factory: Any) -> None:
    scene = scene_factory()
    scene.stub.fail_next("video_init", 403, "spam_risk_too_many_posts", times=2)
    clock = scene.at_post_time()
    publisher = scene.publisher(clock)
    original = publisher.store.finish
    calls = 0

    def failing_once(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise _throttled("TransactWriteItems")
        return original(*args, **kwargs)

    publisher.store.finish = failing_once  # type: ignore[method-assign]
    with pytest.raises(ClientError):
        publisher.publish(scene.command, _remaining(INVOCATION_MS))

    post = scene.post
    assert post.status == "publishing"
    assert post.leaseExpiresAt is not None
    assert post.leaseExpiresAt <= clock.now()
    assert "ThrottlingException" in (post.lastError or "")
    # The retry starts at once (no waiting out the lease) and ends the post with the reason.
    outcome = publisher.publish(scene.command, _remaining(INVOCATION_MS))
    assert outcome.result == "failed"
    assert "spam_risk_too_many_posts" in (scene.post.failureReason or "")
    assert scene.user.pending_count() == 0


def test_the_give_up_consumer_handles_the_sweeps_record(scene_factory: Any) -> None:
    """The sweep's give-up goes through the same queue consumer as Lambda's."""
    scene = scene_factory()
    record = _failure_record(scene.command, "the sweep re-armed it 12 times without a result")
    body = json.loads(record["Records"][0]["body"])
    body["responsePayload"]["errorType"] = "SweepGaveUp"
    record["Records"][0]["body"] = json.dumps(body)
    result = scene.stack.gateway.runner.invoke("PublishFailuresFunction", record)
    assert result == {"batchItemFailures": []}
    assert scene.post.status == "failed"
    assert scene.post.failureReason == (
        "publishing gave up after repeated failures: the sweep re-armed it 12 times without"
        " a result"
    )


def test_the_give_up_queue_sends_what_the_consumer_reads(scene_factory: Any) -> None:
    from post_scheduler.adapters.give_up_queue import GiveUpQueue

    scene = scene_factory()
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="give-up-test")["QueueUrl"]
    GiveUpQueue(url, sqs).send(scene.post, "the sweep re-armed it 12 times without a result")
    (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
    body = json.loads(message["Body"])
    assert body["requestPayload"] == scene.command.model_dump()
    assert body["responsePayload"]["errorType"] == "SweepGaveUp"
    assert datetime.fromisoformat(body["timestamp"]) <= datetime.now(UTC)
