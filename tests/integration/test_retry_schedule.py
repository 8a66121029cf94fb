"""POST /api/v1/schedule/{scheduleId}/retry: a failed post back to pending within the plan
limit, and published once afterwards (also when TikTok already holds a publish id for it)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from post_scheduler.domain.publishing import RetryLater
from post_scheduler.timestamps import parse_utc
from tests.integration import test_publisher as publishing
from tests.support import AwsStack, User, assert_error, assert_ok, future

pytest_plugins = ("tests.tiktok_fixtures",)

scene_factory = publishing.scene_factory
LEAD = 900  # the template's default minimum lead


@pytest.fixture
def basic(stack: AwsStack) -> User:
    return stack.user("basic")


def retry(user: User, schedule_id: str, body: Any = None, **kwargs: Any) -> Any:
    return user.call("POST", f"/api/v1/schedule/{schedule_id}/retry", body, **kwargs)


def failed_post(user: User, **fields: Any) -> str:
    schedule_id = user.scheduled()
    user.mark(schedule_id, "failed", failureReason="TikTok spam_risk", failedAt=datetime.now(UTC))
    return schedule_id


def test_a_failed_post_is_pending_again_at_now_plus_the_lead(stack: AwsStack, basic: User) -> None:
    schedule_id = failed_post(basic)
    assert basic.pending_count() == 0
    before = datetime.now(UTC)
    post = assert_ok(retry(basic, schedule_id))
    after = datetime.now(UTC)

    assert post["id"] == schedule_id
    assert post["status"] == "pending"
    assert "failureReason" not in post
    when = parse_utc(post["scheduledPublishTime"])
    assert before + timedelta(seconds=LEAD) <= when <= after + timedelta(seconds=LEAD + 1)
    assert when.microsecond == 0
    assert basic.pending_count() == 1
    item = basic.post_item(schedule_id)
    assert item is not None
    assert item["status"] == "pending"
    assert basic.video_item(item["videoId"])["pendingScheduleId"] == schedule_id
    schedule = stack.schedule(schedule_id)
    assert schedule is not None
    # Armed again, for the post's new version (an older event is ignored as stale).
    assert json.loads(schedule["Target"]["Input"])["version"] == int(item["version"]) == 2


def test_a_time_can_be_given(basic: User) -> None:
    schedule_id = failed_post(basic)
    when = future(180)
    post = assert_ok(retry(basic, schedule_id, {"scheduledPublishTime": when}))
    assert post["scheduledPublishTime"] == when.replace("Z", ".000Z")


@pytest.mark.parametrize(
    ("minutes", "message"), [(-5, "past"), (2, "at least"), (60 * 24 * 400, "within")]
)
def test_a_bad_time_is_422_and_changes_nothing(
    stack: AwsStack, basic: User, minutes: int, message: str
) -> None:
    schedule_id = failed_post(basic)
    body = {"scheduledPublishTime": future(minutes)}
    with stack.unchanged():
        error = assert_error(retry(basic, schedule_id, body), 422, "UNPROCESSABLE_ENTITY")
    assert message in error["message"]


@pytest.mark.parametrize("status", ["pending", "executed", "cancelled"])
def test_only_a_failed_post_can_be_retried(stack: AwsStack, basic: User, status: str) -> None:
    schedule_id = basic.scheduled()
    if status == "cancelled":
        assert_ok(basic.put(schedule_id, {"status": "cancelled"}))
    elif status == "executed":
        basic.mark(schedule_id, "executed", executedAt=datetime.now(UTC))
    with stack.unchanged():
        error = assert_error(retry(basic, schedule_id), 409, "CONFLICT")
    assert error["details"] == {"status": status}


def test_the_plan_limit_holds(stack: AwsStack, basic: User) -> None:
    schedule_id = failed_post(basic)
    for index in range(10):
        basic.scheduled(future(100 + index))
    with stack.unchanged():
        assert_error(retry(basic, schedule_id), 403, "SCHEDULING_LIMIT_EXCEEDED")
    assert basic.pending_count() == 10


def test_another_users_post_and_bad_bodies(stack: AwsStack, basic: User) -> None:
    schedule_id = failed_post(basic)
    other = stack.user("basic")
    with stack.unchanged():
        assert_error(retry(other, schedule_id), 404, "NOT_FOUND")
        assert_error(retry(basic, schedule_id, {"when": future()}), 400, "VALIDATION_ERROR")
        assert_error(
            retry(basic, schedule_id, {"scheduledPublishTime": "2030-01-01T10:00:00+02:00"}),
            400,
            "VALIDATION_ERROR",
        )
        assert_error(retry(basic, schedule_id, [1]), 400, "VALIDATION_ERROR")


def test_an_empty_object_is_the_default(basic: User) -> None:
    schedule_id = failed_post(basic)
    assert assert_ok(retry(basic, schedule_id, {}))["status"] == "pending"


def test_a_retry_takes_an_idempotency_key(stack: AwsStack, basic: User) -> None:
    schedule_id = failed_post(basic)
    first = retry(basic, schedule_id, headers={"Idempotency-Key": "retry-1"})
    assert_ok(first)
    with stack.unchanged():
        again = retry(basic, schedule_id, headers={"Idempotency-Key": "retry-1"})
    assert again.body == first.body
    assert again.headers["idempotent-replayed"] == "true"
    # Without the key the second retry is what it is: the post is not failed any more.
    assert_error(retry(basic, schedule_id), 409, "CONFLICT")


# --- published once after a retry -------------------------------------------------------------


def _publish_at_its_time(scene: Any) -> Any:
    return scene.publisher(scene.at_post_time()).publish(scene.command, publishing._remaining())


def test_a_retried_post_without_a_publish_id_publishes_once(scene_factory: Any) -> None:
    scene = scene_factory()
    # Failed before TikTok's init, as when the creator's privacy options refused the post.
    scene.user.mark(scene.schedule_id, "failed", failureReason="privacy level not allowed")
    assert scene.post.tiktokPublishId is None

    assert_ok(retry(scene.user, scene.schedule_id))
    assert _publish_at_its_time(scene).result == "executed"
    publishing._assert_published_once(scene)
    assert len(scene.stub.posts()) == 1


def test_a_retried_post_whose_publish_tiktok_holds_is_not_posted_twice(
    scene_factory: Any,
) -> None:
    scene = scene_factory()
    # The upload completes but every status check fails, until Lambda gives up.
    scene.stub.fail_next("status_fetch", 500, times=1000)
    with pytest.raises(RetryLater):
        _publish_at_its_time(scene)
    publish_id = scene.post.tiktokPublishId
    assert publish_id is not None
    assert len(scene.complete_uploads()) == 1
    # The run's lease ended (on the test's clock it did at once; in real time it lapses).
    current = scene.post
    lapsed = datetime.now(UTC) - timedelta(seconds=1)
    scene.stack.table.replace_schedule(
        current.model_copy(update={"leaseExpiresAt": lapsed, "revision": current.revision + 1}),
        expected=current,
    )
    scene.stack.gateway.runner.invoke(
        "PublishFailuresFunction",
        publishing._failure_record(scene.command, "TikTok internal_error: status unavailable"),
    )
    # TikTok could not say: the post is not failed but unconfirmed, so there is nothing to retry.
    assert scene.post.publishOutcome == "unconfirmed"
    assert_error(retry(scene.user, scene.schedule_id), 409, "CONFLICT")
    # TikTok stayed silent through every check: the sweep's last give-up ends the post failed,
    # its outcome still unconfirmed (TikTok may yet publish the video it holds).
    scene.user.mark(
        scene.schedule_id,
        "failed",
        failureReason="TikTok never confirmed publish " + publish_id,
        publishOutcome="unconfirmed",
        claimToken=None,
        leaseExpiresAt=None,
    )
    scene.stub.clear_faults()

    # A new time cannot be honoured: TikTok has the video already.
    later = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert_error(
        retry(scene.user, scene.schedule_id, {"scheduledPublishTime": later}), 409, "CONFLICT"
    )
    assert_ok(retry(scene.user, scene.schedule_id))
    _publish_at_its_time(scene)
    # The stand-in TikTok received the one post only, and the post is executed with it.
    assert len(scene.stub.posts()) == 1
    assert scene.post.status == "executed"
    assert scene.post.tiktokPublishId == publish_id
