"""GET /api/v1/schedule/{scheduleId} (one post with its publishing state) and
GET /api/v1/schedule/quota (the plan's pending-post limit in use)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support import API_TIME, AwsStack, User, assert_error, assert_ok, future

VIDEO = "550e8400-e29b-41d4-a716-446655440000"
ACCOUNT = "123e4567-e89b-12d3-a456-426614174000"


@pytest.fixture
def basic(stack: AwsStack) -> User:
    return stack.user("basic")


def get(user: User, schedule_id: str) -> dict:  # type: ignore[type-arg]
    data: dict = assert_ok(user.call("GET", f"/api/v1/schedule/{schedule_id}"))  # type: ignore[type-arg]
    return data


def test_one_post_is_a_list_item_plus_its_state(basic: User) -> None:
    basic.video(VIDEO, title="Amazing TikTok Video", description="Check out this content!")
    basic.account(ACCOUNT, username="my_tiktok_handle", displayName="My TikTok Name")
    when = future(90)
    schedule_id = assert_ok(basic.create(VIDEO, ACCOUNT, when, title="Hello"))["scheduleId"]

    post = get(basic, schedule_id)
    (listed,) = assert_ok(basic.call("GET", "/api/v1/schedule/scheduled-videos"))
    assert {k: v for k, v in post.items() if k != "attempts"} == listed
    assert post["attempts"] == 0
    assert post["video"] == {
        "id": VIDEO,
        "title": "Amazing TikTok Video",
        "description": "Check out this content!",
    }
    assert post["tiktokAccount"]["username"] == "my_tiktok_handle"
    assert API_TIME.match(post["scheduledPublishTime"])
    assert "upload" not in post
    assert "tiktokPublishId" not in post


def test_publishing_shows_upload_progress_and_publish_id(basic: User) -> None:
    schedule_id = basic.scheduled()
    started = datetime.now(UTC)
    basic.mark(
        schedule_id,
        "publishing",
        publishStartedAt=started,
        publishAttempts=2,
        tiktokPublishId="v_pub_file~1",
        uploadedBytes=10_485_760,
        videoSizeBytes=31_457_280,
    )
    post = get(basic, schedule_id)
    assert post["status"] == "pending"  # clients see a claimed post as pending
    assert post["attempts"] == 2
    assert post["tiktokPublishId"] == "v_pub_file~1"
    assert post["upload"] == {"uploadedBytes": 10_485_760, "totalBytes": 31_457_280}
    assert API_TIME.match(post["publishStartedAt"])


def test_failed_and_executed_posts(basic: User) -> None:
    failed = basic.scheduled()
    basic.mark(failed, "failed", failureReason="spam risk", failedAt=datetime.now(UTC))
    post = get(basic, failed)
    assert post["status"] == "failed"
    assert post["failureReason"] == "spam risk"
    assert API_TIME.match(post["failedAt"])

    executed = basic.scheduled()
    now = datetime.now(UTC)
    basic.mark(executed, "executed", executedAt=now, tiktokPublishId="v_pub_file~2")
    post = get(basic, executed)
    assert post["status"] == "executed"
    assert post["tiktokPublishId"] == "v_pub_file~2"
    assert API_TIME.match(post["executedAt"])
    assert "upload" not in post


def test_another_users_post_is_not_found(stack: AwsStack, basic: User) -> None:
    schedule_id = basic.scheduled()
    other = stack.user("basic")
    assert_error(other.call("GET", f"/api/v1/schedule/{schedule_id}"), 404, "NOT_FOUND")
    missing = "00000000-0000-4000-8000-000000000000"
    assert_error(basic.call("GET", f"/api/v1/schedule/{missing}"), 404, "NOT_FOUND")


def test_bad_id_and_no_credentials(stack: AwsStack, basic: User) -> None:
    assert_error(basic.call("GET", "/api/v1/schedule/not%20an%20id"), 400, "VALIDATION_ERROR")
    schedule_id = basic.scheduled()
    assert_error(
        stack.call("GET", f"/api/v1/schedule/{schedule_id}", token="psk_nope"), 401, "UNAUTHORIZED"
    )


def test_literal_routes_win_over_the_id(stack: AwsStack, basic: User) -> None:
    assert "upcomingPosts" in assert_ok(stack.call("GET", "/api/v1/schedule/upcoming"))
    assert assert_ok(basic.call("GET", "/api/v1/schedule/scheduled-videos")) == []
    assert set(assert_ok(basic.call("GET", "/api/v1/schedule/quota"))) == {
        "plan",
        "limit",
        "pending",
        "remaining",
    }


@pytest.mark.parametrize(("plan", "limit"), [("free", 0), ("basic", 10), ("professional", 50)])
def test_quota(stack: AwsStack, plan: str, limit: int) -> None:
    user = stack.user(plan)
    assert assert_ok(user.call("GET", "/api/v1/schedule/quota")) == {
        "plan": plan,
        "limit": limit,
        "pending": 0,
        "remaining": limit,
    }


def test_quota_follows_pending_posts(basic: User) -> None:
    first = basic.scheduled()
    basic.scheduled(future(120))
    assert assert_ok(basic.call("GET", "/api/v1/schedule/quota")) == {
        "plan": "basic",
        "limit": 10,
        "pending": 2,
        "remaining": 8,
    }
    assert_ok(basic.put(first, {"status": "cancelled"}))
    assert assert_ok(basic.call("GET", "/api/v1/schedule/quota"))["remaining"] == 9
