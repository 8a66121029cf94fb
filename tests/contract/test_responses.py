"""Every operation's answers are what openapi.json says, checked in-process through the local
API Gateway: a scenario that gets each operation's success (the fuzzer rarely reaches them: it
does not know the ids) and its typical errors, each response validated against the document
(documented status, JSON, body matching the status's schema)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
import pytest
from moto import mock_aws

from local.tiktok import TikTokStub
from post_scheduler import wiring
from tests.conftest import MOTO_CONFIG
from tests.contract.document import Document, committed
from tests.support import AwsStack, Response, User, future

OPEN_ID = "contract-creator"
CALLBACK = "https://scheduler.example/api/v1/tiktok-accounts/callback"


class Checked:
    """Calls the API and checks each answer against the document; records what was seen."""

    def __init__(self, stack: AwsStack, document: Document) -> None:
        self.stack = stack
        self.document = document
        self.seen: set[tuple[str, str, int]] = set()

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        user: User | None = None,
        token: str | None = None,
        query: dict[str, Any] | None = None,
        expect: int = 200,
    ) -> Any:
        response: Response = self.stack.call(
            method,
            path,
            body,
            token=user.api_key if user else token,
            query=urlencode(query or {}),
        )
        assert response.status == expect, (method, path, response.status, response.body)
        self.document.check_response(
            method, path, response.status, response.headers.get("content-type", ""), response.body
        )
        self.seen.add((method, self.document.template_path(method, path), response.status))
        return response.body


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, tiktok_stub: TikTokStub) -> Iterator[Checked]:
    tiktok_stub.add_creator(OPEN_ID, "contract.creator", "Contract Creator")
    with mock_aws(config=MOTO_CONFIG):
        stack = AwsStack.create(
            monkeypatch, TikTokApiBaseUrl=tiktok_stub.base_url, TikTokRedirectUri=CALLBACK
        )
        boto3.client("ssm").put_parameter(
            Name=stack.environment["TIKTOK_CLIENT_PARAMETER"],
            Type="SecureString",
            Value=json.dumps(
                {"clientKey": tiktok_stub.client_key, "clientSecret": tiktok_stub.client_secret}
            ),
        )
        yield Checked(stack, committed())
    wiring.reset()


def _scheduling(api: Checked) -> None:
    user = api.stack.user("basic")
    account = user.account()
    videos = [user.video() for _ in range(3)]

    created = api(
        "POST",
        "/api/v1/schedule/create",
        {
            "videoId": videos[0],
            "tiktokAccountId": account,
            "scheduledPublishTime": future(60),
            "title": "Launch 🚀",
            "hashtags": "#launch #day1",
            "options": {"privacyLevel": "SELF_ONLY", "videoCoverTimestampMs": 1000},
        },
        user=user,
    )["data"]
    base = api(
        "POST",
        "/api/v1/schedule",
        {"videoId": videos[1], "tiktokAccountId": account, "scheduledPublishTime": future(90)},
        user=user,
    )["data"]
    api(
        "POST",
        "/api/v1/schedule/create",
        {"videoId": videos[2], "tiktokAccountId": account, "scheduledPublishTime": future(120)},
        user=user,
    )

    page = api("GET", "/api/v1/schedule/scheduled-videos", user=user, query={"limit": 2})
    assert page["nextToken"]
    api(
        "GET",
        "/api/v1/schedule/scheduled-videos",
        user=user,
        query={"limit": 2, "nextToken": page["nextToken"], "status": "pending"},
    )
    upcoming = api("GET", "/api/v1/schedule/upcoming", query={"limit": 1})
    assert upcoming["data"]["nextToken"]
    api("GET", "/api/v1/schedule/upcoming", query={"nextToken": upcoming["data"]["nextToken"]})

    moved = api(
        "PUT",
        f"/api/v1/schedule/{created['scheduleId']}",
        {"scheduledPublishTime": future(75), "title": "Moved"},
        user=user,
    )
    assert moved["data"]["title"] == "Moved"
    api("PUT", f"/api/v1/schedule/{base['scheduleId']}", {"status": "cancelled"}, user=user)

    # Published and failed posts carry their publishing details in the list.
    user.mark(
        created["scheduleId"],
        "executed",
        tiktokPublishId="v_pub_file~v2.123",
        publishStartedAt=datetime.now(UTC),
        executedAt=datetime.now(UTC) + timedelta(seconds=20),
    )
    listed = api("GET", "/api/v1/schedule/scheduled-videos", user=user)["data"]
    executed = next(item for item in listed if item["id"] == created["scheduleId"])
    assert executed["tiktokPublishId"] == "v_pub_file~v2.123"

    api("DELETE", f"/api/v1/schedule/{base['scheduleId']}", user=user)

    # The errors of the reference's list.
    missing = {"videoId": "no-such-video", "tiktokAccountId": account}
    api("POST", "/api/v1/schedule/create", {"videoId": videos[0]}, user=user, expect=400)
    api(
        "POST",
        "/api/v1/schedule/create",
        {**missing, "scheduledPublishTime": future(60)},
        user=user,
        expect=404,
    )
    api(
        "POST",
        "/api/v1/schedule/create",
        {"videoId": videos[2], "tiktokAccountId": account, "scheduledPublishTime": future(60)},
        user=user,
        expect=409,
    )
    api(
        "POST",
        "/api/v1/schedule/create",
        {**missing, "scheduledPublishTime": "2025-10-21T14:30:00Z"},
        user=user,
        expect=422,
    )
    free = api.stack.user("free")
    api(
        "POST",
        "/api/v1/schedule/create",
        {
            "videoId": free.video(),
            "tiktokAccountId": free.account(),
            "scheduledPublishTime": future(),
        },
        user=free,
        expect=403,
    )
    api("PUT", f"/api/v1/schedule/{created['scheduleId']}", {"title": "x"}, user=user, expect=409)
    api("DELETE", "/api/v1/schedule/no-such-post", user=user, expect=404)
    api("GET", "/api/v1/schedule/scheduled-videos", expect=401)
    api("GET", "/api/v1/schedule/scheduled-videos", token="psk_unknown-key-000000", expect=401)


def _videos_accounts_and_keys(api: Checked, tiktok_stub: TikTokStub) -> None:
    user = api.stack.user("professional")
    small = api(
        "POST",
        "/api/v1/videos",
        {"title": "Clip", "sizeBytes": 1024, "contentType": "video/mp4"},
        user=user,
    )["data"]
    assert small["upload"]["method"] == "PUT"
    large = api(
        "POST",
        "/api/v1/videos",
        {
            "title": "Long clip",
            "description": "Check out this content!",
            "sizeBytes": 300 * 1024 * 1024,
            "contentType": "video/quicktime",
        },
        user=user,
    )["data"]
    assert large["upload"]["method"] == "MULTIPART"
    api("GET", f"/api/v1/videos/{small['id']}", user=user)
    api("POST", f"/api/v1/videos/{small['id']}/complete", {}, user=user, expect=409)
    ready = user.video()
    api("POST", f"/api/v1/videos/{ready}/complete", {}, user=user)
    api("GET", "/api/v1/videos", user=user, query={"limit": 1})
    api("DELETE", f"/api/v1/videos/{small['id']}", user=user)
    api("GET", f"/api/v1/videos/{small['id']}", user=user, expect=404)

    begun = api("GET", "/api/v1/tiktok-accounts/connect", user=user)["data"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(begun["authorizationUrl"]).query).items()}
    code = tiktok_stub.authorization_code(OPEN_ID, query["redirect_uri"])
    api("GET", "/api/v1/tiktok-accounts/callback", query={"code": code, "state": begun["state"]})
    api("GET", "/api/v1/tiktok-accounts/callback", query={"code": "c" * 3000}, expect=400)
    complete = "/api/v1/tiktok-accounts/connect/complete"
    connected = api("POST", complete, {"code": code, "state": begun["state"]}, user=user)["data"]
    api("POST", complete, {"code": code, "state": "x"}, user=user, expect=400)
    api("GET", "/api/v1/tiktok-accounts", user=user)
    api("DELETE", f"/api/v1/tiktok-accounts/{connected['account']['id']}", user=user)
    api("DELETE", f"/api/v1/tiktok-accounts/{connected['account']['id']}", user=user, expect=404)

    key = api("POST", "/api/v1/api-keys", {"name": "CI pipeline"}, user=user)["data"]
    api("GET", "/api/v1/api-keys", user=user)
    api("DELETE", f"/api/v1/api-keys/{key['keyId']}", user=user)
    api("DELETE", f"/api/v1/api-keys/{key['keyId']}", user=user, expect=404)


def _beyond_the_reference(api: Checked) -> None:
    user = api.stack.user("basic")
    schedule_id = user.scheduled()
    api("GET", f"/api/v1/schedule/{schedule_id}", user=user)
    user.mark(schedule_id, "publishing", uploadedBytes=1024, videoSizeBytes=4096)
    assert api("GET", f"/api/v1/schedule/{schedule_id}", user=user)["data"]["upload"]
    api("GET", f"/api/v1/schedule/{user.user_id}", user=user, expect=404)
    api("GET", "/api/v1/schedule/quota", user=user)
    user.mark(schedule_id, "failed", failureReason="spam risk")
    api("POST", f"/api/v1/schedule/{schedule_id}/retry", user=user)
    api("POST", f"/api/v1/schedule/{schedule_id}/retry", user=user, expect=409)
    api("POST", f"/api/v1/schedule/{user.user_id}/retry", {}, user=user, expect=404)
    failed = user.scheduled()
    user.mark(failed, "failed", failureReason="spam risk")
    past = {"scheduledPublishTime": "2025-10-21T14:30:00Z"}
    api("POST", f"/api/v1/schedule/{failed}/retry", past, user=user, expect=422)

    hook = {"url": "https://93.184.216.34/hooks", "events": ["schedule.failed"]}
    created = api("POST", "/api/v1/webhooks", hook, user=user)["data"]
    api("POST", "/api/v1/webhooks", {**hook, "url": "https://10.0.0.1/x"}, user=user, expect=422)
    api("GET", "/api/v1/webhooks", user=user)
    api("GET", f"/api/v1/webhooks/{created['id']}/deliveries", user=user, query={"limit": 1})
    api("DELETE", f"/api/v1/webhooks/{created['id']}", user=user)
    api("DELETE", f"/api/v1/webhooks/{created['id']}", user=user, expect=404)
    api("GET", f"/api/v1/webhooks/{created['id']}/deliveries", user=user, expect=404)


def test_every_operation_answers_as_documented(api: Checked, tiktok_stub: TikTokStub) -> None:
    _scheduling(api)
    _beyond_the_reference(api)
    _videos_accounts_and_keys(api, tiktok_stub)
    succeeded = {(method, path) for method, path, status in api.seen if status == 200}
    assert succeeded == set(api.document.operations)
    assert len(api.seen) >= 30


def test_a_post_with_every_option_reads_back(api: Checked) -> None:
    """The table gives numbers back as Decimal; the stored options must still read (this once
    answered 500 on every read of such a post)."""
    user = api.stack.user("basic")
    options = {
        "privacyLevel": "MUTUAL_FOLLOW_FRIENDS",
        "disableComment": True,
        "disableDuet": True,
        "disableStitch": True,
        "brandContentToggle": True,
        "brandOrganicToggle": False,
        "isAigc": True,
        "videoCoverTimestampMs": 2_147_483_647,
    }
    body = {
        "videoId": user.video(),
        "tiktokAccountId": user.account(),
        "scheduledPublishTime": future(60),
        "options": options,
    }
    schedule_id = api("POST", "/api/v1/schedule/create", body, user=user)["data"]["scheduleId"]
    (listed,) = api("GET", "/api/v1/schedule/scheduled-videos", user=user)["data"]
    assert listed["options"] == options
    updated = api("PUT", f"/api/v1/schedule/{schedule_id}", {"title": "t"}, user=user)["data"]
    assert updated["options"] == options
    api("DELETE", f"/api/v1/schedule/{schedule_id}", user=user)
