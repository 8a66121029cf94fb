"""The video that was checked is the video that is published: a second PUT to the upload URL
after the video is `ready` changes nothing TikTok receives (the publisher reads the version
that was checked, by its S3 VersionId, and the version written over it is removed); when the
checked version is gone, the post fails with that reason instead of publishing other bytes."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

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


def _ready_video(stack: RunningStack, original: bytes) -> tuple[dict[str, Any], str]:
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


def _schedule(stack: RunningStack, video_id: str, account_id: str) -> tuple[str, str]:
    title = f"pinned {uuid.uuid4().hex[:12]}"
    when = (datetime.now(UTC) + timedelta(seconds=stack.min_lead_seconds + 3)).replace(
        microsecond=0
    ) + timedelta(seconds=1)
    created = stack.call(
        "POST",
        "/api/v1/schedule/create",
        PLAN,
        json={
            "videoId": video_id,
            "tiktokAccountId": account_id,
            "scheduledPublishTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "title": title,
        },
    )
    assert created.status_code == 200, created.text
    return created.json()["data"]["scheduleId"], title


def _settled(stack: RunningStack, schedule_ids: list[str]) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        posts = stack.call(
            "GET", "/api/v1/schedule/scheduled-videos", PLAN, params={"limit": "100"}
        ).json()["data"]
        mine = {p["id"]: p for p in posts if p["id"] in schedule_ids}
        if all(p["status"] not in ("pending", "publishing") for p in mine.values()):
            return mine
        assert time.monotonic() < deadline, stack.log_tail()
        time.sleep(0.5)


def _versions(stack: RunningStack, video_id: str) -> tuple[str, str, list[str]]:
    """(bucket, key, version ids) of the video's object."""
    s3 = stack.aws("s3")
    for bucket in s3.list_buckets()["Buckets"]:
        listed = s3.list_object_versions(Bucket=bucket["Name"], Prefix="videos/")
        for version in listed.get("Versions", []):
            if video_id in version["Key"]:
                ids = [v["VersionId"] for v in listed["Versions"] if v["Key"] == version["Key"]]
                return bucket["Name"], version["Key"], ids
    raise AssertionError(f"no object of video {video_id}")


def test_a_second_put_after_ready_changes_nothing_tiktok_receives(
    local_stack: RunningStack,
) -> None:
    accounts = local_stack.call("GET", "/api/v1/tiktok-accounts", PLAN).json()["data"]
    original, gone = _mp4(SIZE), _mp4(SIZE)
    video, url = _ready_video(local_stack, original)
    lost_video, _ = _ready_video(local_stack, gone)
    replacement = _mp4(SIZE)
    swapped = requests.put(url, data=replacement, headers={"Content-Type": "video/mp4"}, timeout=30)
    # Real S3 may accept it (the URL lives for an hour): what matters is what gets published.
    assert swapped.status_code in (200, 403), swapped.text
    # The checked version of the other video disappears (deleted by hand, say).
    bucket, key, (checked,) = _versions(local_stack, lost_video["id"])
    local_stack.aws("s3").delete_object(Bucket=bucket, Key=key, VersionId=checked)

    published_id, title = _schedule(local_stack, video["id"], accounts[0]["id"])
    failed_id, failed_title = _schedule(local_stack, lost_video["id"], accounts[0]["id"])
    settled = _settled(local_stack, [published_id, failed_id])

    assert settled[published_id]["status"] == "executed", local_stack.log_tail()
    (received,) = [p for p in local_stack.stub_posts() if p["title"].startswith(title)]
    assert received["complete"] is True
    assert received["bytes_received"] == SIZE
    assert received["sha256"] == hashlib.sha256(original).hexdigest()
    assert received["sha256"] != hashlib.sha256(replacement).hexdigest()
    # The version written over the checked one was removed when S3 reported it.
    assert len(_versions(local_stack, video["id"])[2]) == 1

    assert settled[failed_id]["status"] == "failed"
    assert "missing" in settled[failed_id]["failureReason"]
    assert not [p for p in local_stack.stub_posts() if p["title"].startswith(failed_title)]
