"""The DynamoDB and Scheduler calls each endpoint makes (counted with botocore's event hooks on
the functions' shared clients), and that each function's IAM policy in the template allows
exactly what it was seen doing (least privilege that still works)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from post_scheduler.adapters.aws import aws_client
from post_scheduler.adapters.table import DUE_SHARDS
from tests.iam import allowed, required_permissions
from tests.support import (
    AwsStack,
    FunctionCallRecorder,
    assert_error,
    assert_ok,
    claims,
    configure_jwt,
    failing_aws_call,
    future,
    hs256_token,
)


class FunctionCalls(FunctionCallRecorder):
    """AWS calls made inside each function invocation, by function."""

    def __init__(self, stack: AwsStack) -> None:
        super().__init__()
        self.stack = stack
        self.clients: list[Any] = []

    def of(self, function: str) -> list[str]:
        names = []
        for name, operation, params in self.calls:
            if name != function:
                continue
            if operation.endswith("TransactWriteItems"):
                parts = ",".join(next(iter(p)) for p in params["TransactItems"])
                operation = f"{operation}[{parts}]"
            names.append(operation)
        return names

    def clear(self) -> None:
        self.calls.clear()

    def attach(self) -> None:
        """Listen on the functions' current clients (again after `wiring.reset()`)."""
        for service in ("dynamodb", "scheduler"):
            client = aws_client(service)
            client.meta.events.register("before-parameter-build", self.record)
            self.clients.append(client)

    def detach(self) -> None:
        for client in self.clients:
            client.meta.events.unregister("before-parameter-build", self.record)


@pytest.fixture
def recorded(stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[FunctionCalls]:
    recorder = FunctionCalls(stack)
    recorder.watch(stack.gateway.runner, monkeypatch)
    recorder.attach()
    yield recorder
    recorder.detach()


def measure(recorded: FunctionCalls, action: Callable[[], Any], function: str) -> list[str]:
    recorded.clear()
    action()
    return recorded.of(function)


# Video lock, account check, plan counter, the post, the account's posting-minute counter.
TX_CREATE = "dynamodb.TransactWriteItems[Update,ConditionCheck,Update,Put,Update]"
# Pre-flight: the video (its duration) and the account (its cached creator_info), one read.
PREFLIGHT = "dynamodb.BatchGetItem"
TX_END = "dynamodb.TransactWriteItems[Put,Update,Update,Update]"
TX_DELETE = "dynamodb.TransactWriteItems[Delete,Update,Update,Update]"
# A post moved to another minute: the post, the new minute's counter, the old one's.
TX_MOVE = "dynamodb.TransactWriteItems[Put,Update,Update]"


def test_calls_per_endpoint(stack: AwsStack, recorded: FunctionCalls) -> None:
    user = stack.user("basic")
    video, account = user.video(), user.account()

    # The authorizer, uncached: the key, its user, and the key's lastUsedAt (once a minute).
    assert measure(
        recorded, lambda: assert_ok(user.call("GET", "/api/v1/videos")), "AuthorizerFunction"
    ) == [
        "dynamodb.GetItem",
        "dynamodb.GetItem",
        "dynamodb.UpdateItem",
    ]

    created: list[str] = []

    def create() -> None:
        created.append(assert_ok(user.create(video, account))["scheduleId"])

    # Create: the pre-flight read, one transaction, one schedule.
    assert measure(recorded, create, "CreateScheduleFunction") == [
        PREFLIGHT,
        TX_CREATE,
        "scheduler.CreateSchedule",
    ]
    schedule_id = created[0]

    # Refusals cost the pre-flight read and one transaction (409/403/404), or nothing at all
    # (400, and a 422 for the time).
    assert measure(
        recorded, lambda: assert_error(user.create(video, account), 409, "CONFLICT"),
        "CreateScheduleFunction",
    ) == [PREFLIGHT, TX_CREATE]  # fmt: skip
    assert (
        measure(
            recorded,
            lambda: assert_error(
                user.create(video, account, future(1)), 422, "UNPROCESSABLE_ENTITY"
            ),
            "CreateScheduleFunction",
        )
        == []
    )

    # Lists: one query (plus one BatchGetItem for the videos and accounts of the page).
    assert measure(
        recorded, lambda: assert_ok(user.call("GET", "/api/v1/schedule/scheduled-videos")),
        "ListScheduledVideosFunction",
    ) == ["dynamodb.Query", "dynamodb.BatchGetItem"]  # fmt: skip
    # Upcoming: one Query per shard of the write-sharded due index (docs/scale.md).
    assert measure(
        recorded, lambda: assert_ok(stack.call("GET", "/api/v1/schedule/upcoming")),
        "UpcomingFunction",
    ) == ["dynamodb.Query"] * DUE_SHARDS  # fmt: skip
    assert measure(
        recorded, lambda: assert_ok(user.call("GET", "/api/v1/videos")), "ListVideosFunction"
    ) == ["dynamodb.Query"]
    assert measure(
        recorded, lambda: assert_ok(user.call("GET", "/api/v1/tiktok-accounts")),
        "ListTikTokAccountsFunction",
    ) == ["dynamodb.Query"]  # fmt: skip

    # Update: read the post, write it, keep the schedule in step, read the details for the answer.
    update = "UpdateScheduleFunction"
    assert measure(
        recorded,
        lambda: assert_ok(user.put(schedule_id, {"scheduledPublishTime": future(120)})),
        update,
    ) == [
        "dynamodb.GetItem",
        TX_MOVE,
        "scheduler.UpdateSchedule",
        "dynamodb.BatchGetItem",
    ]
    assert measure(
        recorded, lambda: assert_ok(user.put(schedule_id, {"title": "New"})), update
    ) == ["dynamodb.GetItem", "dynamodb.PutItem", "dynamodb.BatchGetItem"]
    assert measure(
        recorded, lambda: assert_ok(user.put(schedule_id, {"title": "New"})), update
    ) == ["dynamodb.GetItem", "dynamodb.BatchGetItem"]  # no-op: nothing written
    assert measure(
        recorded, lambda: assert_ok(user.put(schedule_id, {"status": "cancelled"})), update
    ) == ["dynamodb.GetItem", TX_END, "scheduler.DeleteSchedule", "dynamodb.BatchGetItem"]
    assert measure(
        recorded, lambda: assert_ok(user.put(schedule_id, {"status": "pending"})), update
    ) == [
        "dynamodb.GetItem",
        PREFLIGHT,
        TX_CREATE,
        "scheduler.CreateSchedule",
        "dynamodb.BatchGetItem",
    ]
    assert measure(
        recorded, lambda: assert_ok(user.put(schedule_id, {"status": "executed"})), update
    ) == ["dynamodb.GetItem", TX_END, "scheduler.DeleteSchedule", "dynamodb.BatchGetItem"]
    assert measure(
        recorded, lambda: assert_error(user.put(schedule_id, {"title": "x"}), 409, "CONFLICT"),
        update,
    ) == ["dynamodb.GetItem"]  # fmt: skip

    # Delete: a pending post gives its slot and lock back in one transaction.
    other = user.scheduled()
    delete = "DeleteScheduleFunction"
    assert measure(recorded, lambda: assert_ok(user.delete(other)), delete) == [
        "dynamodb.GetItem",
        TX_DELETE,
        "scheduler.DeleteSchedule",
    ]
    cancelled = user.scheduled()
    assert_ok(user.put(cancelled, {"status": "cancelled"}))
    assert measure(recorded, lambda: assert_ok(user.delete(cancelled)), delete) == [
        "dynamodb.GetItem",
        "dynamodb.DeleteItem",
    ]
    assert measure(
        recorded, lambda: assert_error(user.delete(schedule_id), 409, "CONFLICT"), delete
    ) == ["dynamodb.GetItem"]


def test_jwt_authorizer_calls(
    stack: AwsStack, recorded: FunctionCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure_jwt(monkeypatch)
    recorded.attach()
    stack.user("basic", user_id="alice")
    token = hs256_token(claims("alice"))
    calls = measure(
        recorded,
        lambda: assert_ok(stack.call("GET", "/api/v1/videos", token=token)),
        "AuthorizerFunction",
    )
    # The user's plan (the HS256 secret comes from SSM through Powertools' cached client).
    assert calls == ["dynamodb.GetItem"]


# --- the template's policies allow what the functions do ----------------------------------------


def test_every_call_is_allowed_by_the_functions_policy(
    stack: AwsStack, recorded: FunctionCalls
) -> None:
    user = stack.user("basic")
    stack.call("GET", "/api/v1/schedule/upcoming")
    schedule_id = user.scheduled()
    user.call("GET", "/api/v1/schedule/scheduled-videos")
    user.call("GET", "/api/v1/videos")
    user.call("GET", "/api/v1/tiktok-accounts")
    user.put(schedule_id, {"scheduledPublishTime": future(200)})
    user.put(schedule_id, {"status": "cancelled"})
    user.put(schedule_id, {"status": "pending"})
    user.delete(schedule_id)
    executed = user.scheduled()
    user.put(executed, {"status": "executed"})
    cancelled = user.scheduled()
    user.put(cancelled, {"status": "cancelled"})
    user.delete(cancelled)
    # Undo paths: a failed schedule call rolls the table back.
    with failing_aws_call("scheduler", "CreateSchedule"):
        user.create(user.video(), user.account())
    moved = user.scheduled()
    with (
        failing_aws_call("scheduler", "UpdateSchedule"),
        failing_aws_call("scheduler", "CreateSchedule"),
    ):
        user.put(moved, {"scheduledPublishTime": future(300)})
    user.put(moved, {"status": "cancelled"})
    with failing_aws_call("scheduler", "CreateSchedule"):
        user.put(moved, {"status": "pending"})

    missing = []
    seen = set()
    for function, operation, params in recorded.calls:
        for action, resource in required_permissions(stack, operation, params):
            seen.add((function, action))
            if not allowed(stack, function, action, resource):
                missing.append((function, action, resource))
    assert missing == []
    assert ("CreateScheduleFunction", "dynamodb:DeleteItem") in seen  # the undo was exercised


# --- the endpoints beyond the reference ----------------------------------------------------------


def test_calls_of_one_post_and_quota(stack: AwsStack, recorded: FunctionCalls) -> None:
    user = stack.user("basic")
    schedule_id = user.scheduled()
    assert kept(
        recorded,
        lambda: assert_ok(user.call("GET", f"/api/v1/schedule/{schedule_id}")),
        "GetScheduleFunction",
    ) == ["dynamodb.GetItem", "dynamodb.BatchGetItem"]
    assert kept(
        recorded,
        lambda: assert_error(
            user.call("GET", f"/api/v1/schedule/{user.user_id}"), 404, "NOT_FOUND"
        ),
        "GetScheduleFunction",
    ) == ["dynamodb.GetItem"]
    assert kept(
        recorded, lambda: assert_ok(user.call("GET", "/api/v1/schedule/quota")),
        "ScheduleQuotaFunction",
    ) == ["dynamodb.GetItem"]  # fmt: skip
    assert_policies_allow(stack, recorded)


def _failed(stack: AwsStack, user: Any) -> str:
    """A post that failed after its schedule fired (and so deleted itself)."""
    schedule_id: str = user.scheduled()
    user.mark(schedule_id, "failed", failureReason="x")
    stack.scheduler.delete_schedule(
        Name=f"post-{schedule_id}", GroupName=stack.environment["SCHEDULE_GROUP"]
    )
    return schedule_id


def test_calls_of_retry(stack: AwsStack, recorded: FunctionCalls) -> None:
    user = stack.user("basic")
    schedule_id = _failed(stack, user)
    retry = "RetryScheduleFunction"
    path = f"/api/v1/schedule/{schedule_id}/retry"
    # Read the post, re-activate it (the create's transaction), arm it, read the details.
    assert kept(recorded, lambda: assert_ok(user.call("POST", path)), retry) == [
        "dynamodb.GetItem",
        PREFLIGHT,
        TX_CREATE,
        "scheduler.CreateSchedule",
        "dynamodb.BatchGetItem",
    ]
    assert kept(
        recorded, lambda: assert_error(user.call("POST", path), 409, "CONFLICT"), retry
    ) == ["dynamodb.GetItem"]
    # The undo path: the Scheduler fails, the re-activation is released again.
    other = _failed(stack, user)
    with failing_aws_call("scheduler", "CreateSchedule"):
        kept(
            recorded,
            lambda: assert_error(
                user.call("POST", f"/api/v1/schedule/{other}/retry"), 503, "SERVICE_UNAVAILABLE"
            ),
            retry,
        )
    assert_policies_allow(stack, recorded)


def test_calls_of_idempotency_keys(stack: AwsStack, recorded: FunctionCalls) -> None:
    user = stack.user("basic")
    body = {
        "videoId": user.video(),
        "tiktokAccountId": user.account(),
        "scheduledPublishTime": future(),
    }
    headers = {"Idempotency-Key": "calls-1"}
    create = "CreateScheduleFunction"
    # The key's record in progress, the create, the record completed.
    assert kept(
        recorded,
        lambda: assert_ok(user.call("POST", "/api/v1/schedule/create", body, headers=headers)),
        create,
    ) == [
        "dynamodb.PutItem",
        PREFLIGHT,
        TX_CREATE,
        "scheduler.CreateSchedule",
        "dynamodb.UpdateItem",
    ]
    # A replay: one conditional PutItem that fails and returns the stored answer.
    assert kept(
        recorded,
        lambda: assert_ok(user.call("POST", "/api/v1/schedule/create", body, headers=headers)),
        create,
    ) == ["dynamodb.PutItem"]
    # A server error deletes the record so that the key can be retried.
    with failing_aws_call("scheduler", "CreateSchedule"):
        other = {**body, "videoId": user.video()}
        assert kept(
            recorded,
            lambda: assert_error(
                user.call(
                    "POST", "/api/v1/schedule/create", other, headers={"Idempotency-Key": "x"}
                ),
                503,
                "SERVICE_UNAVAILABLE",
            ),
            create,
        ) == [
            "dynamodb.PutItem",
            PREFLIGHT,
            TX_CREATE,
            "scheduler.CreateSchedule",
            TX_DELETE,
            "dynamodb.DeleteItem",
        ]
    schedule_id = user.scheduled()
    kept(
        recorded,
        lambda: assert_ok(
            user.call("PUT", f"/api/v1/schedule/{schedule_id}", {"title": "t"}, headers=headers)
        ),
        "UpdateScheduleFunction",
    )
    video = {"title": "Clip", "sizeBytes": 1024, "contentType": "video/mp4"}
    assert kept(
        recorded,
        lambda: assert_ok(user.call("POST", "/api/v1/videos", video, headers=headers)),
        "CreateVideoFunction",
    ) == ["dynamodb.PutItem", "dynamodb.PutItem", "dynamodb.UpdateItem"]
    assert_policies_allow(stack, recorded)


def kept(recorded: FunctionCalls, action: Callable[[], Any], function: str) -> list[str]:
    """As `measure`, but keeps every call recorded, for the policy check at the end."""
    start = len(recorded.calls)
    action()
    calls = FunctionCalls(recorded.stack)
    calls.calls = recorded.calls[start:]
    return calls.of(function)


def assert_policies_allow(stack: AwsStack, recorded: FunctionCalls) -> None:
    """Every call recorded so far is allowed by its function's policy."""
    missing = [
        (function, action, resource)
        for function, operation, params in recorded.calls
        for action, resource in required_permissions(stack, operation, params)
        if not allowed(stack, function, action, resource)
    ]
    assert missing == []
