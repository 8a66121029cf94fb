"""PUT /api/v1/schedule/{scheduleId}: every status transition, time moves, caption edits and
errors, with the table (post, video lock, plan counter) and the Scheduler checked each time."""

from __future__ import annotations

import json
from typing import Any

import pytest

from post_scheduler.adapters.table import due_shard
from tests.support import (
    API_TIME,
    AwsStack,
    User,
    assert_error,
    assert_ok,
    at_minute_before,
    future,
)


@pytest.fixture
def basic(stack: AwsStack) -> User:
    return stack.user("basic")


def pending_post(user: User, when: str | None = None, **extra: Any) -> tuple[str, str, str]:
    """(schedule id, video id, account id) of a new pending post."""
    video, account = user.video(), user.account()
    response = user.create(video, account, when, **extra)
    return assert_ok(response)["scheduleId"], video, account


def input_of(stack: AwsStack, schedule_id: str) -> dict[str, Any]:
    schedule = stack.schedule(schedule_id)
    assert schedule is not None
    value: dict[str, Any] = json.loads(schedule["Target"]["Input"])
    return value


def assert_item_shape(item: dict[str, Any]) -> None:
    assert {"id", "scheduledPublishTime", "status", "video", "tiktokAccount"} <= set(item)
    assert set(item["video"]) == {"id", "title", "description"}
    assert set(item["tiktokAccount"]) == {"id", "username", "displayName"}
    assert API_TIME.match(item["scheduledPublishTime"])


# --- pending -> pending ---------------------------------------------------------------------


def test_move_the_time(stack: AwsStack, basic: User) -> None:
    schedule_id, video, account = pending_post(basic, future(60))
    new_time = future(24 * 60 + 7)

    response = basic.put(schedule_id, {"scheduledPublishTime": new_time, "status": "pending"})

    item = assert_ok(response)
    assert_item_shape(item)
    assert item["id"] == schedule_id
    assert item["status"] == "pending"
    assert item["scheduledPublishTime"] == new_time.replace("Z", ".000Z")
    assert item["video"]["id"] == video
    assert item["tiktokAccount"]["id"] == account
    post = basic.post_item(schedule_id)
    assert post is not None
    assert post["scheduledPublishTime"] == item["scheduledPublishTime"]
    assert post["version"] == 2
    assert post["dueAt"].startswith(item["scheduledPublishTime"])
    schedule = stack.schedule(schedule_id)
    assert schedule is not None
    assert schedule["ScheduleExpression"] == at_minute_before(new_time)
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["Target"]["RetryPolicy"]
    assert schedule["Target"]["DeadLetterConfig"]["Arn"]
    assert input_of(stack, schedule_id) == {
        "scheduleId": schedule_id,
        "userId": basic.user_id,
        "version": 2,
    }
    assert len(stack.schedules()) == 1
    assert basic.pending_count() == 1
    assert basic.video_item(video)["pendingScheduleId"] == schedule_id


def test_move_without_status(stack: AwsStack, basic: User) -> None:
    schedule_id, _, _ = pending_post(basic)
    new_time = future(300)
    item = assert_ok(basic.put(schedule_id, {"scheduledPublishTime": new_time}))
    assert item["status"] == "pending"
    assert input_of(stack, schedule_id)["version"] == 2
    # Moving again bumps the version again.
    assert_ok(basic.put(schedule_id, {"scheduledPublishTime": future(400)}))
    assert input_of(stack, schedule_id)["version"] == 3
    assert basic.pending_count() == 1


def test_moved_post_shows_in_the_list_at_its_new_time(basic: User) -> None:
    first, _, _ = pending_post(basic, future(60))
    second, _, _ = pending_post(basic, future(120))
    assert_ok(basic.put(first, {"scheduledPublishTime": future(180)}))
    listed = assert_ok(basic.call("GET", "/api/v1/schedule/scheduled-videos"))
    assert [i["id"] for i in listed] == [second, first]


def test_move_breaking_the_time_rules(
    stack: AwsStack, basic: User, subtests: pytest.Subtests
) -> None:
    schedule_id, _, _ = pending_post(basic)
    cases = [(-5, "in the past"), (5, "at least 900 seconds"), (60 * 24 * 400, "within 365 days")]
    with stack.unchanged():
        for minutes, message in cases:
            with subtests.test(minutes=minutes):
                response = basic.put(schedule_id, {"scheduledPublishTime": future(minutes)})
                assert message in assert_error(response, 422, "UNPROCESSABLE_ENTITY")["message"]


def test_caption_and_hashtag_edits(stack: AwsStack, basic: User) -> None:
    schedule_id, _, _ = pending_post(basic, title="Old title", hashtags="#old")
    schedule_before = stack.schedule(schedule_id)

    item = assert_ok(basic.put(schedule_id, {"title": "New title", "hashtags": "#new  #tags"}))

    assert item["title"] == "New title"
    assert item["hashtags"] == "#new #tags"
    post = basic.post_item(schedule_id)
    assert post is not None
    assert (post["title"], post["hashtags"], post["version"]) == ("New title", "#new #tags", 1)
    # The time did not move, so neither did the schedule.
    assert stack.schedule(schedule_id) == schedule_before
    assert basic.pending_count() == 1


def test_clearing_the_title(basic: User) -> None:
    schedule_id, _, _ = pending_post(basic, title="A title")
    item = assert_ok(basic.put(schedule_id, {"title": None}))
    assert "title" not in item
    post = basic.post_item(schedule_id)
    assert post is not None
    assert "title" not in post


def test_post_options_edit(basic: User) -> None:
    schedule_id, _, _ = pending_post(basic)
    item = assert_ok(basic.put(schedule_id, {"options": {"privacyLevel": "SELF_ONLY"}}))
    assert item["options"]["privacyLevel"] == "SELF_ONLY"


def test_an_edit_may_not_push_the_caption_past_tiktoks_limit(stack: AwsStack, basic: User) -> None:
    schedule_id, _, _ = pending_post(basic, title="a" * 2150)
    with stack.unchanged():
        response = basic.put(schedule_id, {"hashtags": "#" + "b" * 60})
    assert_error(response, 400, "VALIDATION_ERROR")
    assert_ok(basic.put(schedule_id, {"hashtags": "#" + "b" * 40}))


def test_no_op_updates_write_nothing(
    stack: AwsStack, basic: User, subtests: pytest.Subtests
) -> None:
    when = future(90)
    schedule_id, _, _ = pending_post(basic, when, title="Same")
    with stack.unchanged():
        for change in (
            {"status": "pending"},
            {"title": "Same"},
            {"status": "pending", "title": "Same"},
        ):
            with subtests.test(change=change):
                item = assert_ok(basic.put(schedule_id, change))
                assert item["status"] == "pending"
                assert item["scheduledPublishTime"] == when.replace("Z", ".000Z")


def test_same_time_again_is_a_no_op(stack: AwsStack, basic: User) -> None:
    when = future(90)
    schedule_id, _, _ = pending_post(basic, when)
    with stack.unchanged():
        assert_ok(basic.put(schedule_id, {"scheduledPublishTime": when.replace("Z", "+00:00")}))


# --- pending -> cancelled / executed ----------------------------------------------------------


def test_cancel(stack: AwsStack, basic: User) -> None:
    schedule_id, video, account = pending_post(basic)
    assert stack.schedule(schedule_id) is not None

    item = assert_ok(basic.put(schedule_id, {"status": "cancelled"}))

    assert item["status"] == "cancelled"
    assert stack.schedule(schedule_id) is None
    assert basic.pending_count() == 0
    assert "pendingScheduleId" not in basic.video_item(video)
    post = basic.post_item(schedule_id)
    assert post is not None
    assert post["status"] == "cancelled"
    assert "cancelledAt" in post
    assert "dueShard" not in post  # out of the upcoming list
    # The video is free again.
    assert_ok(basic.create(video, account))
    assert basic.pending_count() == 1


def test_cancelling_twice_is_a_no_op(stack: AwsStack, basic: User) -> None:
    schedule_id, _, _ = pending_post(basic)
    assert_ok(basic.put(schedule_id, {"status": "cancelled"}))
    with stack.unchanged():
        assert assert_ok(basic.put(schedule_id, {"status": "cancelled"}))["status"] == "cancelled"
    assert basic.pending_count() == 0


def _emitted(metric: str, output: str) -> int:
    """How many EMF records on stdout carry `metric`."""
    return sum(metric in record for record in output.splitlines() if '"_aws"' in record)


def test_only_an_actual_cancellation_counts_in_the_metric(
    basic: User, capsys: pytest.CaptureFixture[str]
) -> None:
    schedule_id, _, _ = pending_post(basic)
    capsys.readouterr()
    assert_ok(basic.put(schedule_id, {"status": "cancelled"}))
    assert _emitted("PostsCancelled", capsys.readouterr().out) == 1
    assert_ok(basic.put(schedule_id, {"status": "cancelled"}))  # already cancelled
    assert _emitted("PostsCancelled", capsys.readouterr().out) == 0


def test_mark_executed(stack: AwsStack, basic: User) -> None:
    schedule_id, video, account = pending_post(basic)

    item = assert_ok(basic.put(schedule_id, {"status": "executed"}))

    assert item["status"] == "executed"
    assert API_TIME.match(item["executedAt"])
    assert stack.schedule(schedule_id) is None
    assert basic.pending_count() == 0
    video_item = basic.video_item(video)
    assert video_item["status"] == "published"
    assert "pendingScheduleId" not in video_item
    post = basic.post_item(schedule_id)
    assert post is not None
    assert post["status"] == "executed"
    # A published video cannot be scheduled again.
    assert_error(basic.create(video, account), 409, "CONFLICT")


def test_cancel_with_a_new_time_keeps_the_time(stack: AwsStack, basic: User) -> None:
    schedule_id, _, _ = pending_post(basic)
    new_time = future(200)
    item = assert_ok(
        basic.put(schedule_id, {"status": "cancelled", "scheduledPublishTime": new_time})
    )
    assert item["status"] == "cancelled"
    assert item["scheduledPublishTime"] == new_time.replace("Z", ".000Z")
    assert stack.schedule(schedule_id) is None
    assert basic.pending_count() == 0


# --- cancelled -> ... -------------------------------------------------------------------------


def test_reactivate_a_cancelled_post(stack: AwsStack, basic: User) -> None:
    schedule_id, video, _ = pending_post(basic)
    assert_ok(basic.put(schedule_id, {"status": "cancelled"}))
    new_time = future(500)

    item = assert_ok(
        basic.put(schedule_id, {"status": "pending", "scheduledPublishTime": new_time})
    )

    assert item["status"] == "pending"
    assert basic.pending_count() == 1
    assert basic.video_item(video)["pendingScheduleId"] == schedule_id
    schedule = stack.schedule(schedule_id)
    assert schedule is not None
    assert schedule["ScheduleExpression"] == at_minute_before(new_time)
    assert input_of(stack, schedule_id)["version"] == 2
    post = basic.post_item(schedule_id)
    assert post is not None
    assert post["status"] == "pending"
    assert "cancelledAt" not in post
    assert post["dueShard"] == due_shard(schedule_id)


def test_reactivate_at_the_stored_time(stack: AwsStack, basic: User) -> None:
    when = future(90)
    schedule_id, _, _ = pending_post(basic, when)
    assert_ok(basic.put(schedule_id, {"status": "cancelled"}))
    item = assert_ok(basic.put(schedule_id, {"status": "pending"}))
    assert item["scheduledPublishTime"] == when.replace("Z", ".000Z")
    schedule = stack.schedule(schedule_id)
    assert schedule is not None
    assert schedule["ScheduleExpression"] == at_minute_before(when)


def test_reactivate_when_the_stored_time_has_passed(stack: AwsStack, basic: User) -> None:
    schedule_id, _, _ = pending_post(basic)
    assert_ok(basic.put(schedule_id, {"status": "cancelled"}))
    # The cancelled post's time passes (written directly: the API would refuse a past time).
    post = basic.stack.table.get_schedule(basic.user_id, schedule_id)
    assert post is not None
    basic.stack.table.replace_schedule(
        post.model_copy(
            update={"scheduledPublishTime": post.createdAt, "revision": post.revision + 1}
        ),
        expected=post,
    )
    with stack.unchanged():
        response = basic.put(schedule_id, {"status": "pending"})
    assert_error(response, 422, "UNPROCESSABLE_ENTITY")


def test_reactivation_counts_against_the_limit(stack: AwsStack, basic: User) -> None:
    cancelled, video, _ = pending_post(basic)
    assert_ok(basic.put(cancelled, {"status": "cancelled"}))
    account = basic.account()
    for index in range(10):  # a minute apart (TikTok's per-account limit per minute)
        assert_ok(basic.create(basic.video(), account, future(90 + index)))

    with stack.unchanged():
        response = basic.put(cancelled, {"status": "pending"})

    error = assert_error(response, 403, "SCHEDULING_LIMIT_EXCEEDED")
    assert error["details"] == {"plan": "basic", "limit": 10}
    assert basic.pending_count() == 10
    assert "pendingScheduleId" not in basic.video_item(video)


def test_reactivation_when_the_video_was_scheduled_again(stack: AwsStack, basic: User) -> None:
    first, video, account = pending_post(basic)
    assert_ok(basic.put(first, {"status": "cancelled"}))
    second = assert_ok(basic.create(video, account))["scheduleId"]
    with stack.unchanged():
        response = basic.put(first, {"status": "pending"})
    error = assert_error(response, 409, "CONFLICT")
    assert error["details"]["scheduleId"] == second


def test_reactivation_after_the_plan_lost_scheduling(stack: AwsStack, basic: User) -> None:
    schedule_id, _, _ = pending_post(basic)
    assert_ok(basic.put(schedule_id, {"status": "cancelled"}))
    stack.table.client.update_item(
        TableName=stack.table.name,
        Key={"pk": {"S": f"USER#{basic.user_id}"}, "sk": {"S": "PROFILE"}},
        UpdateExpression="SET #plan = :free",
        ExpressionAttributeNames={"#plan": "plan"},
        ExpressionAttributeValues={":free": {"S": "free"}},
    )
    with stack.unchanged():
        response = basic.put(schedule_id, {"status": "pending"})
    assert_error(response, 403, "FORBIDDEN")


def test_cancelled_to_executed_is_a_conflict(stack: AwsStack, basic: User) -> None:
    schedule_id, video, _ = pending_post(basic)
    assert_ok(basic.put(schedule_id, {"status": "cancelled"}))
    with stack.unchanged():
        response = basic.put(schedule_id, {"status": "executed"})
    assert_error(response, 409, "CONFLICT")
    assert basic.video_item(video)["status"] == "ready"


def test_editing_a_cancelled_post(stack: AwsStack, basic: User) -> None:
    schedule_id, _, _ = pending_post(basic)
    assert_ok(basic.put(schedule_id, {"status": "cancelled"}))
    item = assert_ok(basic.put(schedule_id, {"title": "Still cancelled"}))
    assert (item["status"], item["title"]) == ("cancelled", "Still cancelled")
    assert stack.schedule(schedule_id) is None
    assert basic.pending_count() == 0


# --- executed -> anything: 409 -----------------------------------------------------------------


EXECUTED_CHANGES: list[dict[str, Any]] = [
    {"status": "pending"},
    {"status": "cancelled"},
    {"status": "executed"},
    {"scheduledPublishTime": "2031-01-01T00:00:00Z"},
    {"title": "New title"},
    {"hashtags": "#late"},
    {"status": "pending", "scheduledPublishTime": "2031-01-01T00:00:00Z"},
]


def test_an_executed_post_cannot_change(
    stack: AwsStack, basic: User, subtests: pytest.Subtests
) -> None:
    schedule_id, _, _ = pending_post(basic)
    assert_ok(basic.put(schedule_id, {"status": "executed"}))
    with stack.unchanged():
        for change in EXECUTED_CHANGES:
            with subtests.test(change=change):
                assert_error(basic.put(schedule_id, change), 409, "CONFLICT")
    assert basic.pending_count() == 0


# --- states only the publisher reaches ----------------------------------------------------------


def test_a_post_being_published_cannot_change(stack: AwsStack, basic: User) -> None:
    schedule_id, _, _ = pending_post(basic)
    basic.mark(schedule_id, "publishing")
    for change in ({"status": "cancelled"}, {"title": "x"}, {"status": "executed"}):
        with stack.unchanged():
            assert_error(basic.put(schedule_id, change), 409, "CONFLICT")
    # Clients see it as pending.
    listed = assert_ok(basic.call("GET", "/api/v1/schedule/scheduled-videos"))
    assert [i["status"] for i in listed] == ["pending"]


def test_a_failed_post_can_be_retried_or_cancelled(stack: AwsStack, basic: User) -> None:
    schedule_id, video, _ = pending_post(basic)
    basic.mark(schedule_id, "failed", failureReason="TikTok said no")
    assert basic.pending_count() == 0
    listed = assert_ok(basic.call("GET", "/api/v1/schedule/scheduled-videos"))
    assert listed[0]["status"] == "failed"
    assert listed[0]["failureReason"] == "TikTok said no"

    with stack.unchanged():
        assert_error(basic.put(schedule_id, {"status": "executed"}), 409, "CONFLICT")

    item = assert_ok(
        basic.put(schedule_id, {"status": "pending", "scheduledPublishTime": future(99)})
    )
    assert item["status"] == "pending"
    assert "failureReason" not in item
    assert basic.pending_count() == 1
    assert basic.video_item(video)["pendingScheduleId"] == schedule_id
    assert input_of(stack, schedule_id)["version"] == 2
    post = basic.post_item(schedule_id)
    assert post is not None
    assert "failureReason" not in post

    assert_ok(basic.put(schedule_id, {"status": "cancelled"}))
    assert basic.pending_count() == 0


def test_a_failed_post_cancelled(stack: AwsStack, basic: User) -> None:
    schedule_id, _, _ = pending_post(basic)
    basic.mark(schedule_id, "failed", failureReason="gave up")
    item = assert_ok(basic.put(schedule_id, {"status": "cancelled"}))
    assert item["status"] == "cancelled"
    assert basic.pending_count() == 0


# --- the counter through a long life ------------------------------------------------------------


def test_the_plan_counter_stays_exact(stack: AwsStack, basic: User) -> None:
    account = basic.account()
    ids = [assert_ok(basic.create(basic.video(), account))["scheduleId"] for _ in range(4)]
    assert basic.pending_count() == 4
    steps: list[tuple[str, dict[str, Any] | None, int]] = [
        (ids[0], {"status": "cancelled"}, 3),
        (ids[0], {"status": "cancelled"}, 3),
        (ids[0], {"status": "pending"}, 4),
        (ids[1], {"scheduledPublishTime": future(600)}, 4),
        (ids[1], {"status": "executed"}, 3),
        (ids[1], {"status": "pending"}, 3),  # 409
        (ids[2], None, 2),  # delete a pending post
        (ids[0], {"status": "cancelled"}, 1),
        (ids[0], None, 1),  # delete a cancelled post
        (ids[3], {"title": "x"}, 1),
    ]
    for schedule_id, change, expected in steps:
        if change is None:
            basic.delete(schedule_id)
        else:
            basic.put(schedule_id, change)
        assert basic.pending_count() == expected, (schedule_id, change)
    assert [s["Name"] for s in stack.schedules()] == [f"post-{ids[3]}"]


# --- 400 ----------------------------------------------------------------------------------------


INVALID_BODIES: list[tuple[bytes, str | None]] = [
    (b"{}", "body"),
    (b"", "body"),
    (b"{", None),
    (b"[]", None),
    (b'{"status": "failed"}', "status"),
    (b'{"status": "publishing"}', "status"),
    (b'{"status": "CANCELLED"}', "status"),
    (b'{"status": "done"}', "status"),
    (b'{"status": 1}', "status"),
    (b'{"scheduledPublishTime": "2031-01-01T10:00:00"}', "scheduledPublishTime"),
    (b'{"scheduledPublishTime": "2031-01-01T10:00:00+02:00"}', "scheduledPublishTime"),
    (b'{"scheduledPublishTime": "tomorrow"}', "scheduledPublishTime"),
    (b'{"scheduledPublishTime": 1924992000}', "scheduledPublishTime"),
    (b'{"videoId": "another-video"}', "videoId"),
    (b'{"tiktokAccountId": "another"}', "tiktokAccountId"),
    (b'{"title": 5}', "title"),
    (b'{"hashtags": "nohash"}', "hashtags"),
]


def test_invalid_bodies(stack: AwsStack, basic: User, subtests: pytest.Subtests) -> None:
    schedule_id, _, _ = pending_post(basic)
    with stack.unchanged():
        for raw, field in INVALID_BODIES:
            with subtests.test(raw=raw):
                response = basic.call("PUT", f"/api/v1/schedule/{schedule_id}", raw_body=raw)
                error = assert_error(response, 400, "VALIDATION_ERROR")
                if field is not None:
                    assert field in [d["field"] for d in error["details"]], error


def test_malformed_schedule_ids(stack: AwsStack, basic: User, subtests: pytest.Subtests) -> None:
    with stack.unchanged():
        for schedule_id in ("bad.id", "a" * 65, "-x", "x%20y"):
            with subtests.test(schedule_id=schedule_id):
                response = basic.put(schedule_id, {"status": "cancelled"})
                assert_error(response, 400, "VALIDATION_ERROR")


# --- 401 / 404 ----------------------------------------------------------------------------------


def test_unknown_and_other_users_posts_are_not_found(stack: AwsStack, basic: User) -> None:
    other = stack.user("basic")
    theirs, _, _ = pending_post(other)
    with stack.unchanged():
        missing = basic.put("650e8400-e29b-41d4-a716-446655440000", {"status": "cancelled"})
        not_mine = basic.put(theirs, {"status": "cancelled"})
        not_mine_move = basic.put(theirs, {"scheduledPublishTime": future(300)})
    assert assert_error(missing, 404, "NOT_FOUND") == assert_error(not_mine, 404, "NOT_FOUND")
    assert_error(not_mine_move, 404, "NOT_FOUND")
    assert other.pending_count() == 1


def test_credentials(stack: AwsStack, basic: User) -> None:
    schedule_id, _, _ = pending_post(basic)
    path = f"/api/v1/schedule/{schedule_id}"
    with stack.unchanged():
        missing = stack.call("PUT", path, {"status": "cancelled"})
        bad = stack.call("PUT", path, {"status": "cancelled"}, token="psk_not-a-real-key-at-all")
    assert_error(missing, 401, "UNAUTHORIZED")  # our envelope, even without the header
    assert_error(bad, 401, "UNAUTHORIZED")
