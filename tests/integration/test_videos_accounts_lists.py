"""GET /api/v1/videos and GET /api/v1/tiktok-accounts: the caller's own, paged like the list."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import AwsStack, User, assert_error, assert_ok, aws_like_paging

VIDEOS = "/api/v1/videos"
ACCOUNTS = "/api/v1/tiktok-accounts"
VIDEO = "550e8400-e29b-41d4-a716-446655440000"
ACCOUNT = "123e4567-e89b-12d3-a456-426614174000"


@pytest.fixture
def basic(stack: AwsStack) -> User:
    return stack.user("basic")


def every_page(user: User, path: str, limit: int) -> list[list[dict[str, Any]]]:
    found: list[list[dict[str, Any]]] = []
    token = None
    while True:
        query = f"limit={limit}" + (f"&nextToken={token}" if token else "")
        response = user.call("GET", path, query=query)
        found.append(assert_ok(response))
        token = response.body.get("nextToken")
        if token is None:
            return found
        assert len(found) < 50


def test_videos(stack: AwsStack, basic: User) -> None:
    basic.video(
        VIDEO, title="Amazing TikTok Video", description="Check out this content!", sizeBytes=12
    )
    stack.user("basic").video()  # someone else's

    response = basic.call("GET", VIDEOS)

    assert set(response.body) == {"success", "data"}
    (video,) = assert_ok(response)
    assert video["id"] == VIDEO
    assert video["title"] == "Amazing TikTok Video"
    assert video["description"] == "Check out this content!"
    assert video["sizeBytes"] == 12
    assert video["status"] == "ready"
    for internal in ("pk", "sk", "userId", "s3Key", "pendingScheduleId"):
        assert internal not in video


def test_video_statuses(basic: User) -> None:
    for status in ("uploading", "ready", "rejected", "published"):
        basic.video(f"video-{status}", status=status)
    statuses = {v["id"]: v["status"] for v in assert_ok(basic.call("GET", VIDEOS))}
    assert statuses == {f"video-{s}": s for s in ("uploading", "ready", "rejected", "published")}


def test_accounts(stack: AwsStack, basic: User) -> None:
    basic.account(
        ACCOUNT,
        username="my_tiktok_handle",
        displayName="My TikTok Name",
        accessTokenCipher="c2VjcmV0LWFjY2Vzcy10b2tlbg==",
        refreshTokenCipher="c2VjcmV0LXJlZnJlc2gtdG9rZW4=",
    )
    stack.user("basic").account()

    response = basic.call("GET", ACCOUNTS)

    assert set(response.body) == {"success", "data"}
    (account,) = assert_ok(response)
    assert account["id"] == ACCOUNT
    assert account["username"] == "my_tiktok_handle"
    assert account["displayName"] == "My TikTok Name"
    text = json.dumps(response.body)
    for secret in ("c2VjcmV0", "Token", "openId", "userId"):
        assert secret not in text


def test_an_account_whose_tokens_stopped_working_says_so_until_it_is_reconnected(
    basic: User,
) -> None:
    reason = "TikTok refused the refresh token (invalid_grant); reconnect the account"
    basic.account(ACCOUNT, needsReconnection=reason)
    healthy = basic.account()

    accounts = {a["id"]: a for a in assert_ok(basic.call("GET", ACCOUNTS))}

    assert accounts[ACCOUNT]["needsReconnection"] == reason
    assert accounts[healthy]["needsReconnection"] is None


def test_empty_lists(basic: User) -> None:
    assert basic.call("GET", VIDEOS).body == {"success": True, "data": []}
    assert basic.call("GET", ACCOUNTS).body == {"success": True, "data": []}


def test_videos_and_accounts_do_not_mix(basic: User) -> None:
    basic.video()
    basic.account()
    basic.scheduled()  # one more of each, and a post
    assert len(assert_ok(basic.call("GET", VIDEOS))) == 2
    assert len(assert_ok(basic.call("GET", ACCOUNTS))) == 2


def test_paging(stack: AwsStack, subtests: pytest.Subtests) -> None:
    for count, limit in [(5, 2), (4, 2), (3, 1), (2, 5)]:
        with subtests.test(count=count, limit=limit):
            check_paging(stack.user("basic"), count, limit)


def check_paging(basic: User, count: int, limit: int) -> None:
    for _ in range(count):
        basic.video()
        basic.account()
    basic.scheduled()  # a post (with a video and an account) in the same partition
    mine = [i for i in basic.stack.items() if i["pk"] == f"USER#{basic.user_id}"]
    videos = sorted(i["videoId"] for i in mine if i["sk"].startswith("VIDEO#"))
    accounts = sorted(i["accountId"] for i in mine if i["sk"].startswith("ACCOUNT#"))
    assert len(videos) == len(accounts) == count + 1
    with aws_like_paging():
        video_pages = every_page(basic, VIDEOS, limit)
        account_pages = every_page(basic, ACCOUNTS, limit)
    # Every item once, in id order, full pages but the last, no empty last page.
    assert [v["id"] for page in video_pages for v in page] == videos
    assert [a["id"] for page in account_pages for a in page] == accounts
    for found in (video_pages, account_pages):
        assert [len(p) for p in found[:-1]] == [limit] * (len(found) - 1)
        assert 0 < len(found[-1]) <= limit


def test_bad_parameters(basic: User, subtests: pytest.Subtests) -> None:
    for path in (VIDEOS, ACCOUNTS):
        for query in ("limit=0", "limit=101", "limit=ten", "nextToken=bad"):
            with subtests.test(path=path, query=query):
                assert_error(basic.call("GET", path, query=query), 400, "VALIDATION_ERROR")


def test_tokens_do_not_cross_lists_or_users(stack: AwsStack, basic: User) -> None:
    for _ in range(2):
        basic.video()
        basic.account()
    video_token = basic.call("GET", VIDEOS, query="limit=1").body["nextToken"]
    account_token = basic.call("GET", ACCOUNTS, query="limit=1").body["nextToken"]
    assert_error(
        basic.call("GET", ACCOUNTS, query=f"nextToken={video_token}"), 400, "VALIDATION_ERROR"
    )
    assert_error(
        basic.call("GET", VIDEOS, query=f"nextToken={account_token}"), 400, "VALIDATION_ERROR"
    )
    other = stack.user("basic")
    assert_error(
        other.call("GET", VIDEOS, query=f"nextToken={video_token}"), 400, "VALIDATION_ERROR"
    )


@pytest.mark.parametrize("path", [VIDEOS, ACCOUNTS])
def test_credentials(stack: AwsStack, path: str) -> None:
    missing = stack.call("GET", path)
    assert_error(missing, 401, "UNAUTHORIZED")  # our envelope, even without the header
    assert_error(stack.call("GET", path, token="psk_unknown-key-0000000"), 401, "UNAUTHORIZED")
