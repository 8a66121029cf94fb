"""When EventBridge Scheduler or DynamoDB fail mid-request: the client gets a 5xx in the
envelope and the table is as it was (no orphan post, exact counter, video unlocked)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from post_scheduler.adapters.aws import aws_client
from tests.support import (
    AwsStack,
    User,
    assert_error,
    assert_ok,
    failing_aws_call,
    future,
)


@pytest.fixture
def basic(stack: AwsStack) -> User:
    return stack.user("basic")


def without_revision(item: dict[str, Any] | None) -> dict[str, Any]:
    """A post as the client and the publisher see it: every field but the write counter."""
    assert item is not None
    return {k: v for k, v in item.items() if k != "revision"}


# --- Scheduler fails after the table write ------------------------------------------------------


@pytest.mark.parametrize("code", ["InternalServerException", "ThrottlingException"])
def test_create_is_undone(stack: AwsStack, basic: User, code: str) -> None:
    video, account = basic.video(), basic.account()
    before = stack.state()
    with failing_aws_call("scheduler", "CreateSchedule", code) as failures:
        response = basic.create(video, account)
    items, schedules = stack.state()
    # The account's posting-minute counter was taken and given back: it stays, at zero.
    assert [i["postCount"] for i in items if i["sk"].startswith("POSTMINUTE#")] == [0]
    assert [i for i in items if not i["sk"].startswith("POSTMINUTE#")] == before[0]
    assert schedules == before[1]
    error = assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert "retry" in error["message"]
    assert failures == [1]
    assert basic.pending_count() == 0
    assert "pendingScheduleId" not in basic.video_item(video)
    # Nothing is left behind, so the same request works once the Scheduler is back.
    assert_ok(basic.create(video, account))
    assert basic.pending_count() == 1


def test_a_failed_move_restores_the_time(stack: AwsStack, basic: User) -> None:
    schedule_id = basic.scheduled(future(60))
    post_before = basic.post_item(schedule_id)
    schedule_before = stack.schedule(schedule_id)

    with (
        failing_aws_call("scheduler", "UpdateSchedule"),
        failing_aws_call("scheduler", "CreateSchedule"),
    ):
        response = basic.put(schedule_id, {"scheduledPublishTime": future(600)})

    assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert without_revision(basic.post_item(schedule_id)) == without_revision(post_before)
    assert stack.schedule(schedule_id) == schedule_before
    assert basic.pending_count() == 1
    # And the post can still be moved afterwards.
    assert_ok(basic.put(schedule_id, {"scheduledPublishTime": future(600)}))
    assert json.loads(stack.schedule(schedule_id)["Target"]["Input"])["version"] == 2  # type: ignore[index]


def test_a_failed_reactivation_is_undone(stack: AwsStack, basic: User) -> None:
    video, account = basic.video(), basic.account()
    schedule_id = assert_ok(basic.create(video, account))["scheduleId"]
    assert_ok(basic.put(schedule_id, {"status": "cancelled"}))
    post_before = basic.post_item(schedule_id)

    with failing_aws_call("scheduler", "CreateSchedule"):
        response = basic.put(schedule_id, {"status": "pending", "scheduledPublishTime": future(90)})

    assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert without_revision(basic.post_item(schedule_id)) == without_revision(post_before)
    assert basic.pending_count() == 0
    assert "pendingScheduleId" not in basic.video_item(video)
    assert stack.schedules() == []
    # The video is still free.
    assert_ok(basic.create(video, account))


def test_a_failed_undo_still_answers_503_and_is_logged(
    stack: AwsStack, basic: User, caplog: pytest.LogCaptureFixture
) -> None:
    """If even the undo fails, the client still hears about the Scheduler (503, retry), and
    the leftover pending post is logged (the sweep publishes such posts at their time)."""
    video, account = basic.video(), basic.account()
    transactions = [0]

    def refuse_all_but_the_first(**_: Any) -> None:
        transactions[0] += 1
        if transactions[0] > 1:
            raise aws_client("dynamodb").exceptions.TransactionCanceledException(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "injected"},
                    "CancellationReasons": [{"Code": "TransactionConflict"}],
                },
                "TransactWriteItems",
            )

    events = aws_client("dynamodb").meta.events
    events.register("before-call.dynamodb.TransactWriteItems", refuse_all_but_the_first)
    try:
        with caplog.at_level(logging.ERROR), failing_aws_call("scheduler", "CreateSchedule"):
            response = basic.create(video, account)
    finally:
        events.unregister("before-call.dynamodb.TransactWriteItems", refuse_all_but_the_first)
    assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert transactions[0] > 1
    assert "could not undo" in caplog.text
    assert basic.pending_count() == 1  # the leftover, as logged


@pytest.mark.parametrize("change", [{"status": "cancelled"}, {"status": "executed"}])
def test_a_schedule_that_cannot_be_removed_is_left_to_fire_as_a_no_op(
    stack: AwsStack, basic: User, change: dict[str, str]
) -> None:
    """The table is the truth: the post is no longer pending, so a surviving schedule only
    wakes the publisher for nothing (and deletes itself after firing)."""
    schedule_id = basic.scheduled()
    with failing_aws_call("scheduler", "DeleteSchedule"):
        response = basic.put(schedule_id, change)
    assert assert_ok(response)["status"] == change["status"]
    assert basic.pending_count() == 0
    assert stack.schedule(schedule_id) is not None


def test_delete_when_the_schedule_cannot_be_removed(stack: AwsStack, basic: User) -> None:
    schedule_id = basic.scheduled()
    with failing_aws_call("scheduler", "DeleteSchedule"):
        assert_ok(basic.delete(schedule_id))
    assert basic.post_item(schedule_id) is None
    assert basic.pending_count() == 0


# --- DynamoDB transactions cancelled by a concurrent one ----------------------------------------

CONFLICT_REASONS = [
    {"Code": "None"},
    {"Code": "None"},
    {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"},
    {"Code": "None"},
]


def test_a_transaction_conflict_is_retried(stack: AwsStack, basic: User) -> None:
    with failing_aws_call(
        "dynamodb",
        "TransactWriteItems",
        "TransactionCanceledException",
        times=2,
        CancellationReasons=CONFLICT_REASONS,
    ) as failures:
        response = basic.create(basic.video(), basic.account())
    assert_ok(response)
    assert failures == [2]
    assert basic.pending_count() == 1


def test_a_lasting_transaction_conflict_is_503(stack: AwsStack, basic: User) -> None:
    video, account = basic.video(), basic.account()
    with (
        stack.unchanged(),
        failing_aws_call(
            "dynamodb",
            "TransactWriteItems",
            "TransactionCanceledException",
            CancellationReasons=CONFLICT_REASONS,
        ) as failures,
    ):
        response = basic.create(video, account)
    error = assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert error["details"] == {"reasons": ["TransactionConflict"]}
    assert failures[0] > 1


def test_a_conflict_during_cancel_is_retried(stack: AwsStack, basic: User) -> None:
    schedule_id = basic.scheduled()
    with failing_aws_call(
        "dynamodb",
        "TransactWriteItems",
        "TransactionCanceledException",
        times=1,
        CancellationReasons=[{"Code": "None"}, {"Code": "TransactionConflict"}, {"Code": "None"}],
    ):
        assert_ok(basic.put(schedule_id, {"status": "cancelled"}))
    assert basic.pending_count() == 0
    assert stack.schedule(schedule_id) is None


def test_dynamodb_unavailable_is_a_500_envelope(stack: AwsStack, basic: User) -> None:
    with failing_aws_call("dynamodb", "Query", "InternalServerError"):
        response = basic.call("GET", "/api/v1/schedule/scheduled-videos")
    assert_error(response, 500, "INTERNAL_ERROR")
