"""DELETE /api/v1/schedule/{scheduleId}."""

from __future__ import annotations

import pytest

from tests.support import AwsStack, User, assert_error, assert_ok


@pytest.fixture
def basic(stack: AwsStack) -> User:
    return stack.user("basic")


def test_delete_a_pending_post(stack: AwsStack, basic: User) -> None:
    video, account = basic.video(), basic.account()
    schedule_id = assert_ok(basic.create(video, account))["scheduleId"]
    other = basic.scheduled()

    data = assert_ok(basic.delete(schedule_id))

    assert data == {"scheduleId": schedule_id, "deleted": True}
    assert basic.post_item(schedule_id) is None
    assert stack.schedule(schedule_id) is None
    assert stack.schedule(other) is not None
    assert basic.pending_count() == 1
    assert "pendingScheduleId" not in basic.video_item(video)
    # The slot and the video are free again.
    assert_ok(basic.create(video, account))
    assert basic.pending_count() == 2


def test_delete_a_cancelled_post(stack: AwsStack, basic: User) -> None:
    schedule_id = basic.scheduled()
    assert_ok(basic.put(schedule_id, {"status": "cancelled"}))
    assert basic.pending_count() == 0

    assert_ok(basic.delete(schedule_id))

    assert basic.post_item(schedule_id) is None
    assert basic.pending_count() == 0
    assert stack.schedules() == []


def test_delete_a_failed_post(basic: User) -> None:
    schedule_id = basic.scheduled()
    basic.mark(schedule_id, "failed", failureReason="gave up")
    assert_ok(basic.delete(schedule_id))
    assert basic.post_item(schedule_id) is None
    assert basic.pending_count() == 0


def test_an_executed_post_cannot_be_deleted(stack: AwsStack, basic: User) -> None:
    schedule_id = basic.scheduled()
    assert_ok(basic.put(schedule_id, {"status": "executed"}))
    with stack.unchanged():
        response = basic.delete(schedule_id)
    assert_error(response, 409, "CONFLICT")
    post = basic.post_item(schedule_id)
    assert post is not None
    assert post["status"] == "executed"


def test_a_post_being_published_cannot_be_deleted(stack: AwsStack, basic: User) -> None:
    schedule_id = basic.scheduled()
    basic.mark(schedule_id, "publishing")
    with stack.unchanged():
        assert_error(basic.delete(schedule_id), 409, "CONFLICT")


def test_deleting_twice(stack: AwsStack, basic: User) -> None:
    schedule_id = basic.scheduled()
    assert_ok(basic.delete(schedule_id))
    with stack.unchanged():
        assert_error(basic.delete(schedule_id), 404, "NOT_FOUND")
    assert basic.pending_count() == 0


def test_unknown_and_other_users_posts_are_not_found(stack: AwsStack, basic: User) -> None:
    other = stack.user("professional")
    theirs = other.scheduled()
    with stack.unchanged():
        missing = basic.delete("650e8400-e29b-41d4-a716-446655440000")
        not_mine = basic.delete(theirs)
    assert assert_error(missing, 404, "NOT_FOUND") == assert_error(not_mine, 404, "NOT_FOUND")
    assert other.pending_count() == 1


def test_malformed_ids(stack: AwsStack, basic: User, subtests: pytest.Subtests) -> None:
    with stack.unchanged():
        for schedule_id in ("bad.id", "a" * 65, "_x"):
            with subtests.test(schedule_id=schedule_id):
                assert_error(basic.delete(schedule_id), 400, "VALIDATION_ERROR")


def test_credentials(stack: AwsStack, basic: User) -> None:
    schedule_id = basic.scheduled()
    path = f"/api/v1/schedule/{schedule_id}"
    with stack.unchanged():
        missing = stack.call("DELETE", path)
        bad = stack.call("DELETE", path, token="psk_not-a-real-key-at-all")
        garbage = stack.call("DELETE", path, headers={"authorization": "Token abc"})
    assert_error(missing, 401, "UNAUTHORIZED")  # our envelope, even without the header
    assert_error(bad, 401, "UNAUTHORIZED")
    assert_error(garbage, 401, "UNAUTHORIZED")


def test_delete_ignores_a_body(basic: User) -> None:
    schedule_id = basic.scheduled()
    response = basic.call("DELETE", f"/api/v1/schedule/{schedule_id}", {"anything": 1})
    assert_ok(response)
