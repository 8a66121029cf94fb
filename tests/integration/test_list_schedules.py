"""GET /api/v1/schedule/scheduled-videos: the caller's posts with video and account details,
paged, optionally by status."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from post_scheduler import wiring
from tests.support import (
    API_TIME,
    AwsStack,
    User,
    assert_error,
    assert_ok,
    aws_like_paging,
    future,
)

PATH = "/api/v1/schedule/scheduled-videos"
VIDEO = "550e8400-e29b-41d4-a716-446655440000"
ACCOUNT = "123e4567-e89b-12d3-a456-426614174000"


@pytest.fixture
def basic(stack: AwsStack) -> User:
    return stack.user("basic")


def pages(user: User, query: str = "") -> list[list[dict[str, Any]]]:
    """Every page of the list, following nextToken."""
    found: list[list[dict[str, Any]]] = []
    token: str | None = None
    while True:
        parts = [query] if query else []
        if token:
            parts.append(f"nextToken={token}")
        response = user.call("GET", PATH, query="&".join(parts))
        found.append(assert_ok(response))
        token = response.body.get("nextToken")
        if token is None:
            return found
        assert isinstance(token, str)
        assert token
        assert len(found) < 100


def test_empty(basic: User) -> None:
    response = basic.call("GET", PATH)
    assert response.body == {"success": True, "data": []}


def test_items_are_shaped_as_the_reference(basic: User) -> None:
    basic.video(VIDEO, title="Amazing TikTok Video", description="Check out this content!")
    basic.account(ACCOUNT, username="my_tiktok_handle", displayName="My TikTok Name")
    when = future(90)
    schedule_id = assert_ok(basic.create(VIDEO, ACCOUNT, when))["scheduleId"]

    response = basic.call("GET", PATH)

    assert set(response.body) == {"success", "data"}  # no nextToken on the only page
    (item,) = assert_ok(response)
    assert item["id"] == schedule_id
    assert item["scheduledPublishTime"] == when.replace("Z", ".000Z")
    assert item["status"] == "pending"
    assert item["video"] == {
        "id": VIDEO,
        "title": "Amazing TikTok Video",
        "description": "Check out this content!",
    }
    assert item["tiktokAccount"] == {
        "id": ACCOUNT,
        "username": "my_tiktok_handle",
        "displayName": "My TikTok Name",
    }
    assert API_TIME.match(item["createdAt"])
    assert API_TIME.match(item["updatedAt"])
    # Publishing details appear only once they exist; no internals ever.
    for absent in ("tiktokPublishId", "publishStartedAt", "executedAt", "failureReason"):
        assert absent not in item
    for internal in ("pk", "sk", "userId", "revision", "version", "dueAt", "gsi1sk", "claimToken"):
        assert internal not in item


def test_sorted_by_publish_time_and_only_mine(stack: AwsStack, basic: User) -> None:
    account = basic.account()
    later = assert_ok(basic.create(basic.video(), account, future(300)))["scheduleId"]
    sooner = assert_ok(basic.create(basic.video(), account, future(100)))["scheduleId"]
    middle = assert_ok(basic.create(basic.video(), account, future(200)))["scheduleId"]
    other = stack.user("basic")
    other.scheduled(future(150))

    items = assert_ok(basic.call("GET", PATH))

    assert [i["id"] for i in items] == [sooner, middle, later]


def test_executed_and_failed_posts_carry_their_outcome(basic: User) -> None:
    executed = basic.scheduled()
    assert_ok(basic.put(executed, {"status": "executed"}))
    published = basic.scheduled()
    now = datetime.now(UTC)
    basic.mark(
        published,
        "executed",
        tiktokPublishId="v_pub_file~v2.123456789",
        publishStartedAt=now,
        executedAt=now,
    )
    failed = basic.scheduled()
    basic.mark(failed, "failed", failureReason="the creator's account cannot post right now")

    items = {i["id"]: i for i in assert_ok(basic.call("GET", PATH))}

    assert items[executed]["status"] == "executed"
    assert API_TIME.match(items[executed]["executedAt"])
    assert items[published]["tiktokPublishId"] == "v_pub_file~v2.123456789"
    assert API_TIME.match(items[published]["publishStartedAt"])
    assert items[failed]["status"] == "failed"
    assert items[failed]["failureReason"] == "the creator's account cannot post right now"
    assert "failureReason" not in items[executed]


def test_publishing_posts_show_as_pending(basic: User) -> None:
    schedule_id = basic.scheduled()
    basic.mark(schedule_id, "publishing")
    (item,) = assert_ok(basic.call("GET", PATH))
    assert item["status"] == "pending"
    (filtered,) = assert_ok(basic.call("GET", PATH, query="status=pending"))
    assert filtered["id"] == schedule_id


def test_status_filter(basic: User) -> None:
    pending = basic.scheduled()
    cancelled = basic.scheduled()
    assert_ok(basic.put(cancelled, {"status": "cancelled"}))
    executed = basic.scheduled()
    assert_ok(basic.put(executed, {"status": "executed"}))
    failed = basic.scheduled()
    basic.mark(failed, "failed", failureReason="x")

    def ids(status: str) -> list[str]:
        return [i["id"] for i in assert_ok(basic.call("GET", PATH, query=f"status={status}"))]

    assert ids("pending") == [pending]
    assert ids("cancelled") == [cancelled]
    assert ids("executed") == [executed]
    assert ids("failed") == [failed]
    assert len(assert_ok(basic.call("GET", PATH))) == 4


BAD_QUERIES = [
    "status=unknown",
    "status=PENDING",
    "status=publishing",
    "status=",
    "limit=0",
    "limit=101",
    "limit=-1",
    "limit=abc",
    "limit=1.5",
    "limit=",
    "nextToken=",
    "nextToken=not-a-token",
    "nextToken=" + "A" * 3000,
]


def test_bad_parameters(basic: User, subtests: pytest.Subtests) -> None:
    basic.scheduled()
    for query in BAD_QUERIES:
        with subtests.test(query=query[:40]):
            error = assert_error(basic.call("GET", PATH, query=query), 400, "VALIDATION_ERROR")
            assert error["details"]


def test_paging_visits_every_post_once(stack: AwsStack, subtests: pytest.Subtests) -> None:
    for count, limit in [(5, 2), (4, 2), (3, 1), (7, 7), (8, 7), (1, 1)]:
        with subtests.test(count=count, limit=limit):
            user = stack.user("basic")
            ids = user.stored_posts(count)
            found = pages(user, f"limit={limit}")
            assert [i["id"] for page in found for i in page] == ids
            assert all(len(page) == limit for page in found[:-1])
            # No empty last page, and no nextToken on the last page.
            assert 0 < len(found[-1]) <= limit
            assert len(found) == -(-count // limit)


def test_a_full_last_page_has_no_next_token_as_dynamodb_pages(
    stack: AwsStack, subtests: pytest.Subtests
) -> None:
    """DynamoDB returns a LastEvaluatedKey when a page is exactly full, even with nothing
    after it; the list must still say "no more" on its last page."""
    for count, limit in [(4, 2), (2, 2), (6, 3), (3, 1)]:
        with subtests.test(count=count, limit=limit):
            user = stack.user("basic")
            ids = user.stored_posts(count)
            with aws_like_paging():
                found = pages(user, f"limit={limit}")
            assert [i["id"] for page in found for i in page] == ids
            assert [len(p) for p in found] == [limit] * (count // limit)


def test_filtered_paging(basic: User) -> None:
    pending = basic.stored_posts(5)
    basic.stored_posts(6, status="cancelled", start_minutes=62.5)
    with aws_like_paging():
        found = pages(basic, "status=pending&limit=2")
    assert [i["id"] for page in found for i in page] == pending
    assert [len(p) for p in found] == [2, 2, 1]
    with aws_like_paging():
        found = pages(basic, "status=executed&limit=2")
    assert found == [[]]


def test_default_page_size_is_fifty(basic: User) -> None:
    basic.stored_posts(51)
    response = basic.call("GET", PATH)
    assert len(assert_ok(response)) == 50
    assert response.body["nextToken"]


def test_a_token_cannot_page_into_another_users_posts(stack: AwsStack, basic: User) -> None:
    other = stack.user("basic")
    other.stored_posts(3)
    response = other.call("GET", PATH, query="limit=1")
    their_token = response.body["nextToken"]
    assert_error(basic.call("GET", PATH, query=f"nextToken={their_token}"), 400, "VALIDATION_ERROR")

    # Even sealed with the deployment's own key (as if the seal were broken), a position in
    # another partition, or of another kind of item, is refused.
    sealer = wiring.page_token_sealer()
    mine = f"schedules\nUSER#{basic.user_id}"
    theirs = {
        "pk": f"USER#{other.user_id}",
        "sk": "SCHEDULE#x",
        "gsi1pk": f"USER#{other.user_id}",
        "gsi1sk": "SCHEDULE#x",
    }
    mixed = {**theirs, "pk": f"USER#{basic.user_id}"}
    wrong_kind = {k: v.replace(other.user_id, basic.user_id) for k, v in theirs.items()}
    wrong_kind["gsi1sk"] = "VIDEO#x"
    for payload in (theirs, mixed, wrong_kind):
        token = sealer.seal(payload, mine)
        assert_error(basic.call("GET", PATH, query=f"nextToken={token}"), 400, "VALIDATION_ERROR")


def test_a_token_of_another_list_is_refused(basic: User) -> None:
    basic.stored_posts(1)
    for _ in range(2):
        basic.video()
    videos = basic.call("GET", "/api/v1/videos", query="limit=1")
    token = videos.body["nextToken"]
    assert_error(basic.call("GET", PATH, query=f"nextToken={token}"), 400, "VALIDATION_ERROR")


def test_credentials(stack: AwsStack) -> None:
    missing = stack.call("GET", PATH)
    assert_error(missing, 401, "UNAUTHORIZED")  # our envelope, even without the header
    assert_error(stack.call("GET", PATH, token="psk_nobody-has-this-key"), 401, "UNAUTHORIZED")


def test_free_plan_users_can_list(stack: AwsStack) -> None:
    # Listing is not the scheduling feature: a downgraded user still sees their posts.
    free = stack.user("free")
    assert assert_ok(free.call("GET", PATH)) == []


def test_a_users_token_names_no_table_key(stack: AwsStack, basic: User) -> None:
    basic.stored_posts(2)
    token = basic.call("GET", PATH, query="limit=1").body["nextToken"]
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert basic.user_id.encode() not in raw
    assert b"SCHEDULE#" not in raw
