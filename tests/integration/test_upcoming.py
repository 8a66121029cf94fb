"""GET /api/v1/schedule/upcoming: public, pending posts still to come, soonest first."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from post_scheduler import wiring
from post_scheduler.adapters.aws import aws_client
from post_scheduler.adapters.table import DUE_INDEX
from tests.support import (
    API_TIME,
    AwsStack,
    Response,
    assert_error,
    assert_ok,
    aws_like_paging,
    future,
)

PATH = "/api/v1/schedule/upcoming"


def upcoming(stack: AwsStack, query: str = "") -> Response:
    # No credentials at all: the route has no authorizer.
    return stack.call("GET", PATH, query=query)


def all_pages(stack: AwsStack, limit: int) -> list[list[dict[str, Any]]]:
    found: list[list[dict[str, Any]]] = []
    token = None
    while True:
        query = f"limit={limit}" + (f"&nextToken={token}" if token else "")
        response = upcoming(stack, query)
        data = assert_ok(response)
        assert "nextToken" not in response.body  # it lives in data, as upcomingPosts does
        found.append(data["upcomingPosts"])
        token = data.get("nextToken")
        if token is None:
            return found
        assert len(found) < 50


def test_public_and_empty(stack: AwsStack) -> None:
    response = upcoming(stack)
    assert response.body == {"success": True, "data": {"upcomingPosts": []}}


def test_shape_and_order_across_users(stack: AwsStack) -> None:
    alice, bob = stack.user("basic"), stack.user("professional")
    account = alice.account()
    late = assert_ok(alice.create(alice.video(), account, future(300)))["scheduleId"]
    soon = bob.scheduled(future(100))
    middle = assert_ok(alice.create(alice.video(), account, future(200)))["scheduleId"]

    posts = assert_ok(upcoming(stack))["upcomingPosts"]

    assert [p["scheduleId"] for p in posts] == [soon, middle, late]
    for post in posts:
        assert set(post) == {"scheduleId", "publishTime", "accountId"}
        assert API_TIME.match(post["publishTime"])
    assert posts[1]["accountId"] == account
    assert posts[0]["publishTime"] < posts[1]["publishTime"] < posts[2]["publishTime"]


def test_only_pending_posts_in_the_future(stack: AwsStack) -> None:
    user = stack.user("professional")
    pending = user.scheduled(future(50))
    cancelled = user.scheduled(future(60))
    assert_ok(user.put(cancelled, {"status": "cancelled"}))
    executed = user.scheduled(future(70))
    assert_ok(user.put(executed, {"status": "executed"}))
    failed = user.scheduled(future(80))
    user.mark(failed, "failed", failureReason="x")
    publishing = user.scheduled(future(90))
    user.mark(publishing, "publishing")
    deleted = user.scheduled(future(100))
    assert_ok(user.delete(deleted))
    overdue = user.stored_posts(2, start_minutes=-30)  # pending, but their time has passed

    posts = assert_ok(upcoming(stack))["upcomingPosts"]

    assert [p["scheduleId"] for p in posts] == [pending]
    assert not set(overdue) & {p["scheduleId"] for p in posts}


def test_moved_and_reactivated_posts(stack: AwsStack) -> None:
    user = stack.user("basic")
    first = user.scheduled(future(100))
    second = user.scheduled(future(200))
    assert_ok(user.put(first, {"scheduledPublishTime": future(300)}))
    assert_ok(user.put(second, {"status": "cancelled"}))
    assert [p["scheduleId"] for p in assert_ok(upcoming(stack))["upcomingPosts"]] == [first]
    assert_ok(user.put(second, {"status": "pending", "scheduledPublishTime": future(50)}))
    assert [p["scheduleId"] for p in assert_ok(upcoming(stack))["upcomingPosts"]] == [
        second,
        first,
    ]


def test_nothing_private_is_shown(stack: AwsStack) -> None:
    user = stack.user("basic")
    video = user.video(title="Secret title")
    assert_ok(user.create(video, user.account(), title="Secret caption", hashtags="#secret"))
    text = json.dumps(upcoming(stack).body)
    for private in (user.user_id, video, "Secret", "#secret", user.api_key):
        assert private not in text


def test_credentials_are_not_needed_nor_checked(stack: AwsStack) -> None:
    stack.user("basic").scheduled()
    anonymous = upcoming(stack)
    with_garbage = stack.call("GET", PATH, headers={"authorization": "Bearer garbage"})
    assert assert_ok(anonymous) == assert_ok(with_garbage)


@pytest.mark.parametrize(("count", "limit"), [(5, 2), (4, 2), (3, 3), (1, 5)])
def test_paging(stack: AwsStack, count: int, limit: int) -> None:
    user = stack.user("professional")
    ids = user.stored_posts(count)
    user.stored_posts(3, status="cancelled", start_minutes=60.5)  # filtered out on the way
    with aws_like_paging():
        found = all_pages(stack, limit)
    assert [p["scheduleId"] for page in found for p in page] == ids
    assert [len(page) for page in found] == [limit] * (count // limit) + (
        [count % limit] if count % limit else []
    )


def test_default_page_size_is_fifty(stack: AwsStack) -> None:
    stack.user("professional").stored_posts(51)
    data = assert_ok(upcoming(stack))
    assert len(data["upcomingPosts"]) == 50
    assert data["nextToken"]


def test_a_token_whose_post_has_passed_continues_from_now(stack: AwsStack) -> None:
    """Page 2 asked for after the last post of page 1 went by: DynamoDB would refuse that start
    key (outside the key condition); the list simply continues with what is still to come."""
    user = stack.user("professional")
    passed = user.stored_posts(2, start_minutes=-10)
    to_come = user.stored_posts(2, start_minutes=30)
    stale = {"dueAt": user.post_item(passed[1])["dueAt"]}  # type: ignore[index]
    token = wiring.page_token_sealer().seal(stale, "upcoming")  # a genuine token of page 1

    def refuse_keys_outside_the_condition(params: dict[str, Any], **_: Any) -> None:
        start = params.get("ExclusiveStartKey")
        now = params["ExpressionAttributeValues"][":after"]["S"]
        if params.get("IndexName") == DUE_INDEX and start and start["dueAt"]["S"] <= now:
            raise ClientError(
                {
                    "Error": {
                        "Code": "ValidationException",
                        "Message": "The provided starting key is outside query boundaries"
                        " based on provided conditions",
                    }
                },
                "Query",
            )

    client = aws_client("dynamodb")
    client.meta.events.register(
        "before-parameter-build.dynamodb.Query", refuse_keys_outside_the_condition
    )
    try:
        response = upcoming(stack, f"nextToken={token}")
    finally:
        client.meta.events.unregister(
            "before-parameter-build.dynamodb.Query", refuse_keys_outside_the_condition
        )
    assert [p["scheduleId"] for p in assert_ok(response)["upcomingPosts"]] == to_come


def test_bad_parameters(stack: AwsStack, subtests: pytest.Subtests) -> None:
    for query in [
        "limit=0",
        "limit=101",
        "limit=x",
        "nextToken=",
        "nextToken=%%%",
        "nextToken=e30",
    ]:
        with subtests.test(query=query):
            assert_error(upcoming(stack, query), 400, "VALIDATION_ERROR")


def test_forged_tokens(stack: AwsStack) -> None:
    user = stack.user("basic")
    user.stored_posts(3)
    for forged in (
        {"pk": "USER#x", "sk": "SCHEDULE#y", "dueShard": "OTHER", "dueAt": "2030"},
        {"pk": "USER#x", "sk": "SCHEDULE#y", "gsi1pk": "USER#x", "gsi1sk": "SCHEDULE#2030"},
        {"pk": "USER#x", "sk": "SCHEDULE#y", "dueShard": "DUE"},
    ):
        token = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
        assert_error(upcoming(stack, f"nextToken={token}"), 400, "VALIDATION_ERROR")
    # A scheduled-videos token is not an upcoming token.
    other = user.call("GET", "/api/v1/schedule/scheduled-videos", query="limit=1")
    token = other.body["nextToken"]
    assert_error(upcoming(stack, f"nextToken={token}"), 400, "VALIDATION_ERROR")


def _raw(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def test_the_public_token_is_sealed_and_names_no_user(stack: AwsStack) -> None:
    user = stack.user("professional")
    user.stored_posts(3)
    token = assert_ok(upcoming(stack, "limit=1"))["nextToken"]

    raw = _raw(token)
    for secret in (user.user_id.encode(), b"USER#", b"SCHEDULE#", b"dueAt", b"pk"):
        assert secret not in raw
    # Altering any byte of it is refused, like a token that was never issued.
    for index in (0, 5, len(raw) // 2, len(raw) - 1):
        tampered = bytearray(raw)
        tampered[index] ^= 0x01
        forged = base64.urlsafe_b64encode(bytes(tampered)).decode().rstrip("=")
        error = assert_error(upcoming(stack, f"nextToken={forged}"), 400, "VALIDATION_ERROR")
        assert error["details"] == {"field": "nextToken"}
    assert len(assert_ok(upcoming(stack, f"limit=1&nextToken={token}"))["upcomingPosts"]) == 1


def test_an_old_token_is_refused(stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
    import time as clock

    stack.user("professional").stored_posts(2)
    token = assert_ok(upcoming(stack, "limit=1"))["nextToken"]
    later = clock.time() + 25 * 3600
    monkeypatch.setattr(clock, "time", lambda: later)
    error = assert_error(upcoming(stack, f"nextToken={token}"), 400, "VALIDATION_ERROR")
    assert "expired" in error["message"]


def test_any_function_instance_opens_another_ones_token(stack: AwsStack) -> None:
    from post_scheduler.adapters.page_seal import KmsKeyRing, TokenSealer

    key = stack.environment["PAGE_TOKEN_KMS_KEY_ID"]
    parameter = stack.environment["PAGE_TOKEN_KEY_PARAMETER"]
    one, other = TokenSealer(KmsKeyRing(key, parameter)), TokenSealer(KmsKeyRing(key, parameter))
    token = one.seal({"pk": "a"}, "upcoming")  # the first instance creates the data key
    assert other.unseal(token, "upcoming") == {"pk": "a"}  # the second opens the same one
    stored = aws_client("ssm").get_parameter(Name=parameter)["Parameter"]
    assert stored["Type"] == "String"  # KMS ciphertext: the key is never stored in clear
    assert base64.b64decode(stored["Value"]) != one.keys.current()[1]


def test_a_forged_token_costs_no_kms_call(stack: AwsStack) -> None:
    stack.user("professional").stored_posts(2)
    assert_ok(upcoming(stack, "limit=1"))  # the instance has its key now
    forged = base64.urlsafe_b64encode(b"\x01\x00\x08" + bytes(8) + bytes(40)).decode()
    kms_calls: list[str] = []
    kms = aws_client("kms")

    def record(model: Any, **_: Any) -> None:
        kms_calls.append(model.name)

    kms.meta.events.register("before-parameter-build", record)
    try:
        error = assert_error(upcoming(stack, f"nextToken={forged}"), 400, "VALIDATION_ERROR")
    finally:
        kms.meta.events.unregister("before-parameter-build", record)
    assert error["details"] == {"field": "nextToken"}
    assert kms_calls == []
