"""The API reference's three examples (curl, Python requests, Node axios) against the local
stack, each with a future time and a demo key: 200 and the reference's response shape.

Each example schedules the reference's own video and account (owned by the basic demo user);
the post is deleted afterwards so the next example can schedule the same video."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

VIDEO_ID = "550e8400-e29b-41d4-a716-446655440000"
ACCOUNT_ID = "123e4567-e89b-12d3-a456-426614174000"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def _publish_time(minutes: int = 30) -> str:
    moment = datetime.now(UTC) + timedelta(minutes=minutes)
    return moment.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def assert_created(body: Any, publish_time: str) -> str:
    """The reference's create response; returns the schedule id."""
    assert body["success"] is True, body
    data = body["data"]
    assert set(data) == {"scheduleId", "scheduledTime", "status", "createdAt"}, data
    assert re.fullmatch(r"[0-9a-f-]{36}", data["scheduleId"]), data
    assert data["scheduledTime"] == publish_time.replace("Z", ".000Z")
    assert data["status"] == "pending"
    assert TIMESTAMP.match(data["createdAt"]), data
    return str(data["scheduleId"])


@pytest.fixture
def cleanup(local_stack: RunningStack) -> Any:
    """Deletes the posts a test created (the reference's video can then be scheduled again)."""
    created: list[str] = []
    yield created
    for schedule_id in created:
        response = local_stack.call("DELETE", f"/api/v1/schedule/{schedule_id}")
        assert response.status_code == 200, response.text


def test_curl_example(local_stack: RunningStack, cleanup: list[str]) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    publish_time = _publish_time()
    body = json.dumps(
        {"videoId": VIDEO_ID, "tiktokAccountId": ACCOUNT_ID, "scheduledPublishTime": publish_time}
    )
    result = subprocess.run(
        [
            curl,
            "-sS",
            "--noproxy",
            "*",
            "-X",
            "POST",
            f"{local_stack.api_url}/api/v1/schedule/create",
            "-H",
            f"Authorization: Bearer {local_stack.keys['basic']}",
            "-H",
            "Content-Type: application/json",
            "-d",
            body,
            "-w",
            "\n%{http_code}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    text, _, status = result.stdout.rpartition("\n")
    assert status == "200", result.stdout
    cleanup.append(assert_created(json.loads(text), publish_time))


def test_python_requests_example(local_stack: RunningStack, cleanup: list[str]) -> None:
    publish_time = _publish_time()
    url = f"{local_stack.api_url}/api/v1/schedule/create"
    headers = {
        "Authorization": f"Bearer {local_stack.keys['basic']}",
        "Content-Type": "application/json",
    }
    data = {
        "videoId": VIDEO_ID,
        "tiktokAccountId": ACCOUNT_ID,
        "scheduledPublishTime": publish_time,
        "title": "Scheduled Amazing Video",
        "hashtags": "#trending #viral",
    }

    response = requests.post(url, json=data, headers=headers, timeout=30)

    assert response.status_code == 200, response.text
    cleanup.append(assert_created(response.json(), publish_time))


def test_node_axios_example(
    local_stack: RunningStack, node_example: Path, cleanup: list[str]
) -> None:
    publish_time = _publish_time()
    env = {
        **os.environ,
        "API_URL": local_stack.api_url,
        "API_KEY": local_stack.keys["basic"],
        "VIDEO_ID": VIDEO_ID,
        "TIKTOK_ACCOUNT_ID": ACCOUNT_ID,
        "PUBLISH_TIME": publish_time,
    }
    result = subprocess.run(
        ["node", node_example.name],
        cwd=node_example.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status"] == 200, answer
    cleanup.append(assert_created(answer["data"], publish_time))
