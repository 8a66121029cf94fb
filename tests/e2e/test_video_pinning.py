"""The video that was checked is the video that is published: a second PUT to the upload URL
after the video is `ready` changes nothing TikTok receives (the publisher reads the version
that was checked, by its S3 VersionId)."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

PLAN = "professional"
SIZE = 256 * 1024
WAIT_SECONDS = 60


def _mp4(size: int) -> bytes:
    head = b"\x00\x00\x00\x18ftypmp42"
    return head + os.urandom(size - len(head))


def _ready_video(stack: RunningStack, original: bytes) -> tuple[dict[str, object], str]:
    created = stack.call(
        "POST",
        "/api/v1/videos",
        PLAN,
        json={"title": "pinned", "sizeBytes": len(original), "contentType": "video/mp4"},
    )
    assert created.status_code == 201 or created.status_code == 200, created.text
    video = created.json()["data"]
    upload = video["upload"]
    put = requests.put(upload["url"], data=original, headers=upload["headers"], timeout=30)
    assert put.ok, put.text
    done = stack.call("POST", f"/api/v1/videos/{video['id']}/complete", PLAN, json={})
    assert done.status_code == 200, done.text
    assert done.json()["data"]["status"] == "ready"
    return video, upload["url"]


def test_a_second_put_after_ready_changes_nothing_tiktok_receives(
    local_stack: RunningStack,
) -> None:
    original = _mp4(SIZE)
    video, url = _ready_video(local_stack, original)
    replacement = _mp4(SIZE)
    swapped = requests.put(url, data=replacement, headers={"Content-Type": "video/mp4"}, timeout=30)
    # Real S3 may accept it (the URL lives for an hour): what matters is what gets published.
    assert swapped.status_code in (200, 403), swapped.text

    accounts = local_stack.call("GET", "/api/v1/tiktok-accounts", PLAN).json()["data"]
    title = f"pinned {uuid.uuid4().hex[:12]}"
    when = (datetime.now(UTC) + timedelta(seconds=local_stack.min_lead_seconds + 3)).replace(
        microsecond=0
    ) + timedelta(seconds=1)
    created = local_stack.call(
        "POST",
        "/api/v1/schedule/create",
        PLAN,
        json={
            "videoId": video["id"],
            "tiktokAccountId": accounts[0]["id"],
            "scheduledPublishTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "title": title,
        },
    )
    assert created.status_code == 200, created.text
    schedule_id = created.json()["data"]["scheduleId"]

    deadline = time.monotonic() + WAIT_SECONDS
    status = "pending"
    while time.monotonic() < deadline:
        posts = local_stack.call(
            "GET", "/api/v1/schedule/scheduled-videos", PLAN, params={"limit": "100"}
        ).json()["data"]
        status = next(p["status"] for p in posts if p["id"] == schedule_id)
        if status not in ("pending", "publishing"):
            break
        time.sleep(0.5)
    assert status == "executed", local_stack.log_tail()

    (received,) = [p for p in local_stack.stub_posts() if p["title"].startswith(title)]
    assert received["complete"] is True
    assert received["bytes_received"] == SIZE
    assert received["sha256"] == hashlib.sha256(original).hexdigest()
    assert received["sha256"] != hashlib.sha256(replacement).hexdigest()
