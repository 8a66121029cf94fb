"""events/: one real API Gateway HTTP API (payload 2.0) event per function, for
`sam local invoke -e`. Each matches its function's route in the template and works when the
function is invoked with it against the template's resources (with the reference's example
ids seeded for the demo Basic user)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from local.aws.template import ROOT
from post_scheduler import wiring
from post_scheduler.auth.api_keys import hash_api_key
from post_scheduler.models.records import ApiKeyRecord, ScheduleRecord
from tests.support import AwsStack, User

EVENTS = ROOT / "events"
FUNCTIONS = {
    "authorizer": "AuthorizerFunction",
    "create_schedule": "CreateScheduleFunction",
    "list_scheduled_videos": "ListScheduledVideosFunction",
    "update_schedule": "UpdateScheduleFunction",
    "delete_schedule": "DeleteScheduleFunction",
    "upcoming": "UpcomingFunction",
    "list_videos": "ListVideosFunction",
    "list_tiktok_accounts": "ListTikTokAccountsFunction",
}
VIDEO = "550e8400-e29b-41d4-a716-446655440000"
ACCOUNT = "123e4567-e89b-12d3-a456-426614174000"
SCHEDULE = "650e8400-e29b-41d4-a716-446655440000"


def load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def test_one_event_per_function() -> None:
    assert {p.stem for p in EVENTS.glob("*.json")} >= set(FUNCTIONS)


@pytest.mark.parametrize("name", sorted(set(FUNCTIONS) - {"authorizer"}))
def test_route_events_match_the_template(stack: AwsStack, name: str) -> None:
    event = load(name)
    routes = [r for r in stack.template.http_routes() if r.function == FUNCTIONS[name]]
    (route,) = [r for r in routes if r.route_key == event["routeKey"]]
    context = event["requestContext"]
    assert event["version"] == "2.0"
    assert context["routeKey"] == event["routeKey"]
    assert context["http"]["method"] == route.method
    assert context["http"]["path"] == event["rawPath"]
    match = route.pattern.match(event["rawPath"])
    assert match is not None
    assert (event.get("pathParameters") or {}) == match.groupdict()
    assert context["stage"] == "$default"
    assert isinstance(context["timeEpoch"], int)
    assert all(k == k.lower() for k in event["headers"])
    if route.public:
        assert "authorizer" not in context
    else:
        assert context["authorizer"]["lambda"]["userId"]
        assert event["headers"]["authorization"].startswith("Bearer ")
    if "body" in event:
        assert event["isBase64Encoded"] is False
        json.loads(event["body"])


def test_authorizer_event_is_a_request_event(stack: AwsStack) -> None:
    event = load("authorizer")
    assert event["version"] == "2.0"
    assert event["type"] == "REQUEST"
    assert event["identitySource"] == [event["headers"]["authorization"]]
    method = event["routeKey"].split(" ", 1)[0]
    assert event["routeArn"].endswith(f"/$default/{method}{event['rawPath']}")
    assert event["routeKey"] in {r.route_key for r in stack.template.http_routes()}
    assert "authorizer" not in event["requestContext"]


def event_time(event: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(event["requestContext"]["timeEpoch"] / 1000, UTC)


def seed(stack: AwsStack, event: dict[str, Any]) -> User:
    """The demo Basic user of the events, with the reference's video and account, a pending
    post with the reference's schedule id, and the events' API key."""
    user = stack.user("basic", user_id="demo-basic")
    user.video(VIDEO, title="Amazing TikTok Video", description="Check out this content!")
    user.account(ACCOUNT, username="my_tiktok_handle", displayName="My TikTok Name")
    token = load("authorizer")["headers"]["authorization"].removeprefix("Bearer ")
    now = event_time(event)
    stack.table.put_api_key(
        ApiKeyRecord(
            keyHash=hash_api_key(token), keyId="k1", userId=user.user_id, prefix=token[:12],
            createdAt=now,
        )
    )  # fmt: skip
    # The service's clock at the request's time, so the events' fixed times stay valid.
    wiring.schedule_service().clock = lambda: now
    return user


def seed_pending_post(stack: AwsStack, user: User, event: dict[str, Any]) -> None:
    now = event_time(event)
    stack.table.create_schedule(
        ScheduleRecord(
            scheduleId=SCHEDULE,
            userId=user.user_id,
            videoId=VIDEO,
            tiktokAccountId=ACCOUNT,
            scheduledPublishTime=now + timedelta(hours=3),
            status="pending",
            createdAt=now,
            updatedAt=now,
        )
    )


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_each_event_works_with_its_function(stack: AwsStack, name: str) -> None:
    event = load(name)
    user = seed(stack, event)
    if name in ("update_schedule", "delete_schedule", "list_scheduled_videos", "upcoming"):
        seed_pending_post(stack, user, event)

    result = stack.gateway.runner.invoke(FUNCTIONS[name], event)

    if name == "authorizer":
        assert result["isAuthorized"] is True
        assert result["context"]["userId"] == "demo-basic"
        return
    body = json.loads(result["body"])
    assert result["statusCode"] == 200, body
    assert body["success"] is True
    if name == "create_schedule":
        assert body["data"]["scheduledTime"] == "2027-10-21T14:30:00.000Z"
        assert user.pending_count() == 1
    elif name == "update_schedule":
        assert body["data"]["scheduledPublishTime"] == "2027-10-22T10:00:00.000Z"
    elif name == "delete_schedule":
        assert body["data"] == {"scheduleId": SCHEDULE, "deleted": True}
    elif name in ("list_scheduled_videos", "upcoming"):
        data = body["data"] if name == "list_scheduled_videos" else body["data"]["upcomingPosts"]
        assert len(data) == 1
    else:
        assert len(body["data"]) == 1


def test_events_hold_no_real_secrets() -> None:
    for path in EVENTS.glob("*.json"):
        text = path.read_text()
        assert "eyJ" not in text  # no JWT
        assert "AKIA" not in text
        assert Path(path).stat().st_size < 10_000
