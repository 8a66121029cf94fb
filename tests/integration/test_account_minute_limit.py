"""TikTok's per-account posting limit as a pre-flight check: at most 6 pending posts of one
TikTok account due in one UTC minute (TikTok allows 6 Direct Post init calls per minute per user
access token). A counter item per (account, minute) moves inside the same transactions that
take and give back the plan slot, so it stays exact under concurrency."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

from local.aws.gateway import Gateway
from local.aws.lambda_runtime import FunctionRunner
from tests.support import AwsStack, User, assert_error, assert_ok, run_concurrently

LIMIT = 6


@pytest.fixture
def no_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    """Metrics (not under test) off: Powertools keeps them per process, shared by the
    execution environments this test runs side by side (see test_concurrency.py)."""
    monkeypatch.setattr(AmazonCloudWatchEMFProvider, "add_metric", lambda *_, **__: None)
    monkeypatch.setattr(AmazonCloudWatchEMFProvider, "flush_metrics", lambda *_, **__: None)


@pytest.fixture
def pro(stack: AwsStack) -> User:
    return stack.user("professional")


def minute_start(hours: float = 2) -> datetime:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(second=0, microsecond=0)


def at(minute: datetime, seconds: int = 0) -> str:
    return (minute + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def fill(user: User, account: str, minute: datetime, count: int = LIMIT) -> list[str]:
    """`count` pending posts of the account due within `minute`; their ids."""
    return [
        assert_ok(user.create(user.video(), account, at(minute, 5 * i)))["scheduleId"]
        for i in range(count)
    ]


def counter(user: User, account: str, minute: datetime) -> int:
    item = user.stack.raw_item(
        f"USER#{user.user_id}", f"POSTMINUTE#{account}#{minute.strftime('%Y-%m-%dT%H:%M')}"
    )
    return 0 if item is None else int(item["postCount"])


def assert_minute_full(response: Any, account: str, minute: datetime) -> None:
    error = assert_error(response, 422, "UNPROCESSABLE_ENTITY")
    assert error["details"]["reason"] == "TIKTOK_ACCOUNT_MINUTE_FULL"
    assert error["details"]["tiktokAccountId"] == account
    assert error["details"]["minute"] == minute.strftime("%Y-%m-%dT%H:%MZ")
    assert error["details"]["limit"] == LIMIT


def test_a_seventh_post_in_one_minute_is_refused(stack: AwsStack, pro: User) -> None:
    account, minute = pro.account(), minute_start()
    fill(pro, account, minute)
    video = pro.video()
    with stack.unchanged():
        assert_minute_full(pro.create(video, account, at(minute, 59)), account, minute)
    assert counter(pro, account, minute) == LIMIT
    # The next minute, and another account in the same minute, are free.
    assert_ok(pro.create(video, account, at(minute, 60)))
    assert_ok(pro.create(pro.video(), pro.account(), at(minute, 30)))
    assert pro.pending_count() == LIMIT + 2


def test_cancel_delete_and_ending_give_the_slot_back(pro: User) -> None:
    account, minute = pro.account(), minute_start()
    cancelled, deleted, failed, executed, *_ = fill(pro, account, minute)
    assert_ok(pro.put(cancelled, {"status": "cancelled"}))
    assert counter(pro, account, minute) == LIMIT - 1
    assert_ok(pro.delete(deleted))
    assert counter(pro, account, minute) == LIMIT - 2
    pro.mark(failed, "failed", failureReason="TikTok internal error")
    pro.mark(executed, "executed")
    assert counter(pro, account, minute) == LIMIT - 4
    fill(pro, account, minute, 4)
    assert counter(pro, account, minute) == LIMIT
    assert_minute_full(pro.create(pro.video(), account, at(minute, 1)), account, minute)


def test_moving_a_post_moves_its_slot(stack: AwsStack, pro: User) -> None:
    account, minute = pro.account(), minute_start()
    later = minute + timedelta(minutes=10)
    posts = fill(pro, account, minute)
    fill(pro, account, later)
    # Into a full minute: refused, nothing changes.
    with stack.unchanged():
        assert_minute_full(
            pro.put(posts[0], {"scheduledPublishTime": at(later, 30)}), account, later
        )
    # Within its own minute: no slot moves.
    assert_ok(pro.put(posts[0], {"scheduledPublishTime": at(minute, 58)}))
    assert counter(pro, account, minute) == LIMIT
    # To a free minute: the old minute gets its slot back.
    elsewhere = minute + timedelta(minutes=20)
    assert_ok(pro.put(posts[0], {"scheduledPublishTime": at(elsewhere, 1)}))
    assert counter(pro, account, minute) == LIMIT - 1
    assert counter(pro, account, elsewhere) == 1
    assert_ok(pro.delete(posts[0]))
    assert counter(pro, account, elsewhere) == 0


def test_reactivation_and_retry_check_the_minute(stack: AwsStack, pro: User) -> None:
    account, minute = pro.account(), minute_start()
    cancelled, failed, *_ = fill(pro, account, minute)
    assert_ok(pro.put(cancelled, {"status": "cancelled"}))
    pro.mark(failed, "failed", failureReason="TikTok internal error")
    fill(pro, account, minute, 2)
    with stack.unchanged():
        assert_minute_full(
            pro.put(cancelled, {"status": "pending", "scheduledPublishTime": at(minute, 2)}),
            account,
            minute,
        )
        assert_minute_full(
            pro.call(
                "POST", f"/api/v1/schedule/{failed}/retry", {"scheduledPublishTime": at(minute)}
            ),
            account,
            minute,
        )
    # Elsewhere both come back, and each holds a slot of its new minute.
    free = minute + timedelta(minutes=5)
    assert_ok(pro.put(cancelled, {"status": "pending", "scheduledPublishTime": at(free)}))
    assert_ok(
        pro.call("POST", f"/api/v1/schedule/{failed}/retry", {"scheduledPublishTime": at(free)})
    )
    assert counter(pro, account, free) == 2
    assert counter(pro, account, minute) == LIMIT


def test_concurrent_creates_in_one_minute_take_exactly_six(
    stack: AwsStack, atomic_requests: None, no_metrics: None
) -> None:
    gateway = Gateway(stack.template, FunctionRunner(stack.template, pooled=True))
    user = stack.user("professional")
    account, minute = user.account(), minute_start()
    videos = [user.video() for _ in range(12)]

    def create(i: int) -> tuple[int, str | None]:
        body = {
            "videoId": videos[i],
            "tiktokAccountId": account,
            "scheduledPublishTime": at(minute, i),
        }
        response = gateway.handle(
            "POST",
            "/api/v1/schedule/create",
            "",
            [("authorization", f"Bearer {user.api_key}"), ("content-type", "application/json")],
            json.dumps(body).encode(),
        )
        payload = response.json()
        return response.status, ((payload.get("error") or {}).get("details") or {}).get("reason")

    results = Counter(run_concurrently(12, create))

    assert results == {(200, None): LIMIT, (422, "TIKTOK_ACCOUNT_MINUTE_FULL"): 12 - LIMIT}
    assert counter(user, account, minute) == LIMIT
    assert user.pending_count() == LIMIT
    assert len(stack.schedules()) == LIMIT
