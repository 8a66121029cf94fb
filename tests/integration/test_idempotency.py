"""The Idempotency-Key header on the routes that create or change things: replay, reuse with a
different request, a request still in flight, malformed keys, keys of different users, and
concurrent requests with one key."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

from local.aws.gateway import Gateway
from local.aws.lambda_runtime import FunctionRunner
from post_scheduler.adapters.aws import aws_client
from post_scheduler.domain.schedules import ScheduleService
from tests.support import (
    AwsStack,
    User,
    assert_error,
    assert_ok,
    failing_aws_call,
    future,
    harness_client,
    run_concurrently,
)

CREATE = "/api/v1/schedule/create"


@pytest.fixture
def basic(stack: AwsStack) -> User:
    return stack.user("basic")


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


def post_body(user: User) -> dict[str, Any]:
    return {
        "videoId": user.video(),
        "tiktokAccountId": user.account(),
        "scheduledPublishTime": future(),
        "title": "Once",
    }


def posts_of(stack: AwsStack, user: User) -> list[dict[str, Any]]:
    return [
        i
        for i in stack.items()
        if i["pk"] == f"USER#{user.user_id}" and i["sk"].startswith("SCHEDULE#")
    ]


def test_the_same_key_and_body_replays_the_first_answer(stack: AwsStack, basic: User) -> None:
    body = post_body(basic)
    first = basic.call("POST", CREATE, body, headers=keyed("create-1"))
    created = assert_ok(first)
    assert "idempotent-replayed" not in first.headers

    with stack.unchanged():
        again = basic.call("POST", CREATE, body, headers=keyed("create-1"))
        # The same JSON written differently is the same request.
        spaced = json.dumps(dict(reversed(list(body.items()))), indent=2).encode()
        respaced = basic.call("POST", CREATE, headers=keyed("create-1"), raw_body=spaced)
    for replay in (again, respaced):
        assert replay.status == first.status
        assert replay.body == first.body
        assert replay.headers["idempotent-replayed"] == "true"
    assert len(posts_of(stack, basic)) == 1
    assert basic.pending_count() == 1
    assert assert_ok(again)["scheduleId"] == created["scheduleId"]


def test_a_structured_field_string_is_the_same_key(basic: User) -> None:
    body = post_body(basic)
    assert_ok(basic.call("POST", CREATE, body, headers=keyed('"8e03978e-40d5-43e8"')))
    replay = basic.call("POST", CREATE, body, headers=keyed("8e03978e-40d5-43e8"))
    assert replay.headers["idempotent-replayed"] == "true"


def test_the_same_key_with_another_body_is_refused(stack: AwsStack, basic: User) -> None:
    body = post_body(basic)
    assert_ok(basic.call("POST", CREATE, body, headers=keyed("k")))
    with stack.unchanged():
        reused = basic.call("POST", CREATE, {**body, "title": "Twice"}, headers=keyed("k"))
        error = assert_error(reused, 422, "IDEMPOTENCY_KEY_REUSED")
        assert "idempotent-replayed" not in reused.headers
    assert error["details"] == {"header": "Idempotency-Key"}


def test_the_key_covers_the_path(stack: AwsStack, basic: User) -> None:
    first, second = basic.scheduled(), basic.scheduled(future(120))
    assert_ok(basic.call("PUT", f"/api/v1/schedule/{first}", {"title": "A"}, headers=keyed("edit")))
    with stack.unchanged():
        other = basic.call(
            "PUT", f"/api/v1/schedule/{second}", {"title": "A"}, headers=keyed("edit")
        )
        assert_error(other, 422, "IDEMPOTENCY_KEY_REUSED")


def test_keys_are_scoped_to_the_caller(stack: AwsStack, basic: User) -> None:
    other = stack.user("basic")
    mine = assert_ok(basic.call("POST", CREATE, post_body(basic), headers=keyed("shared-key")))
    theirs = other.call("POST", CREATE, post_body(other), headers=keyed("shared-key"))
    assert "idempotent-replayed" not in theirs.headers
    assert assert_ok(theirs)["scheduleId"] != mine["scheduleId"]
    assert len(posts_of(stack, other)) == 1


def test_errors_are_replayed_too_but_server_errors_are_not(stack: AwsStack, basic: User) -> None:
    body = post_body(basic)
    with failing_aws_call("scheduler", "CreateSchedule"):
        failed = basic.call("POST", CREATE, body, headers=keyed("retry-me"))
    assert_error(failed, 503, "SERVICE_UNAVAILABLE")
    # A 5xx is not stored: the client's retry with the same key runs.
    created = basic.call("POST", CREATE, body, headers=keyed("retry-me"))
    assert "idempotent-replayed" not in created.headers
    assert_ok(created)

    # A 4xx is the request's answer: replayed as it was, even after the cause went away.
    refused = basic.call("POST", CREATE, {**body, "title": "x"}, headers=keyed("conflict"))
    assert_error(refused, 409, "CONFLICT")
    assert_ok(basic.delete(assert_ok(created)["scheduleId"]))
    replay = basic.call("POST", CREATE, {**body, "title": "x"}, headers=keyed("conflict"))
    assert replay.status == 409
    assert replay.body == refused.body
    assert replay.headers["idempotent-replayed"] == "true"


def test_a_replayed_update_changes_nothing(stack: AwsStack, basic: User) -> None:
    schedule_id = basic.scheduled()
    path = f"/api/v1/schedule/{schedule_id}"
    first = basic.call("PUT", path, {"title": "First"}, headers=keyed("put-1"))
    assert assert_ok(first)["title"] == "First"
    assert_ok(basic.put(schedule_id, {"title": "Changed since"}))
    with stack.unchanged():
        replay = basic.call("PUT", path, {"title": "First"}, headers=keyed("put-1"))
    assert replay.body == first.body
    assert basic.post_item(schedule_id)["title"] == "Changed since"  # type: ignore[index]


def test_videos_take_keys(stack: AwsStack, basic: User) -> None:
    body = {"title": "Clip", "sizeBytes": 1024, "contentType": "video/mp4"}
    first = assert_ok(basic.call("POST", "/api/v1/videos", body, headers=keyed("video-1")))
    replay = basic.call("POST", "/api/v1/videos", body, headers=keyed("video-1"))
    assert replay.headers["idempotent-replayed"] == "true"
    assert assert_ok(replay)["id"] == first["id"]
    videos = [i for i in stack.items() if i["sk"].startswith("VIDEO#")]
    assert [v["videoId"] for v in videos if v["title"] == "Clip"] == [first["id"]]


@pytest.mark.parametrize(
    "key",
    ["", "   ", '""', "x" * 256, "tab\there", "bell\x07", "caf\u00e9"],
    ids=["empty", "blank", "empty-string", "too-long", "tab", "control", "non-ascii"],
)
def test_malformed_keys_are_400(stack: AwsStack, basic: User, key: str) -> None:
    body = post_body(basic)
    with stack.unchanged():
        response = basic.call("POST", CREATE, body, headers=keyed(key))
        assert_error(response, 400, "VALIDATION_ERROR")


def test_the_longest_key_is_accepted_and_kept_a_day(stack: AwsStack, basic: User) -> None:
    assert_ok(basic.call("POST", CREATE, post_body(basic), headers=keyed("k" * 255)))
    table = stack.environment["IDEMPOTENCY_TABLE"]
    (record,) = harness_client("dynamodb").scan(TableName=table)["Items"]
    assert record["status"]["S"] == "COMPLETED"
    lifetime = Decimal(record["expiration"]["N"]) - Decimal(time.time())
    assert 24 * 3600 - 60 < lifetime <= 24 * 3600
    # Neither the key nor the caller is stored in the clear: only hashes.
    assert basic.user_id not in json.dumps(record)
    assert "kkkk" not in record["id"]["S"]


def test_a_key_still_in_flight_is_409(
    stack: AwsStack, basic: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = post_body(basic)
    entered, release = threading.Event(), threading.Event()
    create = ScheduleService.create

    def slow_create(self: ScheduleService, *args: Any, **kwargs: Any) -> Any:
        entered.set()
        assert release.wait(30)
        return create(self, *args, **kwargs)

    monkeypatch.setattr(ScheduleService, "create", slow_create)
    gateway = Gateway(stack.template, FunctionRunner(stack.template, pooled=True))
    first: list[Any] = []
    worker = threading.Thread(target=lambda: first.append(send(gateway, basic, body, "slow")))
    worker.start()
    assert entered.wait(30)
    try:
        status, payload, _ = send(gateway, basic, body, "slow")
        assert status == 409
        assert payload["error"]["code"] == "CONFLICT"
        assert "Idempotency-Key" in payload["error"]["message"]
    finally:
        release.set()
        worker.join(30)
    assert first[0][0] == 200
    status, payload, headers = send(gateway, basic, body, "slow")
    assert (status, headers.get("idempotent-replayed")) == (200, "true")
    assert payload == first[0][1]


def send(
    gateway: Gateway, user: User, body: dict[str, Any], key: str, path: str = CREATE
) -> tuple[int, Any, dict[str, str]]:
    response = gateway.handle(
        "POST",
        path,
        "",
        [
            ("authorization", f"Bearer {user.api_key}"),
            ("content-type", "application/json"),
            ("idempotency-key", key),
        ],
        json.dumps(body).encode(),
    )
    return response.status, response.json(), response.headers


@pytest.fixture
def concurrent_gateway(
    stack: AwsStack, atomic_requests: None, monkeypatch: pytest.MonkeyPatch
) -> Gateway:
    # Metrics keep class-level state shared by the environments of this one process.
    monkeypatch.setattr(AmazonCloudWatchEMFProvider, "add_metric", lambda *_, **__: None)
    monkeypatch.setattr(AmazonCloudWatchEMFProvider, "flush_metrics", lambda *_, **__: None)
    return Gateway(stack.template, FunctionRunner(stack.template, pooled=True))


@pytest.fixture
def puts_together() -> Iterator[Any]:
    """Hold the idempotency store's first PutItem of each request until all have arrived."""
    holders: list[threading.Barrier] = []

    def hold(params: dict[str, Any], **_: Any) -> None:
        if (
            holders
            and "ConditionExpression" in params
            and "attribute_not_exists(#id)" in str(params["ConditionExpression"])
        ):
            holders[0].wait()

    client = aws_client("dynamodb")
    client.meta.events.register("before-call.dynamodb.PutItem", hold)
    try:
        yield lambda parties: holders.__setitem__(
            slice(None), [threading.Barrier(parties, timeout=60)]
        )
    finally:
        client.meta.events.unregister("before-call.dynamodb.PutItem", hold)


@pytest.mark.parametrize("route", ["schedule", "video"])
def test_concurrent_requests_with_one_key_create_one(
    stack: AwsStack, concurrent_gateway: Gateway, puts_together: Any, route: str
) -> None:
    user = stack.user("basic")
    if route == "schedule":
        path, body, field = CREATE, post_body(user), "scheduleId"
    else:
        path, body, field = (
            "/api/v1/videos",
            {"title": "Once", "sizeBytes": 1024, "contentType": "video/mp4"},
            "id",
        )
    puts_together(10)
    results = run_concurrently(10, lambda _: send(concurrent_gateway, user, body, "same", path))

    ran = [r for r in results if r[0] == 200 and "idempotent-replayed" not in r[2]]
    assert len(ran) == 1
    others = Counter(
        (status, payload.get("error", {}).get("code")) for status, payload, _ in results
    )
    assert set(others) <= {(200, None), (409, "CONFLICT")}
    for status, payload, _headers in results:
        if status == 409:
            assert "Idempotency-Key" in payload["error"]["message"]
        else:
            assert payload["data"][field] == ran[0][1]["data"][field]
    kind = "SCHEDULE#" if route == "schedule" else "VIDEO#"
    created = [
        i for i in stack.items() if i["pk"] == f"USER#{user.user_id}" and i["sk"].startswith(kind)
    ]
    assert len(created) == 1
    assert (
        concurrent_gateway.runner.environments[
            "CreateScheduleFunction" if route == "schedule" else "CreateVideoFunction"
        ]
        > 1
    )


def test_no_key_no_idempotency(stack: AwsStack, basic: User) -> None:
    body = {"title": "Clip", "sizeBytes": 1024, "contentType": "video/mp4"}
    first = assert_ok(basic.call("POST", "/api/v1/videos", body))
    second = assert_ok(basic.call("POST", "/api/v1/videos", body))
    assert first["id"] != second["id"]
    table = stack.environment["IDEMPOTENCY_TABLE"]
    assert harness_client("dynamodb").scan(TableName=table)["Items"] == []
