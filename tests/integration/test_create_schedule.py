"""POST /api/v1/schedule/create and the base endpoint POST /api/v1/schedule, through the local
API Gateway (real payload 2.0 events, the real authorizer) against the template's resources in
moto: response bodies, what lands in the table and in EventBridge Scheduler, and every error."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from post_scheduler import wiring
from post_scheduler.adapters.table import due_shard
from tests.support import (
    API_TIME,
    MOTO_CONFIG,
    AwsStack,
    User,
    assert_error,
    assert_ok,
    at_minute_before,
    future,
)

VIDEO = "550e8400-e29b-41d4-a716-446655440000"
ACCOUNT = "123e4567-e89b-12d3-a456-426614174000"
PATHS = ["/api/v1/schedule/create", "/api/v1/schedule"]


def body(video: str, account: str, when: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "videoId": video,
        "tiktokAccountId": account,
        "scheduledPublishTime": when or future(),
        **extra,
    }


@pytest.fixture
def basic(stack: AwsStack) -> User:
    return stack.user("basic")


# --- success ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_create_with_the_references_example(stack: AwsStack, basic: User, path: str) -> None:
    basic.video(VIDEO, title="Amazing TikTok Video", description="Check out this content!")
    basic.account(ACCOUNT, username="my_tiktok_handle", displayName="My TikTok Name")
    when = future(120)
    before = datetime.now(UTC)

    response = basic.call(
        "POST",
        path,
        body(VIDEO, ACCOUNT, when, title="Scheduled Amazing Video", hashtags="#trending #viral"),
    )

    data = assert_ok(response)
    assert set(data) == {"scheduleId", "scheduledTime", "status", "createdAt"}
    assert data["status"] == "pending"
    assert data["scheduledTime"] == when.replace("Z", ".000Z")
    assert API_TIME.match(data["createdAt"])
    created = datetime.fromisoformat(data["createdAt"].replace("Z", "+00:00"))
    assert before - timedelta(seconds=1) <= created <= datetime.now(UTC)
    schedule_id = data["scheduleId"]

    # The table: the post, the video's one-pending-post lock, the plan counter.
    post = basic.post_item(schedule_id)
    assert post is not None
    assert post["status"] == "pending"
    assert post["videoId"] == VIDEO
    assert post["tiktokAccountId"] == ACCOUNT
    assert post["scheduledPublishTime"] == data["scheduledTime"]
    assert post["title"] == "Scheduled Amazing Video"
    assert post["hashtags"] == "#trending #viral"
    assert post["version"] == 1
    assert post["dueShard"] == due_shard(schedule_id)
    assert basic.video_item(VIDEO)["pendingScheduleId"] == schedule_id
    assert basic.pending_count() == 1

    # The Scheduler: one one-time schedule, the minute before, in the project's group.
    (schedule,) = stack.schedules()
    environment = stack.environment
    assert schedule["Name"] == f"post-{schedule_id}"
    assert schedule["GroupName"] == environment["SCHEDULE_GROUP"]
    assert schedule["ScheduleExpression"] == at_minute_before(when)
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert schedule["State"] == "ENABLED"
    target = schedule["Target"]
    assert target["Arn"] == environment["PUBLISH_QUEUE_ARN"]
    assert target["Arn"] == stack.template.attributes["PublishQueue.Arn"]
    assert target["RoleArn"] == stack.template.attributes["SchedulerRole.Arn"]
    assert target["DeadLetterConfig"] == {
        "Arn": stack.template.attributes["SchedulerDeadLetterQueue.Arn"]
    }
    assert target["RetryPolicy"] == {
        "MaximumRetryAttempts": wiring.get_settings().publisher_max_retry_attempts,
        "MaximumEventAgeInSeconds": wiring.get_settings().publisher_max_event_age_seconds,
    }
    assert json.loads(target["Input"]) == {
        "scheduleId": schedule_id,
        "userId": basic.user_id,
        "version": 1,
    }


def test_the_two_create_paths_behave_the_same(basic: User) -> None:
    account = basic.account()
    first = basic.call("POST", PATHS[0], body(basic.video(), account))
    second = basic.call("POST", PATHS[1], body(basic.video(), account))
    assert assert_ok(first).keys() == assert_ok(second).keys()
    assert basic.pending_count() == 2


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ("2030-01-02T03:04:05Z", "2030-01-02T03:04:05.000Z"),
        ("2030-01-02T03:04:05+00:00", "2030-01-02T03:04:05.000Z"),
        ("2030-01-02T03:04:05.678Z", "2030-01-02T03:04:05.678Z"),
        ("2030-01-02T03:04:05.6789Z", "2030-01-02T03:04:05.678Z"),
        ("2030-01-02t03:04:05z", "2030-01-02T03:04:05.000Z"),
    ],
)
def test_accepted_time_spellings(
    stack: AwsStack, basic: User, monkeypatch: pytest.MonkeyPatch, sent: str, shown: str
) -> None:
    monkeypatch.setenv("MAX_SCHEDULE_HORIZON_DAYS", "3650")
    wiring.reset()
    response = basic.create(basic.video(), basic.account(), sent)
    assert assert_ok(response)["scheduledTime"] == shown
    (schedule,) = stack.schedules()
    assert schedule["ScheduleExpression"] == "at(2030-01-02T03:03:00)"


def test_post_options_are_stored(basic: User) -> None:
    options = {"privacyLevel": "SELF_ONLY", "disableComment": True, "videoCoverTimestampMs": 1000}
    response = basic.create(basic.video(), basic.account(), options=options)
    post = basic.post_item(assert_ok(response)["scheduleId"])
    assert post is not None
    assert post["postOptions"]["privacyLevel"] == "SELF_ONLY"
    assert post["postOptions"]["disableComment"] is True
    assert post["postOptions"]["videoCoverTimestampMs"] == 1000


def test_one_account_many_videos_and_a_video_per_account(basic: User) -> None:
    account = basic.account()
    for _ in range(3):
        assert_ok(basic.create(basic.video(), account))
    assert basic.pending_count() == 3


# --- 400 VALIDATION_ERROR -----------------------------------------------------------------------


def _valid(user: User) -> dict[str, Any]:
    return body(user.video(), user.account())


MALFORMED_BODIES = [
    b"{",
    b"{bad json}",
    b'{"videoId": "a",}',
    b"",
    b"null",
    b"[]",
    b'"a string"',
    b"42",
    b"\xff\xfe{}",
    b'{"videoId": NaN}',
    b'{"videoId": "a", "videoId": "b"}',
    b"[" * 40 + b"]" * 40,
]

INVALID_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"videoId": None}, "videoId"),
    ({"tiktokAccountId": None}, "tiktokAccountId"),
    ({"scheduledPublishTime": None}, "scheduledPublishTime"),
    ({"videoId": 550}, "videoId"),
    ({"tiktokAccountId": ["x"]}, "tiktokAccountId"),
    ({"scheduledPublishTime": 1893456000}, "scheduledPublishTime"),
    ({"title": 7}, "title"),
    ({"hashtags": ["#a"]}, "hashtags"),
    ({"hashtags": "no-hash"}, "hashtags"),
    ({"title": "x" * 2201}, "title"),
    ({"title": "nul\x00byte"}, "title"),
    ({"title": "\ud800"}, "title"),  # a lone surrogate: not text
    ({"options": {"disableComment": "yes"}}, "options.disableComment"),
    ({"options": {"privacyLevel": "FRIENDS"}}, "options.privacyLevel"),
    ({"publishAt": "2030-01-01T00:00:00Z"}, "publishAt"),
    ({"userId": "someone-else"}, "userId"),
    ({"status": "executed"}, "status"),
    ({"videoId": "../../USER#x"}, "videoId"),
]

BAD_TIMES = [
    "2030-10-21T14:30:00",  # no offset
    "2030-10-21T14:30:00+01:00",
    "2030-10-21T09:30:00-05:00",
    "2030-10-21T14:30:00-00:00",
    "2030-10-21 14:30:00Z",
    "21 October 2030 14:30 UTC",
    "2030-02-30T10:00:00Z",
    "2030-10-21T14:30:60Z",
    "2030-10-21T14:30:00Z\n",
    "",
]


def test_malformed_bodies(stack: AwsStack, basic: User, subtests: pytest.Subtests) -> None:
    basic.video()
    with stack.unchanged():
        for raw in MALFORMED_BODIES:
            with subtests.test(raw=raw[:40]):
                response = basic.call("POST", PATHS[0], raw_body=raw)
                assert_error(response, 400, "VALIDATION_ERROR")


def test_invalid_fields(stack: AwsStack, basic: User, subtests: pytest.Subtests) -> None:
    valid = _valid(basic)
    with stack.unchanged():
        for change, field in INVALID_FIELDS:
            with subtests.test(field=field, change=str(change)[:60]):
                payload = {**valid, **change}
                payload = {k: v for k, v in payload.items() if v is not None}
                response = basic.call("POST", PATHS[0], payload)
                error = assert_error(response, 400, "VALIDATION_ERROR")
                assert field in [d["field"] for d in error["details"]], error


def test_non_utc_or_unparseable_times(
    stack: AwsStack, basic: User, subtests: pytest.Subtests
) -> None:
    valid = _valid(basic)
    with stack.unchanged():
        for when in BAD_TIMES:
            with subtests.test(when=when):
                payload = {**valid, "scheduledPublishTime": when}
                response = basic.call("POST", PATHS[1], payload)
                error = assert_error(response, 400, "VALIDATION_ERROR")
                assert error["details"][0]["field"] == "scheduledPublishTime"


def test_several_problems_are_all_named(basic: User) -> None:
    response = basic.call("POST", PATHS[0], {"videoId": 1, "scheduledPublishTime": "soon"})
    error = assert_error(response, 400, "VALIDATION_ERROR")
    fields = {d["field"] for d in error["details"]}
    assert fields == {"videoId", "tiktokAccountId", "scheduledPublishTime"}


def test_validation_comes_before_existence(stack: AwsStack, basic: User) -> None:
    # A bad time on an unknown video is a 400, not a 404: nothing is looked up for a bad body.
    payload = body("unknown-video", "unknown-account", "2030-10-21T14:30:00")
    assert_error(basic.call("POST", PATHS[0], payload), 400, "VALIDATION_ERROR")


def test_not_json_content_type(stack: AwsStack, basic: User) -> None:
    payload = json.dumps(_valid(basic)).encode()
    with stack.unchanged():
        response = basic.call(
            "POST",
            PATHS[0],
            raw_body=payload,
            headers={"content-type": "text/plain"},
        )
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_oversized_body(stack: AwsStack, basic: User) -> None:
    payload = {**_valid(basic), "title": "x" * 70_000}
    with stack.unchanged():
        response = basic.call("POST", PATHS[0], payload)
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


# --- 401 ----------------------------------------------------------------------------------------


def test_missing_authorization_is_401_in_the_envelope(stack: AwsStack) -> None:
    # The authorizer has no identity source, so it runs and the route answers in our envelope.
    with stack.unchanged():
        response = stack.call("POST", PATHS[0], body(VIDEO, ACCOUNT))
    assert_error(response, 401, "UNAUTHORIZED")


BAD_AUTHORIZATIONS = [
    "Bearer psk_this-key-was-never-issued-to-anyone",
    "Bearer not-a-credential",
    "Bearer a.b.c",
    "Basic dXNlcjpwYXNz",
    "Bearer",
    "psk_missing_scheme_0123456789",
]


def test_bad_credentials_are_401_in_the_envelope(
    stack: AwsStack, basic: User, subtests: pytest.Subtests
) -> None:
    payload = _valid(basic)
    with stack.unchanged():
        for authorization in BAD_AUTHORIZATIONS:
            with subtests.test(authorization=authorization):
                response = stack.call(
                    "POST", PATHS[0], payload, headers={"authorization": authorization}
                )
                assert_error(response, 401, "UNAUTHORIZED")


def test_credentials_are_checked_before_the_body(stack: AwsStack) -> None:
    response = stack.call(
        "POST", PATHS[0], raw_body=b"{broken", headers={"authorization": "Bearer nope"}
    )
    assert_error(response, 401, "UNAUTHORIZED")


# --- 403 ----------------------------------------------------------------------------------------


def test_free_plan_cannot_schedule(stack: AwsStack) -> None:
    free = stack.user("free")
    payload = body(free.video(), free.account())
    with stack.unchanged():
        response = free.call("POST", PATHS[0], payload)
    error = assert_error(response, 403, "FORBIDDEN")
    assert "free" in error["message"]


def test_free_plan_is_forbidden_whatever_the_ids(stack: AwsStack) -> None:
    free = stack.user("free")
    with stack.unchanged():
        response = free.call("POST", PATHS[0], body("unknown-video", "unknown-account"))
    assert_error(response, 403, "FORBIDDEN")


@pytest.mark.parametrize(("plan", "limit"), [("basic", 10), ("professional", 50)])
def test_plan_limit(stack: AwsStack, plan: str, limit: int) -> None:
    user = stack.user(plan)
    account = user.account()
    for index in range(limit):  # a minute apart: 6 per minute is TikTok's per-account limit
        assert_ok(user.create(user.video(), account, future(60 + index)))
    assert user.pending_count() == limit
    extra = user.video()

    with stack.unchanged():
        response = user.create(extra, account)

    error = assert_error(response, 403, "SCHEDULING_LIMIT_EXCEEDED")
    assert error["details"] == {"plan": plan, "limit": limit}
    assert "pendingScheduleId" not in user.video_item(extra)
    assert len(stack.schedules()) == limit


def test_the_limit_counts_pending_posts_only(stack: AwsStack, basic: User) -> None:
    account = basic.account()
    ids = [
        assert_ok(basic.create(basic.video(), account, future(60 + i)))["scheduleId"]
        for i in range(10)
    ]
    assert_error(basic.create(basic.video(), account), 403, "SCHEDULING_LIMIT_EXCEEDED")
    assert_ok(basic.put(ids[0], {"status": "cancelled"}))
    assert_ok(basic.delete(ids[1]))
    assert basic.pending_count() == 8
    assert_ok(basic.create(basic.video(), account, future(80)))
    assert_ok(basic.create(basic.video(), account, future(81)))
    assert_error(basic.create(basic.video(), account), 403, "SCHEDULING_LIMIT_EXCEEDED")
    assert basic.pending_count() == 10


def test_limits_are_per_user(stack: AwsStack, basic: User) -> None:
    account = basic.account()
    for index in range(10):
        assert_ok(basic.create(basic.video(), account, future(60 + index)))
    other = stack.user("basic")
    assert_ok(other.create(other.video(), other.account()))


# --- 404 ----------------------------------------------------------------------------------------


def test_unknown_video_and_account(stack: AwsStack, basic: User) -> None:
    video, account = basic.video(), basic.account()
    with stack.unchanged():
        no_video = basic.create("no-such-video", account)
        no_account = basic.create(video, "no-such-account")
    assert assert_error(no_video, 404, "NOT_FOUND")["message"] == "video not found"
    assert assert_error(no_account, 404, "NOT_FOUND")["message"] == "TikTok account not found"


def test_another_users_video_or_account_is_not_found(stack: AwsStack, basic: User) -> None:
    """Indistinguishable from an id that does not exist: same status, same body."""
    other = stack.user("professional")
    their_video, their_account = other.video(), other.account()
    my_video, my_account = basic.video(), basic.account()

    with stack.unchanged():
        theirs = basic.create(their_video, my_account)
        missing = basic.create("no-such-video", my_account)
        their_account_used = basic.create(my_video, their_account)
        missing_account = basic.create(my_video, "no-such-account")
        both_theirs = basic.create(their_video, their_account)

    assert assert_error(theirs, 404, "NOT_FOUND") == assert_error(missing, 404, "NOT_FOUND")
    assert assert_error(their_account_used, 404, "NOT_FOUND") == assert_error(
        missing_account, 404, "NOT_FOUND"
    )
    assert_error(both_theirs, 404, "NOT_FOUND")
    assert their_video not in json.dumps(theirs.body)


def test_another_users_pending_video_is_still_not_found(stack: AwsStack, basic: User) -> None:
    other = stack.user("basic")
    their_video = other.video()
    assert_ok(other.create(their_video, other.account()))
    # Not a 409: that would reveal the video exists and is scheduled.
    assert_error(basic.create(their_video, basic.account()), 404, "NOT_FOUND")


# --- 409 ----------------------------------------------------------------------------------------


def test_video_already_has_a_pending_post(stack: AwsStack, basic: User) -> None:
    video, account = basic.video(), basic.account()
    first = assert_ok(basic.create(video, account))
    second_account = basic.account()
    with stack.unchanged():
        again = basic.create(video, account, future(180))
        other_account = basic.create(video, second_account, future(240))
    error = assert_error(again, 409, "CONFLICT")
    assert error["details"] == {"videoId": video, "scheduleId": first["scheduleId"]}
    assert_error(other_account, 409, "CONFLICT")
    assert basic.pending_count() == 1


def test_video_already_published(stack: AwsStack, basic: User) -> None:
    video, account = basic.video(), basic.account()
    schedule_id = assert_ok(basic.create(video, account))["scheduleId"]
    assert_ok(basic.put(schedule_id, {"status": "executed"}))
    assert basic.video_item(video)["status"] == "published"
    with stack.unchanged():
        response = basic.create(video, account)
    error = assert_error(response, 409, "CONFLICT")
    assert "published" in error["message"]


def test_a_video_published_elsewhere_is_a_conflict(stack: AwsStack, basic: User) -> None:
    video, account = basic.video(status="published"), basic.account()
    with stack.unchanged():
        response = basic.create(video, account)
    assert_error(response, 409, "CONFLICT")


# --- 422 ----------------------------------------------------------------------------------------


TIME_RULES = [
    ("2025-10-21T14:30:00Z", "in the past"),  # the reference's example, long gone
    (-60 * 24 * 400, "in the past"),
    (-1, "in the past"),
    (1, "at least 900 seconds"),
    (14, "at least 900 seconds"),
    (60 * 24 * 366, "within 365 days"),
]


def test_time_rules(stack: AwsStack, basic: User, subtests: pytest.Subtests) -> None:
    video, account = basic.video(), basic.account()
    with stack.unchanged():
        for when, message in TIME_RULES:
            with subtests.test(when=when):
                text = when if isinstance(when, str) else future(when)
                response = basic.call("POST", PATHS[0], body(video, account, text))
                error = assert_error(response, 422, "UNPROCESSABLE_ENTITY")
                assert message in error["message"]


def test_the_default_lead_is_fifteen_minutes(basic: User) -> None:
    account = basic.account()
    assert_error(basic.create(basic.video(), account, future(14.5)), 422, "UNPROCESSABLE_ENTITY")
    assert_ok(basic.create(basic.video(), account, future(15.5)))


def test_a_lower_lead_configured_by_the_deployer(
    stack: AwsStack, basic: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = basic.account()
    assert_error(basic.create(basic.video(), account, future(2)), 422, "UNPROCESSABLE_ENTITY")

    monkeypatch.setenv("MIN_SCHEDULE_LEAD_SECONDS", "60")
    wiring.reset()

    when = future(2)
    response = basic.create(basic.video(), account, when)
    schedule_id = assert_ok(response)["scheduleId"]
    schedule = stack.schedule(schedule_id)
    assert schedule is not None
    # The minute before the publish time, or the current minute if that one is already over.
    now_minute = datetime.now(UTC).replace(second=0, microsecond=0)
    expected = max(
        datetime.fromisoformat(at_minute_before(when)[3:-1]).replace(tzinfo=UTC), now_minute
    )
    assert schedule["ScheduleExpression"] in {
        f"at({expected.strftime('%Y-%m-%dT%H:%M:%S')})",
        f"at({(expected - timedelta(minutes=1)).strftime('%Y-%m-%dT%H:%M:%S')})",
    }
    error = assert_error(
        basic.create(basic.video(), account, future(0.5)), 422, "UNPROCESSABLE_ENTITY"
    )
    assert error["details"]["minimumLeadSeconds"] == 60


def test_the_lead_from_the_template_parameter(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import mock_aws

    with mock_aws(config=MOTO_CONFIG):
        stack = AwsStack.create(monkeypatch, MinScheduleLeadSeconds="120")
        assert stack.environment["MIN_SCHEDULE_LEAD_SECONDS"] == "120"
        user = stack.user("basic")
        account = user.account()
        assert_error(user.create(user.video(), account, future(1.5)), 422, "UNPROCESSABLE_ENTITY")
        assert_ok(user.create(user.video(), account, future(2.5)))
    wiring.reset()


@pytest.mark.parametrize("status", ["uploading", "rejected"])
def test_video_not_ready(stack: AwsStack, basic: User, status: str) -> None:
    video, account = basic.video(status=status), basic.account()
    with stack.unchanged():
        response = basic.create(video, account)
    error = assert_error(response, 422, "UNPROCESSABLE_ENTITY")
    assert error["details"] == {"videoId": video, "videoStatus": status}


def test_time_rules_come_before_the_table(stack: AwsStack, basic: User) -> None:
    # A past time is refused without a write, even for an unknown video.
    account = basic.account()
    with stack.unchanged():
        response = basic.create("no-such-video", account, future(-5))
    assert_error(response, 422, "UNPROCESSABLE_ENTITY")


# --- faults -------------------------------------------------------------------------------------


def test_an_unexpected_fault_is_a_500_envelope_without_internals(
    stack: AwsStack, basic: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("secret internal detail at /var/task/app.py line 3")

    monkeypatch.setattr(wiring.scheduling_table(), "create_schedule", broken)
    response = basic.create(basic.video(), basic.account())
    error = assert_error(response, 500, "INTERNAL_ERROR")
    assert "secret" not in json.dumps(response.body)
    assert "/var/task" not in error["message"]
