"""Publishing end to end: a post scheduled a few seconds ahead is published by the scheduler
loop and the publisher (the stand-in TikTok holds exactly one complete upload of the video's
bytes) and ends `executed`; a post cancelled before its time is never published.

Both posts are created together (the professional demo user's large video and a small one) so
the suite waits once. The cancelled one is cancelled after its schedule fired, while the
publisher waits for its second."""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.seed import demo_user_id
from post_scheduler.adapters.table import SchedulingTable
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

PLAN = "professional"
EXECUTE_AFTER_SECONDS = 3  # beyond the minimum lead
CANCEL_AFTER_SECONDS = 5
SETTLE_SECONDS = 4  # how long after its time a wrongly published post would show up
WAIT_SECONDS = 90


def _at(seconds: float) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    whole = moment.replace(microsecond=0) + timedelta(seconds=1 if moment.microsecond else 0)
    return whole.strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass
class Scheduled:
    schedule_id: str
    title: str
    video: dict[str, Any]
    publish_time: str


@dataclass
class Pair:
    executed: Scheduled
    cancelled: Scheduled


def _all(stack: RunningStack, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        params = {"limit": "100", **({"nextToken": token} if token else {})}
        response = stack.call("GET", path, PLAN, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["data"])
        token = body.get("nextToken")
        if not token:
            return items


def _create(stack: RunningStack, video: dict[str, Any], account: str, after: float) -> Scheduled:
    title = f"e2e {uuid.uuid4().hex[:12]}"
    publish_time = _at(stack.min_lead_seconds + after)
    response = stack.call(
        "POST",
        "/api/v1/schedule/create",
        PLAN,
        json={
            "videoId": video["id"],
            "tiktokAccountId": account,
            "scheduledPublishTime": publish_time,
            "title": title,
            "hashtags": "#e2e",
        },
    )
    assert response.status_code == 200, response.text
    return Scheduled(response.json()["data"]["scheduleId"], title, video, publish_time)


@pytest.fixture(scope="module")
def pair(local_stack: RunningStack) -> Pair:
    videos = [v for v in _all(local_stack, "/api/v1/videos") if v["status"] == "ready"]
    accounts = _all(local_stack, "/api/v1/tiktok-accounts")
    assert videos, "the demo user has no ready video"
    assert accounts, "the demo user has no TikTok account"
    large = max(videos, key=lambda v: v["sizeBytes"])
    small = min(videos, key=lambda v: v["sizeBytes"])
    assert large["sizeBytes"] > 10 * 1024 * 1024, "the demo data should hold a large video"
    executed = _create(local_stack, large, accounts[0]["id"], EXECUTE_AFTER_SECONDS)
    cancelled = _create(local_stack, small, accounts[0]["id"], CANCEL_AFTER_SECONDS)
    # Its schedule fires at once (the minute before its time is already here): cancel it once
    # the publisher holds the event and waits for the second, the hardest case.
    _wait_until_fired(local_stack, cancelled.schedule_id)
    response = local_stack.call(
        "PUT", f"/api/v1/schedule/{cancelled.schedule_id}", PLAN, json={"status": "cancelled"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "cancelled"
    return Pair(executed, cancelled)


def _wait_until_fired(stack: RunningStack, schedule_id: str) -> None:
    """Until the post's one-time schedule has fired (Scheduler then deletes it)."""
    scheduler = stack.aws("scheduler")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        names = [s["Name"] for s in scheduler.list_schedules()["Schedules"]]
        if not any(schedule_id in name for name in names):
            return
        time.sleep(0.1)
    raise AssertionError(f"the schedule of {schedule_id} did not fire")


def _post(stack: RunningStack, schedule_id: str) -> dict[str, Any]:
    (item,) = [
        p for p in _all(stack, "/api/v1/schedule/scheduled-videos") if p["id"] == schedule_id
    ]
    return item


def _s3_sha256(stack: RunningStack, video_id: str) -> str:
    """The video's bytes as stored: its record names the S3 key (the table adapter reads it)."""
    dynamodb, s3 = stack.aws("dynamodb"), stack.aws("s3")
    video = None
    for table in dynamodb.list_tables()["TableNames"]:
        video = SchedulingTable(table, dynamodb).get_video(demo_user_id(PLAN), video_id)
        if video is not None:
            break
    assert video is not None, "the video's record was not found"
    for bucket in s3.list_buckets()["Buckets"]:
        try:
            body = s3.get_object(Bucket=bucket["Name"], Key=video.s3Key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            continue
        return hashlib.sha256(body).hexdigest()
    raise AssertionError(f"no bucket holds {video.s3Key}")


def test_post_due_in_seconds_is_published_once(local_stack: RunningStack, pair: Pair) -> None:
    scheduled = pair.executed
    deadline = time.monotonic() + WAIT_SECONDS
    item = _post(local_stack, scheduled.schedule_id)
    while item["status"] == "pending" and time.monotonic() < deadline:
        time.sleep(0.5)
        item = _post(local_stack, scheduled.schedule_id)
    assert item["status"] == "executed", f"{item}\n{local_stack.log_tail()}"

    published = [p for p in local_stack.stub_posts() if p["title"].startswith(scheduled.title)]
    assert len(published) == 1, published
    (post,) = published
    assert post["complete"] is True
    assert post["bytes_received"] == scheduled.video["sizeBytes"]
    assert post["sha256"] == _s3_sha256(local_stack, scheduled.video["id"])
    assert item["tiktokPublishId"] == post["publish_id"]
    # Publishing starts at the requested second, not when the schedule fired (a minute early).
    started = _epoch(item["publishStartedAt"])
    assert _epoch(scheduled.publish_time) <= started < _epoch(scheduled.publish_time) + 5, item
    assert item["executedAt"] >= item["publishStartedAt"]


def test_cancelled_post_is_never_published(local_stack: RunningStack, pair: Pair) -> None:
    scheduled = pair.cancelled
    wait = _epoch(scheduled.publish_time) + SETTLE_SECONDS - time.time()
    time.sleep(max(0.0, math.ceil(wait)))

    item = _post(local_stack, scheduled.schedule_id)
    assert item["status"] == "cancelled", item
    assert "tiktokPublishId" not in item
    published = [p for p in local_stack.stub_posts() if p["title"].startswith(scheduled.title)]
    assert published == []
