"""Publishing end to end, with the local stack behaving as AWS at its worst (schedules fire
anywhere in their minute, asynchronous events may come twice): a post is published by the
scheduler loop and the publisher at its second (the stand-in TikTok holds exactly one complete
upload of the video's bytes) and ends `executed`; a post cancelled before its time is never
published; with every event delivered twice, 20 posts still make exactly 20 TikTok posts.

A post's schedule is for the minute before the post's own minute, so it fires before the post's
time whatever its offset, and the publisher waits for the exact second. That needs the post to
be due in a later minute than the one it is created in: a post due within its creation minute
gets a schedule for that same minute (the minute before is over), which may fire after the
post's second. So the posts that check the second are due in a minute that starts after they
are all created ("the window"), and the posts due sooner are checked for what still holds:
executed exactly once, never early, within their minute.

Everything is created together and the suite waits once for the window."""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from local.seed import demo_user_id
from post_scheduler.adapters.table import SchedulingTable
from tests.e2e.conftest import RunningStack, e2e_settings, stack_for_tests

pytestmark = pytest.mark.e2e

PLAN = "professional"
CANCEL_AFTER_SECONDS = 4  # the cancelled post's time, after the window starts
CREATE_SECONDS = 10  # enough to create every post of this module, even on a loaded machine
SETTLE_SECONDS = 4  # how long after its time a wrongly published post would show up
WAIT_SECONDS = 120
TWICE_POSTS = 20  # half due as soon as allowed (usually their creation minute), half later
EXACT_SECONDS = 5  # a post in the window starts within this of its time


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _whole_second_after(moment: datetime) -> datetime:
    whole = moment.replace(microsecond=0)
    return whole + timedelta(seconds=1) if whole < moment else whole


def _soonest(stack: RunningStack) -> datetime:
    """The soonest time a post created within CREATE_SECONDS may have."""
    lead = stack.min_lead_seconds + CREATE_SECONDS
    return _whole_second_after(datetime.now(UTC) + timedelta(seconds=lead))


def _window(stack: RunningStack) -> datetime:
    """The first second, at or after the soonest, whose minute starts after every post created
    from now (within CREATE_SECONDS) exists: their schedules' minute lies wholly before it."""
    soonest = _soonest(stack)
    created_by = datetime.now(UTC) + timedelta(seconds=CREATE_SECONDS)
    next_minute = created_by.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return max(soonest, next_minute)


@dataclass
class Scheduled:
    schedule_id: str
    title: str
    video: dict[str, Any]
    publish_time: str
    created_at: str

    @property
    def in_window(self) -> bool:
        """Due in a later minute than its creation: its schedule's minute ends before it."""
        created = datetime.fromtimestamp(_epoch(self.created_at), UTC)
        publish = datetime.fromtimestamp(_epoch(self.publish_time), UTC)
        return publish.replace(second=0) - timedelta(minutes=1) >= created.replace(
            second=0, microsecond=0
        )


@dataclass
class Scenario:
    executed: Scheduled
    cancelled: Scheduled
    twice: list[Scheduled]


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


def _assets(stack: RunningStack) -> tuple[list[dict[str, Any]], list[str]]:
    """The demo user's ready videos, largest first, and its TikTok accounts."""
    videos = [v for v in _all(stack, "/api/v1/videos") if v["status"] == "ready"]
    accounts = _all(stack, "/api/v1/tiktok-accounts")
    assert videos, "the demo user has no ready video"
    assert accounts, "the demo user has no TikTok account"
    videos.sort(key=lambda v: -int(v["sizeBytes"]))
    assert videos[0]["sizeBytes"] > 10 * 1024 * 1024, "the demo data should hold a large video"
    return videos, [a["id"] for a in accounts]


def _create(stack: RunningStack, video: dict[str, Any], account: str, when: datetime) -> Scheduled:
    title = f"e2e {uuid.uuid4().hex[:12]}"
    response = stack.call(
        "POST",
        "/api/v1/schedule/create",
        PLAN,
        json={
            "videoId": video["id"],
            "tiktokAccountId": account,
            "scheduledPublishTime": _iso(when),
            "title": title,
            "hashtags": "#e2e",
        },
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    return Scheduled(data["scheduleId"], title, video, _iso(when), data["createdAt"])


@pytest.fixture(scope="module")
def twice_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A stack of its own that delivers every asynchronous event twice."""
    log_path = tmp_path_factory.mktemp("twice-stack") / "stack.log"
    settings = e2e_settings(LOCAL_DUPLICATE_DELIVERY="1")
    with stack_for_tests(log_path, "stack delivering everything twice", settings) as stack:
        yield stack


@pytest.fixture(scope="module")
def scenario(local_stack: RunningStack, twice_stack: RunningStack) -> Scenario:
    videos, accounts = _assets(local_stack)
    account = accounts[0]
    twice_videos, twice_accounts = _assets(twice_stack)

    def spread(index: int) -> str:
        # Round robin: TikTok takes at most 6 posts of one account per minute.
        return twice_accounts[index % len(twice_accounts)]

    half = TWICE_POSTS // 2
    # Due as soon as allowed, usually in this minute: published when their schedule fires.
    soonest = _soonest(twice_stack)
    twice = [
        _create(twice_stack, v, spread(i), soonest) for i, v in enumerate(twice_videos[-half:])
    ]
    window = _window(local_stack)
    # The large video (a chunked upload) and small ones, all in the same second.
    twice += [
        _create(twice_stack, v, spread(half + i), window + timedelta(seconds=1))
        for i, v in enumerate(twice_videos[: TWICE_POSTS - half])
    ]
    executed = _create(local_stack, videos[0], account, window)
    cancelled = _create(
        local_stack, videos[-1], account, window + timedelta(seconds=CANCEL_AFTER_SECONDS)
    )
    assert executed.in_window, executed
    assert cancelled.in_window, cancelled
    # Cancel once its schedule has fired and the publisher holds the event, waiting for the
    # second: the hardest case.
    _wait_until_fired(local_stack, cancelled)
    response = local_stack.call(
        "PUT", f"/api/v1/schedule/{cancelled.schedule_id}", PLAN, json={"status": "cancelled"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "cancelled"
    return Scenario(executed, cancelled, twice)


def _wait_until_fired(stack: RunningStack, post: Scheduled) -> None:
    """Until the post's one-time schedule has fired (Scheduler then deletes it), which is
    before the post's time."""
    scheduler = stack.aws("scheduler")
    while time.time() < _epoch(post.publish_time):
        names = [s["Name"] for s in scheduler.list_schedules()["Schedules"]]
        if not any(post.schedule_id in name for name in names):
            return
        time.sleep(0.1)
    raise AssertionError(f"the schedule of {post.schedule_id} did not fire before its time")


def _wait_until_ended(stack: RunningStack, posts: list[Scheduled]) -> dict[str, dict[str, Any]]:
    """The posts' items once none is pending or publishing any more (or the time is up)."""
    wanted = {p.schedule_id for p in posts}
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        items = {
            item["id"]: item
            for item in _all(stack, "/api/v1/schedule/scheduled-videos")
            if item["id"] in wanted
        }
        ended = all(i["status"] not in ("pending", "publishing") for i in items.values())
        if (ended and len(items) == len(wanted)) or time.monotonic() > deadline:
            return items
        time.sleep(0.5)


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


def _assert_published_once(
    stack: RunningStack, scheduled: Scheduled, item: dict[str, Any], posts: list[dict[str, Any]]
) -> None:
    assert item["status"] == "executed", f"{item}\n{stack.log_tail()}"
    published = [p for p in posts if p["title"].startswith(scheduled.title)]
    assert len(published) == 1, published
    (post,) = published
    assert post["complete"] is True
    assert post["bytes_received"] == scheduled.video["sizeBytes"]
    assert post["sha256"] == _s3_sha256(stack, scheduled.video["id"])
    assert item["tiktokPublishId"] == post["publish_id"]
    assert item["executedAt"] >= item["publishStartedAt"]
    # Never before the requested second.
    started, due = _epoch(item["publishStartedAt"]), _epoch(scheduled.publish_time)
    assert started >= due, item
    if scheduled.in_window:
        # At the requested second, not when the schedule fired (up to a minute early).
        assert started < due + EXACT_SECONDS, item
    else:
        # Due in its creation minute: its schedule, for that minute, fired within it.
        minute_end = datetime.fromtimestamp(_epoch(scheduled.created_at), UTC).replace(
            second=0, microsecond=0
        ) + timedelta(minutes=1)
        assert started < minute_end.timestamp() + EXACT_SECONDS, item


def test_post_due_in_seconds_is_published_once(
    local_stack: RunningStack, scenario: Scenario
) -> None:
    scheduled = scenario.executed
    item = _wait_until_ended(local_stack, [scheduled])[scheduled.schedule_id]
    _assert_published_once(local_stack, scheduled, item, local_stack.stub_posts())


def test_cancelled_post_is_never_published(local_stack: RunningStack, scenario: Scenario) -> None:
    scheduled = scenario.cancelled
    wait = _epoch(scheduled.publish_time) + SETTLE_SECONDS - time.time()
    time.sleep(max(0.0, math.ceil(wait)))

    (item,) = [
        p
        for p in _all(local_stack, "/api/v1/schedule/scheduled-videos")
        if p["id"] == scheduled.schedule_id
    ]
    assert item["status"] == "cancelled", item
    assert "tiktokPublishId" not in item
    published = [p for p in local_stack.stub_posts() if p["title"].startswith(scheduled.title)]
    assert published == []


def test_every_event_delivered_twice_still_makes_one_tiktok_post_each(
    twice_stack: RunningStack, scenario: Scenario
) -> None:
    items = _wait_until_ended(twice_stack, scenario.twice)
    posts = twice_stack.stub_posts()
    assert len(posts) == TWICE_POSTS, posts  # this stack published nothing else
    assert sum(1 for p in posts if p["complete"]) == TWICE_POSTS
    for scheduled in scenario.twice:
        _assert_published_once(twice_stack, scheduled, items[scheduled.schedule_id], posts)
    assert any(s.in_window for s in scenario.twice)
    # Every publisher event did come twice (the duplicates are logged as they are delivered):
    # as a second asynchronous invocation, or as the publish queue's message coming once more.
    log = Path(twice_stack.log_path).read_text(errors="replace")
    again = log.count("PublisherFunction: event of") + log.count("PublisherFunction: SQS message")
    assert again >= TWICE_POSTS, twice_stack.log_tail()
