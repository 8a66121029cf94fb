"""Each onboarding function's IAM policy in the template allows every AWS call it was seen
making (and signing, for presigned upload URLs), across the videos, accounts and API key flows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests
from moto import mock_aws

from local.tiktok import TikTokStub
from post_scheduler import wiring
from tests.conftest import MOTO_CONFIG
from tests.iam import allowed, required_permissions, statements
from tests.support import AwsStack, FunctionCallRecorder, assert_ok

pytest_plugins = ("tests.tiktok_fixtures",)

ONBOARDING_FUNCTIONS = {
    "CreateVideoFunction",
    "GetVideoFunction",
    "CompleteVideoUploadFunction",
    "DeleteVideoFunction",
    "VideoUploadedFunction",
    "ConnectTikTokAccountFunction",
    "CompleteTikTokConnectFunction",
    "DeleteTikTokAccountFunction",
    "CreateApiKeyFunction",
    "ListApiKeysFunction",
    "DeleteApiKeyFunction",
}
MIB = 1024 * 1024
VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(6 * MIB)


@pytest.fixture
def world(
    monkeypatch: pytest.MonkeyPatch, tiktok_stub: TikTokStub
) -> Iterator[tuple[AwsStack, FunctionCallRecorder, TikTokStub]]:
    recorder = FunctionCallRecorder()
    session = boto3._get_default_session()._session  # clients copy its handlers when created
    session.register("before-parameter-build", recorder.record)
    tiktok_stub.add_creator("open-1", "creator.one", "Creator One")
    try:
        with mock_aws(config=MOTO_CONFIG):
            stack = AwsStack.create(monkeypatch, TikTokApiBaseUrl=tiktok_stub.base_url)
            boto3.client("ssm").put_parameter(
                Name="/post-scheduler/tiktok-client",
                Type="SecureString",
                Value=json.dumps(
                    {"clientKey": tiktok_stub.client_key, "clientSecret": tiktok_stub.client_secret}
                ),
            )
            monkeypatch.setenv("VIDEO_MULTIPART_THRESHOLD_BYTES", str(5 * MIB))
            monkeypatch.setenv("VIDEO_PART_SIZE_BYTES", str(5 * MIB))
            wiring.reset()
            recorder.watch(stack.gateway.runner, monkeypatch)
            yield stack, recorder, tiktok_stub
    finally:
        session.unregister("before-parameter-build", recorder.record)
        wiring.reset()


def exercise(stack: AwsStack, stub: TikTokStub) -> None:
    """Every onboarding endpoint, success and refusal paths that touch AWS."""
    user = stack.user("basic")
    # Videos: a multipart upload, a single PUT rejected by its event, deletes.
    big = assert_ok(user.call("POST", "/api/v1/videos", _video(len(VIDEO))))
    assert_ok(user.call("GET", f"/api/v1/videos/{big['id']}"))
    parts = []
    offset = 0
    for part in big["upload"]["parts"]:
        chunk = VIDEO[offset : offset + part["sizeBytes"]]
        offset += part["sizeBytes"]
        etag = requests.put(part["url"], data=chunk, timeout=30).headers["ETag"]
        parts.append({"partNumber": part["partNumber"], "etag": etag})
    path = f"/api/v1/videos/{big['id']}/complete"
    assert assert_ok(user.call("POST", path, {"parts": parts}))["status"] == "ready"
    small = assert_ok(user.call("POST", "/api/v1/videos", _video(100)))
    requests.put(
        small["upload"]["url"], data=b"x" * 50, headers={"Content-Type": "video/mp4"}, timeout=30
    )
    key = user.video_item(small["id"])["s3Key"]
    bucket = stack.environment["VIDEO_BUCKET"]
    record = {"s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 50}}}
    stack.gateway.runner.invoke("VideoUploadedFunction", {"Records": [record]})
    open_upload = assert_ok(user.call("POST", "/api/v1/videos", _video(len(VIDEO))))
    for video_id in (big["id"], small["id"], open_upload["id"]):
        assert_ok(user.call("DELETE", f"/api/v1/videos/{video_id}"))
    # Accounts: connect, reconnect, delete with a pending post.
    for _ in range(2):
        begun = assert_ok(user.call("GET", "/api/v1/tiktok-accounts/connect"))
        query = parse_qs(urlsplit(begun["authorizationUrl"]).query)
        code = stub.authorization_code("open-1", query["redirect_uri"][0])
        flow = {"code": code, "state": begun["state"]}
        connected = assert_ok(user.call("POST", "/api/v1/tiktok-accounts/connect/complete", flow))
    account = connected["account"]["id"]
    assert_ok(user.create(user.video(), account))
    assert_ok(user.call("DELETE", f"/api/v1/tiktok-accounts/{account}"))
    # API keys.
    minted = assert_ok(user.call("POST", "/api/v1/api-keys", {"name": "ops"}))
    assert_ok(user.call("GET", "/api/v1/api-keys"))
    assert_ok(user.call("DELETE", f"/api/v1/api-keys/{minted['keyId']}"))


def _video(size: int) -> dict[str, Any]:
    return {"title": "t", "sizeBytes": size, "contentType": "video/mp4"}


def test_every_call_is_allowed_by_the_functions_policy(
    world: tuple[AwsStack, FunctionCallRecorder, TikTokStub],
) -> None:
    stack, recorder, stub = world
    exercise(stack, stub)

    missing, seen = [], set()
    for function, operation, params in recorder.calls:
        if function not in ONBOARDING_FUNCTIONS:
            continue
        for action, resource in required_permissions(stack, operation, params):
            seen.add((function, action))
            if not allowed(stack, function, action, resource):
                missing.append((function, action, resource))
    assert missing == []
    assert {function for function, _ in seen} == ONBOARDING_FUNCTIONS
    # ...and the check can fail: nothing grants what a function does not do.
    table_arn = stack.template.attributes["Table.Arn"]
    assert not allowed(stack, "ListApiKeysFunction", "dynamodb:DeleteItem", table_arn)
    assert not allowed(stack, "ConnectTikTokAccountFunction", "kms:Encrypt", "*")
    # The paths that matter most for least privilege were exercised.
    for expected in [
        ("CreateVideoFunction", "s3:PutObject"),
        ("GetVideoFunction", "s3:PutObject"),
        ("CompleteVideoUploadFunction", "s3:GetObject"),
        ("VideoUploadedFunction", "s3:DeleteObject"),
        ("DeleteVideoFunction", "s3:AbortMultipartUpload"),
        ("CompleteTikTokConnectFunction", "kms:Encrypt"),
        ("DeleteTikTokAccountFunction", "scheduler:DeleteSchedule"),
        ("DeleteApiKeyFunction", "dynamodb:DeleteItem"),
    ]:
        assert expected in seen, expected


def test_no_onboarding_policy_uses_wildcard_actions(
    world: tuple[AwsStack, FunctionCallRecorder, TikTokStub],
) -> None:
    stack = world[0]
    for function in ONBOARDING_FUNCTIONS:
        for statement in statements(stack, function):
            actions = statement["Action"]
            for action in actions if isinstance(actions, list) else [actions]:
                assert "*" not in action, (function, action)
