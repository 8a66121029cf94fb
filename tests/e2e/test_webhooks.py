"""Webhooks on the local stack: a receiver on this machine registered over the API gets a post's
schedule.executed event after the post is published end to end, signed (verified with the
`standardwebhooks` library), retried within seconds after its 500 with the same webhook-id;
and a cancelled post's schedule.cancelled."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks import Webhook

from tests.e2e.conftest import RunningStack
from tests.integration.test_webhooks import Receiver

pytestmark = pytest.mark.e2e

PLAN = "basic"
REFERENCE_VIDEO = "550e8400-e29b-41d4-a716-446655440000"
WAIT_SECONDS = 60


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def _at(seconds: float) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    whole = moment.replace(microsecond=0) + timedelta(seconds=1)
    return whole.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ready_video_and_account(stack: RunningStack) -> tuple[str, str]:
    videos = stack.call("GET", "/api/v1/videos", PLAN, params={"limit": "100"}).json()["data"]
    accounts = stack.call("GET", "/api/v1/tiktok-accounts", PLAN).json()["data"]
    # Any small ready one but the reference's example video, which other tests schedule.
    ready = [v for v in videos if v["status"] == "ready" and v["id"] != REFERENCE_VIDEO]
    return random.choice([v for v in ready if v["sizeBytes"] < 5 * 1024 * 1024])["id"], accounts[0][
        "id"
    ]


def _wait_for(receiver: Receiver, count: int, stack: RunningStack) -> list[dict[str, Any]]:
    deadline = time.monotonic() + WAIT_SECONDS
    while len(receiver.requests) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(receiver.requests) >= count, f"{receiver.requests}\n{stack.log_tail()}"
    return receiver.requests


def test_a_published_post_is_announced_signed_and_retried(
    local_stack: RunningStack, receiver: Receiver
) -> None:
    registered = local_stack.call(
        "POST",
        "/api/v1/webhooks",
        PLAN,
        json={"url": receiver.url, "events": ["schedule.executed", "schedule.cancelled"]},
    )
    assert registered.status_code == 200, registered.text
    hook = registered.json()["data"]
    receiver.statuses = [500]
    video, account = _ready_video_and_account(local_stack)
    # A cancelled transaction first (moto then replaces the table's stream shard).
    refused = local_stack.call(
        "POST",
        "/api/v1/schedule/create",
        PLAN,
        json={
            "videoId": video,
            "tiktokAccountId": "no-such-account",
            "scheduledPublishTime": _at(3600),
        },
    )
    assert refused.status_code == 404, refused.text
    created = local_stack.call(
        "POST",
        "/api/v1/schedule/create",
        PLAN,
        json={
            "videoId": video,
            "tiktokAccountId": account,
            "scheduledPublishTime": _at(local_stack.min_lead_seconds + 2),
            "title": "webhook e2e",
        },
    )
    assert created.status_code == 200, created.text
    schedule_id = created.json()["data"]["scheduleId"]

    first, second = _wait_for(receiver, 2, local_stack)[:2]
    for request in (first, second):
        payload = Webhook(hook["secret"]).verify(request["body"], request["headers"])
        assert payload["type"] == "schedule.executed"
        assert payload["data"]["id"] == schedule_id
        assert payload["data"]["status"] == "executed"
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
    # The local stack's first retry delay is one second.
    gap = int(second["headers"]["webhook-timestamp"]) - int(first["headers"]["webhook-timestamp"])
    assert 0 <= gap <= 10

    deliveries = local_stack.call("GET", f"/api/v1/webhooks/{hook['id']}/deliveries", PLAN)
    (delivery,) = deliveries.json()["data"]
    assert (delivery["status"], delivery["attempt"], delivery["responseStatus"]) == (
        "delivered",
        2,
        200,
    )

    # A cancelled post: its event too (a later one; this post is executed and stays so).
    again = local_stack.call(
        "POST",
        "/api/v1/schedule/create",
        PLAN,
        json={
            "videoId": _ready_video_and_account(local_stack)[0],
            "tiktokAccountId": account,
            "scheduledPublishTime": _at(3600),
        },
    )
    assert again.status_code == 200, again.text
    other = again.json()["data"]["scheduleId"]
    cancelled = local_stack.call(
        "PUT", f"/api/v1/schedule/{other}", PLAN, json={"status": "cancelled"}
    )
    assert cancelled.status_code == 200, cancelled.text
    third = _wait_for(receiver, 3, local_stack)[2]
    payload = Webhook(hook["secret"]).verify(third["body"], third["headers"])
    assert payload["type"] == "schedule.cancelled"
    assert payload["data"]["id"] == other
    assert local_stack.call("DELETE", f"/api/v1/webhooks/{hook['id']}", PLAN).status_code == 200
