"""Plan limits and the one-pending-post-per-video rule under truly concurrent requests.

Real threads send the requests through the local API Gateway, each in its own Lambda execution
environment (the runner's pooled mode: Lambda never runs two events in one environment), against
moto's in-process backends.

Each environment is a separate process in Lambda; here they share one, so the state Powertools
keeps per process is kept per handler instance (our resolver keeps its own current event, see
api/http.py) or switched off (metrics).

moto's backends are not thread-safe: TransactWriteItems deep-copies the table to roll back and
restores that copy on failure, wiping other threads' writes, and concurrent requests break its
dictionaries ("dictionary changed size during iteration"). DynamoDB itself runs every request
atomically and transactions serializably. So `atomic_requests` makes each AWS request atomic
with one lock held for the duration of that single request, as DynamoDB does. It does not
serialize our use cases: between two requests of one use case any other thread's requests run.

To take luck out of it, a barrier holds every create's TransactWriteItems until all of them
have arrived: every request has passed all of its checks, and all writes race at once. Only
the conditions inside the transaction can then keep the count right; the control test shows
the same harness lets a read-then-write check overshoot.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

from local.aws.gateway import Gateway
from local.aws.lambda_runtime import FunctionRunner
from post_scheduler.adapters.aws import aws_client
from tests.support import AwsStack, User, assert_ok, future, run_concurrently


@pytest.fixture
def no_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    """Powertools Metrics keeps its metric set in class-level dicts: one per process, which in
    Lambda means one per execution environment. Environments sharing this process would add to
    and flush one set at once, so metrics (not under test here) are off."""
    monkeypatch.setattr(AmazonCloudWatchEMFProvider, "add_metric", lambda *_, **__: None)
    monkeypatch.setattr(AmazonCloudWatchEMFProvider, "flush_metrics", lambda *_, **__: None)


@pytest.fixture
def gateway(stack: AwsStack, atomic_requests: None, no_metrics: None) -> Gateway:
    """The template's API with one execution environment per concurrent invocation."""
    return Gateway(stack.template, FunctionRunner(stack.template, pooled=True))


@pytest.fixture
def writes_together() -> Iterator[Any]:
    """Hold TransactWriteItems calls until `parties` of them are waiting, then release all."""
    holders: list[threading.Barrier] = []

    def hold(**_: Any) -> None:
        if holders:
            holders[0].wait()

    client = aws_client("dynamodb")
    client.meta.events.register("before-call.dynamodb.TransactWriteItems", hold)

    def arm(parties: int) -> None:
        holders[:] = [threading.Barrier(parties, timeout=60)]

    try:
        yield arm
    finally:
        client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", hold)


def post(gateway: Gateway, user: User, body: dict[str, Any]) -> tuple[int, str | None]:
    response = gateway.handle(
        "POST",
        "/api/v1/schedule/create",
        "",
        [("authorization", f"Bearer {user.api_key}"), ("content-type", "application/json")],
        json.dumps(body).encode(),
    )
    payload = response.json()
    return response.status, (payload.get("error") or {}).get("code")


def assert_books_balance(stack: AwsStack, user: User) -> None:
    """The counter equals the pending posts, and each video lock names its pending post."""
    mine = [i for i in stack.items() if i["pk"] == f"USER#{user.user_id}"]
    pending = {
        i["scheduleId"]
        for i in mine
        if i["sk"].startswith("SCHEDULE#") and i["status"] == "pending"
    }
    locks = {i["pendingScheduleId"] for i in mine if "pendingScheduleId" in i}
    assert user.pending_count() == len(pending)
    assert locks == pending
    assert {s["Name"] for s in stack.schedules()} == {f"post-{p}" for p in pending}


def test_fifty_creates_for_one_basic_user(
    stack: AwsStack, gateway: Gateway, writes_together: Any
) -> None:
    user = stack.user("basic")
    account = user.account()
    videos = [user.video() for _ in range(50)]
    writes_together(50)

    # A minute apart: TikTok's own limit of 6 posts per account per minute is not under test.
    results = run_concurrently(
        50,
        lambda i: post(
            gateway,
            user,
            {
                "videoId": videos[i],
                "tiktokAccountId": account,
                "scheduledPublishTime": future(60 + i),
            },
        ),
    )

    assert Counter(results) == {(200, None): 10, (403, "SCHEDULING_LIMIT_EXCEEDED"): 40}
    assert user.pending_count() == 10
    assert len(stack.schedules()) == 10
    assert_books_balance(stack, user)
    # The requests really ran side by side, each in an environment of its own.
    assert gateway.runner.environments["CreateScheduleFunction"] > 1


def test_ten_creates_of_the_same_video(
    stack: AwsStack, gateway: Gateway, writes_together: Any
) -> None:
    user = stack.user("professional")
    video = user.video()
    accounts = [user.account() for _ in range(10)]
    writes_together(10)

    results = run_concurrently(
        10,
        lambda i: post(
            gateway,
            user,
            {"videoId": video, "tiktokAccountId": accounts[i], "scheduledPublishTime": future()},
        ),
    )

    assert Counter(results) == {(200, None): 1, (409, "CONFLICT"): 9}
    assert user.pending_count() == 1
    assert len(stack.schedules()) == 1
    assert_books_balance(stack, user)


def test_cancels_and_creates_racing(stack: AwsStack, gateway: Gateway) -> None:
    """Cancels free slots while creates take them: the counter stays exact whatever the order."""
    user = stack.user("basic")
    account = user.account()
    existing = [
        assert_ok(user.create(user.video(), account, future(60 + i)))["scheduleId"]
        for i in range(10)
    ]
    videos = [user.video() for _ in range(10)]

    def work(i: int) -> tuple[int, str | None]:
        if i % 2 == 0:
            response = gateway.handle(
                "PUT",
                f"/api/v1/schedule/{existing[i // 2]}",
                "",
                [("authorization", f"Bearer {user.api_key}"), ("content-type", "application/json")],
                json.dumps({"status": "cancelled"}).encode(),
            )
            return response.status, "cancel"
        body = {
            "videoId": videos[i // 2],
            "tiktokAccountId": account,
            "scheduledPublishTime": future(60 + i // 2),
        }
        return post(gateway, user, body)

    results = Counter(run_concurrently(20, work))

    assert results[(200, "cancel")] == 10
    created = results[(200, None)]
    assert created + results[(403, "SCHEDULING_LIMIT_EXCEEDED")] == 10
    assert user.pending_count() == created
    assert_books_balance(stack, user)


def test_the_harness_catches_a_read_then_write_race(stack: AwsStack, atomic_requests: None) -> None:
    """Control: a limit checked by reading the counter and then writing it, run the same way
    (threads, atomic single requests, all writes held until everyone is ready), overshoots.
    So the exact counts above come from the transaction's conditions, not from the harness."""
    user = stack.user("basic")
    client = aws_client("dynamodb")
    table = stack.table.name
    key = {"pk": {"S": f"USER#{user.user_id}"}, "sk": {"S": "PROFILE"}}
    everyone_has_read = threading.Barrier(50, timeout=60)

    def naive_create(_: int) -> bool:
        item = client.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
        count = int(item["pendingCount"]["N"])
        everyone_has_read.wait()
        if count >= 10:
            return False
        client.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="ADD pendingCount :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
        return True

    accepted = sum(run_concurrently(50, naive_create))

    assert accepted == 50
    assert user.pending_count() == 50
