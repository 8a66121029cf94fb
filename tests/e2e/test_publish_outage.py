"""A TikTok status outage over HTTP against the local stack: the whole video is sent, TikTok's
status endpoint answers 503 (injected through the stand-in's `/_faults`), the publisher and
Lambda's retries run out and the give-up consumer leaves the post unconfirmed instead of
failed. Once TikTok answers again, re-activating the post (`PUT status=pending`) reconciles the
same publish: TikTok holds exactly one complete upload and the post ends `executed`."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

PLAN = "basic"
OUTAGE_WAIT_SECONDS = 180
PUBLISH_WAIT_SECONDS = 150


def _at(seconds: float) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    whole = moment.replace(microsecond=0) + timedelta(seconds=1)
    return whole.strftime("%Y-%m-%dT%H:%M:%SZ")


def _faults(stack: RunningStack, method: str, body: dict[str, Any] | None = None) -> None:
    response = requests.request(method, f"{stack.stub_url}/_faults", json=body, timeout=10)
    assert response.status_code == 200, response.text


def _posts(stack: RunningStack) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        params = {"limit": "100", **({"nextToken": token} if token else {})}
        response = stack.call("GET", "/api/v1/schedule/scheduled-videos", PLAN, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["data"])
        token = body.get("nextToken")
        if not token:
            return items


def _post(stack: RunningStack, schedule_id: str) -> dict[str, Any]:
    (item,) = [p for p in _posts(stack) if p["id"] == schedule_id]
    return item


def _wait_for(stack: RunningStack, schedule_id: str, done: Any, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    item = _post(stack, schedule_id)
    while not done(item) and time.monotonic() < deadline:
        time.sleep(1)
        item = _post(stack, schedule_id)
    assert done(item), f"{item}\n{stack.log_tail()}"
    return item


def _schedule(stack: RunningStack, title: str) -> str:
    """A post of the smallest of the demo user's videos that is free, due in a few seconds."""
    videos = stack.call("GET", "/api/v1/videos", PLAN, params={"limit": "100"}).json()["data"]
    accounts = stack.call("GET", "/api/v1/tiktok-accounts", PLAN).json()["data"]
    ready = [v for v in videos if v["status"] == "ready"]
    for video in sorted(ready, key=lambda v: v["sizeBytes"]):
        response = stack.call(
            "POST",
            "/api/v1/schedule/create",
            PLAN,
            json={
                "videoId": video["id"],
                "tiktokAccountId": accounts[0]["id"],
                "scheduledPublishTime": _at(stack.min_lead_seconds + 3),
                "title": title,
            },
        )
        if response.status_code == 409:
            continue  # that video has a pending post already
        assert response.status_code == 200, response.text
        schedule_id: str = response.json()["data"]["scheduleId"]
        return schedule_id
    raise AssertionError("no free video")


def test_status_outage_then_reactivation_publishes_once(local_stack: RunningStack) -> None:
    title = f"outage {uuid.uuid4().hex[:12]}"
    _faults(
        local_stack,
        "POST",
        {"action": "fail_next", "endpoint": "status_fetch", "status": 503, "times": 10_000},
    )
    try:
        schedule_id = _schedule(local_stack, title)
        item = _wait_for(
            local_stack,
            schedule_id,
            lambda i: i.get("publishOutcome") == "unconfirmed",
            OUTAGE_WAIT_SECONDS,
        )
    finally:
        _faults(local_stack, "DELETE")

    # Lambda's retries ran out and the give-up consumer ran: the post is not failed.
    assert item["status"] == "pending", item
    assert "unconfirmed" in item["failureReason"]
    sent = [p for p in local_stack.stub_posts() if p["title"].startswith(title)]
    assert len(sent) == 1, sent
    assert sent[0]["complete"] is True
    assert item["tiktokPublishId"] == sent[0]["publish_id"]

    response = local_stack.call(
        "PUT", f"/api/v1/schedule/{schedule_id}", PLAN, json={"status": "pending"}
    )
    assert response.status_code == 200, response.text
    item = _wait_for(
        local_stack, schedule_id, lambda i: i["status"] == "executed", PUBLISH_WAIT_SECONDS
    )

    sent = [p for p in local_stack.stub_posts() if p["title"].startswith(title)]
    assert len(sent) == 1, sent  # TikTok's init was called once: one post, never two
    assert sent[0]["complete"] is True
    assert sent[0]["status"] == "PUBLISH_COMPLETE"
    assert item["tiktokPublishId"] == sent[0]["publish_id"]
    assert "publishOutcome" not in item or item["publishOutcome"] is None
