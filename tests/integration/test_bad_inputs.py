"""Inputs nobody planned for, by hand, against every endpoint that takes input: bodies over the
size limit, deep nesting, wrong content types, control characters, captions over TikTok's
limit, huge ids, path traversal, wrong JSON types, duplicate keys, leap seconds, year 9999,
null bytes, invalid UTF-8, empty bodies, arrays, huge numbers, bad list parameters.

Each must be a clear 4xx in the error envelope, with a status openapi.json documents for the
operation, and change nothing: the table and the Scheduler are compared before and after. All
cases share one stack (a case that changed it would fail the cases after it, too); the world's
ids are real, so the same request without its defect would succeed."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from moto import mock_aws

from post_scheduler import wiring
from tests.conftest import MOTO_CONFIG
from tests.contract.document import committed
from tests.support import AwsStack, Response, User, assert_error, assert_ok, future

LIMIT = 64 * 1024
LONG_ID = "a" * 10_000


@dataclass
class World:
    stack: AwsStack
    user: User
    ids: dict[str, str] = field(default_factory=dict)

    def fill(self, text: str) -> str:
        for name, value in self.ids.items():
            text = text.replace(f"${name}", value)
        return text


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """One stack for the module: a basic user with a ready video free to schedule ($video), a
    TikTok account ($account), a pending post ($schedule) of another video, a video still
    uploading ($upload) and an API key ($key); `$future` is a valid publish time."""
    with pytest.MonkeyPatch.context() as monkeypatch, mock_aws(config=MOTO_CONFIG):
        stack = AwsStack.create(monkeypatch)
        user = stack.user("basic")
        account = user.account()
        world = World(stack, user, {"video": user.video(), "account": account})
        created = user.create(user.video(), account)
        world.ids["schedule"] = assert_ok(created)["scheduleId"]
        upload = user.call(
            "POST", "/api/v1/videos", {"title": "up", "sizeBytes": 10, "contentType": "video/mp4"}
        )
        world.ids["upload"] = assert_ok(upload)["id"]
        key = user.call("POST", "/api/v1/api-keys", {"name": "spare"})
        world.ids["key"] = assert_ok(key)["keyId"]
        world.ids["future"] = future(60)
        yield world
    wiring.reset()


@dataclass(frozen=True)
class Bad:
    """One bad request: its body is JSON text with $placeholders, or raw bytes."""

    id: str
    method: str
    path: str
    status: int
    code: str
    body: str | bytes | None = None
    query: str = ""
    content_type: str = "application/json"


def _create(**fields: Any) -> str:
    body = {"videoId": "$video", "tiktokAccountId": "$account", "scheduledPublishTime": "$future"}
    body.update(fields)
    return json.dumps({k: v for k, v in body.items() if v is not _DROP}, ensure_ascii=False)


_DROP = object()
CREATE = "/api/v1/schedule/create"
UPDATE = "/api/v1/schedule/$schedule"
VIDEO = {"title": "Clip", "sizeBytes": 1024, "contentType": "video/mp4"}


def _video(**fields: Any) -> str:
    return json.dumps({**VIDEO, **fields}, ensure_ascii=False)


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def _token(**key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


V = "VALIDATION_ERROR"
TOO_LARGE = "PAYLOAD_TOO_LARGE"
MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
UNPROCESSABLE = "UNPROCESSABLE_ENTITY"


def _on(method: str, path: str) -> Any:
    def case(id: str, status: int, code: str, body: str | bytes | None = None, **kw: Any) -> Bad:
        return Bad(id, method, path, status, code, body, **kw)

    return case


create = _on("POST", CREATE)
base = _on("POST", "/api/v1/schedule")
update = _on("PUT", UPDATE)
new_video = _on("POST", "/api/v1/videos")
new_key = _on("POST", "/api/v1/api-keys")
callback = _on("GET", "/api/v1/tiktok-accounts/callback")
complete = _on("POST", "/api/v1/tiktok-accounts/connect/complete")
retry = _on("POST", "/api/v1/schedule/$schedule/retry")
new_hook = _on("POST", "/api/v1/webhooks")


def _hook(**fields: Any) -> str:
    body = {"url": "https://hooks.example.com/x", "events": ["schedule.failed"], **fields}
    return json.dumps(body, ensure_ascii=False)


CASES = [
    # --- size, nesting, content type, encoding, shape: create ---------------------------------
    create("create-body-over-limit", 413, TOO_LARGE, _create(title="a" * LIMIT)),
    create("create-body-one-byte-over", 413, TOO_LARGE, b"{" + b" " * (LIMIT - 1) + b"}"),
    create("create-nested-objects", 400, V, _nested(64)),
    create("create-nested-in-options", 400, V, _create(options=json.loads(_nested(20)))),
    create("create-nested-arrays-deep", 400, V, "[" * 30_000 + "]" * 30_000),
    create("create-nested-unclosed", 400, V, "[" * 60_000),
    create("create-text-plain", 415, MEDIA_TYPE, _create(), content_type="text/plain"),
    create(
        "create-form",
        415,
        MEDIA_TYPE,
        "videoId=$video",
        content_type="application/x-www-form-urlencoded",
    ),
    create(
        "create-multipart",
        415,
        MEDIA_TYPE,
        _create(),
        content_type="multipart/form-data; boundary=x",
    ),
    create(
        "create-xml", 415, MEDIA_TYPE, "<videoId>$video</videoId>", content_type="application/xml"
    ),
    create("create-empty-body", 400, V, b""),
    create("create-whitespace-body", 400, V, "  \n "),
    create("create-array", 400, V, "[]"),
    create("create-array-of-body", 400, V, f"[{_create()}]"),
    create("create-json-null", 400, V, "null"),
    create("create-json-string", 400, V, '"$video"'),
    create("create-json-number", 400, V, "42"),
    create("create-truncated-json", 400, V, _create()[:-1]),
    create(
        "create-null-byte-raw", 400, V, _create().encode().replace(b'"$video"', b'"$video\x00"')
    ),
    create("create-null-byte-escaped", 400, V, _create(videoId="$video\u0000")),
    create(
        "create-invalid-utf8", 400, V, b'{"videoId": "\xff\xfe", "tiktokAccountId": "$account"}'
    ),
    create(
        "create-invalid-utf8-in-title", 400, V, _create().encode()[:-1] + b', "title": "\xc3\x28"}'
    ),
    create("create-lone-surrogate", 400, V, _create(title="\ud800")),
    create("create-duplicate-keys", 400, V, _create()[:-1] + ', "videoId": "other-video"}'),
    create(
        "create-duplicate-nested-keys",
        400,
        V,
        _create()[:-1] + ', "options": {"isAigc": true, "isAigc": false}}',
    ),
    create("create-unknown-field", 400, V, _create(userId="someone-else")),
    create("create-missing-time", 400, V, _create(scheduledPublishTime=_DROP)),
    # --- wrong JSON types ---------------------------------------------------------------------
    create("create-number-video-id", 400, V, _create(videoId=550)),
    create("create-number-account-id", 400, V, _create(tiktokAccountId=123)),
    create("create-epoch-time", 400, V, _create(scheduledPublishTime=1_761_057_000)),
    create("create-number-title", 400, V, _create(title=5)),
    create("create-list-hashtags", 400, V, _create(hashtags=["#a", "#b"])),
    create("create-object-video-id", 400, V, _create(videoId={"$ne": ""})),
    create("create-bool-id", 400, V, _create(videoId=True)),
    create("create-string-bool-option", 400, V, _create(options={"disableComment": "true"})),
    create("create-null-video-id", 400, V, _create(videoId=None)),
    # --- huge numbers -------------------------------------------------------------------------
    create("create-huge-cover-time", 400, V, _create(options={"videoCoverTimestampMs": 10**30})),
    create(
        "create-float-overflow",
        400,
        V,
        _create()[:-1] + ', "options": {"videoCoverTimestampMs": 1e400}}',
    ),
    create(
        "create-5000-digit-number",
        400,
        V,
        _create()[:-1] + ', "options": {"videoCoverTimestampMs": ' + "9" * 5000 + "}}",
    ),
    create("create-nan", 400, V, _create()[:-1] + ', "options": {"videoCoverTimestampMs": NaN}}'),
    create(
        "create-infinity",
        400,
        V,
        _create()[:-1] + ', "options": {"videoCoverTimestampMs": -Infinity}}',
    ),
    create("create-negative-cover-time", 400, V, _create(options={"videoCoverTimestampMs": -1})),
    create("create-float-cover-time", 400, V, _create(options={"videoCoverTimestampMs": 1.5})),
    # --- ids: long, traversal, injection ------------------------------------------------------
    create("create-10k-video-id", 400, V, _create(videoId=LONG_ID)),
    create("create-10k-account-id", 400, V, _create(tiktokAccountId=LONG_ID)),
    create("create-traversal-video-id", 400, V, _create(videoId="../../USER#other/VIDEO#x")),
    create("create-encoded-traversal-id", 400, V, _create(videoId="%2e%2e%2f%2e%2e%2fetc")),
    create("create-slash-id", 400, V, _create(videoId="$video/../$video")),
    create("create-key-injection-id", 400, V, _create(tiktokAccountId="$account#SCHEDULE")),
    create("create-unicode-id", 400, V, _create(videoId="vidéo-1")),
    create("create-empty-id", 400, V, _create(videoId="")),
    # --- captions -----------------------------------------------------------------------------
    create("create-title-2201-units", 400, V, _create(title="a" * 2201)),
    create("create-title-1101-emoji", 400, V, _create(title="😀" * 1101)),
    create(
        "create-caption-over-together",
        400,
        V,
        _create(title="a" * 2000, hashtags="#" + "b" * 100 + " #" + "c" * 100),
    ),
    create("create-title-null-char", 400, V, _create(title="Launch\u0000day")),
    create("create-title-bell", 400, V, _create(title="ding\u0007")),
    create("create-title-escape-sequence", 400, V, _create(title="\u001b[31mred\u001b[0m")),
    create("create-title-delete-char", 400, V, _create(title="x\u007f")),
    create("create-hashtags-control", 400, V, _create(hashtags="#a\u0001")),
    create("create-hashtags-without-hash", 400, V, _create(hashtags="trending viral")),
    create("create-hashtags-joined", 400, V, _create(hashtags="#a#b")),
    create("create-hashtags-bare-hash", 400, V, _create(hashtags="#")),
    create("create-hashtags-blank", 400, V, _create(hashtags="   ")),
    # --- dates --------------------------------------------------------------------------------
    create("create-leap-second", 400, V, _create(scheduledPublishTime="2026-12-31T23:59:60Z")),
    create(
        "create-leap-second-offset",
        400,
        V,
        _create(scheduledPublishTime="2026-06-30T23:59:60+00:00"),
    ),
    create(
        "create-year-9999", 422, UNPROCESSABLE, _create(scheduledPublishTime="9999-12-31T23:59:59Z")
    ),
    create(
        "create-year-9999-millis",
        422,
        UNPROCESSABLE,
        _create(scheduledPublishTime="9999-12-31T23:59:59.999Z"),
    ),
    create("create-year-10000", 400, V, _create(scheduledPublishTime="10000-01-01T00:00:00Z")),
    create("create-year-0", 400, V, _create(scheduledPublishTime="0000-01-01T00:00:00Z")),
    create("create-february-30", 400, V, _create(scheduledPublishTime="2027-02-30T10:00:00Z")),
    create("create-hour-24", 400, V, _create(scheduledPublishTime="2027-01-01T24:00:00Z")),
    create("create-no-offset", 400, V, _create(scheduledPublishTime="2027-01-01T10:00:00")),
    create(
        "create-other-offset", 400, V, _create(scheduledPublishTime="2027-01-01T10:00:00+01:00")
    ),
    create(
        "create-minus-zero-offset",
        400,
        V,
        _create(scheduledPublishTime="2027-01-01T10:00:00-00:00"),
    ),
    create("create-date-only", 400, V, _create(scheduledPublishTime="2027-01-01")),
    create(
        "create-trailing-newline", 400, V, _create(scheduledPublishTime="2027-01-01T10:00:00Z\n")
    ),
    create("create-past", 422, UNPROCESSABLE, _create(scheduledPublishTime="2025-10-21T14:30:00Z")),
    # --- the base endpoint is the same ---------------------------------------------------------
    base("base-duplicate-keys", 400, V, _create()[:-1] + ', "videoId": "x"}'),
    base("base-title-too-long", 400, V, _create(title="😀" * 1101)),
    base("base-wrong-content-type", 415, MEDIA_TYPE, _create(), content_type="text/csv"),
    base("base-over-limit", 413, TOO_LARGE, _create(title="a" * LIMIT)),
    # --- update ---------------------------------------------------------------------------------
    update("update-empty-object", 400, V, "{}"),
    update("update-empty-body", 400, V, b""),
    update("update-array", 400, V, '[{"status": "cancelled"}]'),
    update("update-null", 400, V, "null"),
    update("update-over-limit", 413, TOO_LARGE, json.dumps({"title": "a" * LIMIT})),
    update(
        "update-text-plain", 415, MEDIA_TYPE, '{"status": "cancelled"}', content_type="text/plain"
    ),
    update("update-nested", 400, V, _nested(40)),
    update("update-duplicate-status", 400, V, '{"status": "pending", "status": "cancelled"}'),
    update("update-internal-status", 400, V, '{"status": "publishing"}'),
    update("update-failed-status", 400, V, '{"status": "failed"}'),
    update("update-status-case", 400, V, '{"status": "CANCELLED"}'),
    update("update-number-status", 400, V, '{"status": 1}'),
    update("update-null-status", 400, V, '{"status": null, "title": 3}'),
    update("update-title-control", 400, V, '{"title": "a\\u0000b"}'),
    update("update-title-too-long", 400, V, json.dumps({"title": "😀" * 1101})),
    update("update-leap-second", 400, V, '{"scheduledPublishTime": "2026-12-31T23:59:60Z"}'),
    update(
        "update-year-9999", 422, UNPROCESSABLE, '{"scheduledPublishTime": "9999-12-31T23:59:59Z"}'
    ),
    update("update-invalid-utf8", 400, V, b'{"title": "\xff"}'),
    update("update-raw-null-byte", 400, V, b'{"title": "a\x00"}'),
    update("update-huge-number", 400, V, '{"options": {"videoCoverTimestampMs": 1e999}}'),
    update("update-unknown-field", 400, V, '{"videoId": "$video"}'),
    Bad("update-10k-id", "PUT", f"/api/v1/schedule/{LONG_ID}", 400, V, '{"status": "cancelled"}'),
    Bad(
        "update-encoded-traversal",
        "PUT",
        "/api/v1/schedule/..%2F..%2Fapi-keys%2F$key",
        400,
        V,
        '{"status": "cancelled"}',
    ),
    Bad("update-dot-dot", "PUT", "/api/v1/schedule/..", 400, V, '{"status": "cancelled"}'),
    Bad(
        "update-encoded-dots",
        "PUT",
        "/api/v1/schedule/%2e%2e%2f%2e%2e%2f",
        400,
        V,
        '{"status": "cancelled"}',
    ),
    Bad(
        "update-backslash-traversal",
        "PUT",
        "/api/v1/schedule/..%5c..%5c$schedule",
        400,
        V,
        '{"status": "cancelled"}',
    ),
    Bad(
        "update-null-byte-id",
        "PUT",
        "/api/v1/schedule/$schedule%00",
        400,
        V,
        '{"status": "cancelled"}',
    ),
    # --- delete ---------------------------------------------------------------------------------
    Bad("delete-10k-id", "DELETE", f"/api/v1/schedule/{LONG_ID}", 400, V),
    Bad("delete-encoded-traversal", "DELETE", "/api/v1/schedule/%2e%2e%2f$schedule", 400, V),
    Bad("delete-encoded-slash", "DELETE", "/api/v1/schedule/$schedule%2F..", 400, V),
    Bad("delete-wildcard", "DELETE", "/api/v1/schedule/*", 400, V),
    Bad("delete-unicode-id", "DELETE", "/api/v1/schedule/%C3%A9t%C3%A9", 400, V),
    Bad("delete-key-injection", "DELETE", "/api/v1/schedule/$schedule%23x", 400, V),
    # --- list query parameters ------------------------------------------------------------------
    *[
        Bad(f"list-{name}", "GET", "/api/v1/schedule/scheduled-videos", 400, V, query=query)
        for name, query in [
            ("limit-0", "limit=0"),
            ("limit-101", "limit=101"),
            ("limit-negative", "limit=-1"),
            ("limit-text", "limit=ten"),
            ("limit-float", "limit=1.5"),
            ("limit-exponent", "limit=1e2"),
            ("limit-huge", "limit=" + "9" * 400),
            ("limit-empty", "limit="),
            ("limit-twice", "limit=1&limit=2"),
            ("limit-null-byte", "limit=1%00"),
            ("token-empty", "nextToken="),
            ("token-garbage", "nextToken=%2e%2e%2f%00"),
            ("token-not-base64-json", "nextToken=bm90IGpzb24"),
            ("token-10k", "nextToken=" + "A" * 10_000),
            (
                "token-other-user",
                "nextToken="
                + _token(
                    gsi1pk="USER#someone-else", gsi1sk="S#", pk="USER#someone-else", sk="SCHEDULE#x"
                ),
            ),
            ("status-unknown", "status=done"),
            ("status-internal", "status=publishing"),
            ("status-case", "status=PENDING"),
            ("status-twice", "status=pending&status=failed"),
        ]
    ],
    Bad("upcoming-limit-0", "GET", "/api/v1/schedule/upcoming", 400, V, query="limit=0"),
    Bad(
        "upcoming-token-forged",
        "GET",
        "/api/v1/schedule/upcoming",
        400,
        V,
        query="nextToken=" + _token(dueShard="0", dueAt="x"),
    ),
    Bad("videos-limit-101", "GET", "/api/v1/videos", 400, V, query="limit=101"),
    Bad(
        "videos-token-other-user",
        "GET",
        "/api/v1/videos",
        400,
        V,
        query="nextToken=" + _token(pk="USER#someone-else", sk="VIDEO#x"),
    ),
    Bad("accounts-limit-text", "GET", "/api/v1/tiktok-accounts", 400, V, query="limit=all"),
    Bad("accounts-token-garbage", "GET", "/api/v1/tiktok-accounts", 400, V, query="nextToken=!!!"),
    Bad("api-keys-limit-negative", "GET", "/api/v1/api-keys", 400, V, query="limit=-5"),
    Bad("api-keys-token-long", "GET", "/api/v1/api-keys", 400, V, query="nextToken=" + "x" * 3000),
    # --- one post, retry, webhooks ---------------------------------------------------------------
    Bad("get-10k-id", "GET", f"/api/v1/schedule/{LONG_ID}", 400, V),
    Bad("get-traversal", "GET", "/api/v1/schedule/..%2F..%2Fapi-keys", 400, V),
    Bad("get-key-injection", "GET", "/api/v1/schedule/$schedule%23x", 400, V),
    retry("retry-array", 400, V, "[]"),
    retry("retry-null", 400, V, "null"),
    retry("retry-unknown-field", 400, V, '{"status": "pending"}'),
    retry("retry-number-time", 400, V, '{"scheduledPublishTime": 1761057000}'),
    retry("retry-other-offset", 400, V, '{"scheduledPublishTime": "2027-01-01T10:00:00+01:00"}'),
    retry(
        "retry-not-failed-first",
        409,
        "CONFLICT",
        '{"scheduledPublishTime": "2025-10-21T14:30:00Z"}',
    ),
    retry("retry-text-plain", 415, MEDIA_TYPE, "{}", content_type="text/plain"),
    retry("retry-over-limit", 413, TOO_LARGE, json.dumps({"x": "a" * LIMIT})),
    Bad("retry-10k-id", "POST", f"/api/v1/schedule/{LONG_ID}/retry", 400, V, "{}"),
    new_hook("webhook-url-2049", 400, V, _hook(url="https://x.example/" + "a" * 2031)),
    new_hook("webhook-url-number", 400, V, _hook(url=443)),
    new_hook("webhook-url-javascript", 400, V, _hook(url="javascript:alert(1)")),
    new_hook("webhook-url-file", 400, V, _hook(url="file:///etc/passwd")),
    new_hook("webhook-url-spaces", 400, V, _hook(url="https://a b.example/")),
    new_hook("webhook-events-string", 400, V, _hook(events="schedule.failed")),
    new_hook("webhook-events-empty", 400, V, _hook(events=[])),
    new_hook("webhook-events-unknown", 400, V, _hook(events=["post.*"])),
    new_hook("webhook-secret-given", 400, V, _hook(secret="whsec_mine")),
    new_hook("webhook-duplicate-keys", 400, V, _hook()[:-1] + ', "url": "https://b.example/"}'),
    new_hook("webhook-private-target", 422, UNPROCESSABLE, _hook(url="https://10.0.0.1/x")),
    new_hook("webhook-metadata-target", 422, UNPROCESSABLE, _hook(url="http://169.254.169.254/")),
    new_hook("webhook-loopback-target", 422, UNPROCESSABLE, _hook(url="https://127.0.0.1:8080/")),
    new_hook("webhook-text-plain", 415, MEDIA_TYPE, _hook(), content_type="text/plain"),
    Bad("webhook-delete-10k-id", "DELETE", f"/api/v1/webhooks/{LONG_ID}", 400, V),
    Bad("webhook-delete-traversal", "DELETE", "/api/v1/webhooks/..%2F$schedule", 400, V),
    Bad("deliveries-bad-id", "GET", "/api/v1/webhooks/%2e%2e/deliveries", 400, V),
    Bad(
        "deliveries-limit-0",
        "GET",
        "/api/v1/webhooks/$schedule/deliveries",
        400,
        V,
        query="limit=0",
    ),
    Bad(
        "deliveries-token-garbage",
        "GET",
        "/api/v1/webhooks/$schedule/deliveries",
        400,
        V,
        query="nextToken=%00",
    ),
    # --- videos ---------------------------------------------------------------------------------
    new_video("video-create-string-size", 400, V, _video(sizeBytes="1024")),
    new_video("video-create-zero-size", 400, V, _video(sizeBytes=0)),
    new_video("video-create-huge-size", 400, V, _video(sizeBytes=10**40)),
    new_video("video-create-over-4gib", 400, V, _video(sizeBytes=4 * 1024**3 + 1)),
    new_video("video-create-float-size", 400, V, _video(sizeBytes=1024.0)),
    new_video("video-create-content-type", 400, V, _video(contentType="video/avi")),
    new_video("video-create-empty-title", 400, V, _video(title="")),
    new_video("video-create-title-control", 400, V, _video(title="clip\u0000")),
    new_video("video-create-title-too-long", 400, V, _video(title="😀" * 1101)),
    new_video("video-create-number-title", 400, V, _video(title=7)),
    new_video("video-create-duplicate-keys", 400, V, _video()[:-1] + ', "sizeBytes": 5}'),
    new_video("video-create-array", 400, V, f"[{_video()}]"),
    new_video("video-create-empty-body", 400, V, b""),
    new_video("video-create-over-limit", 413, TOO_LARGE, _video(description="d" * LIMIT)),
    new_video("video-create-text-plain", 415, MEDIA_TYPE, _video(), content_type="text/plain"),
    new_video("video-create-invalid-utf8", 400, V, b'{"title": "\xed\xa0\x80"}'),
    Bad("video-get-10k-id", "GET", f"/api/v1/videos/{LONG_ID}", 400, V),
    Bad("video-get-traversal", "GET", "/api/v1/videos/..%2F..%2F$video", 400, V),
    Bad(
        "video-complete-unsorted-parts",
        "POST",
        "/api/v1/videos/$upload/complete",
        400,
        V,
        '{"parts": [{"partNumber": 2, "etag": "a"}, {"partNumber": 1, "etag": "b"}]}',
    ),
    Bad(
        "video-complete-repeated-part",
        "POST",
        "/api/v1/videos/$upload/complete",
        400,
        V,
        '{"parts": [{"partNumber": 1, "etag": "a"}, {"partNumber": 1, "etag": "a"}]}',
    ),
    Bad(
        "video-complete-string-part",
        "POST",
        "/api/v1/videos/$upload/complete",
        400,
        V,
        '{"parts": [{"partNumber": "1", "etag": "a"}]}',
    ),
    Bad(
        "video-complete-bad-etag",
        "POST",
        "/api/v1/videos/$upload/complete",
        400,
        V,
        '{"parts": [{"partNumber": 1, "etag": "../x"}]}',
    ),
    Bad(
        "video-complete-huge-part",
        "POST",
        "/api/v1/videos/$upload/complete",
        400,
        V,
        '{"parts": [{"partNumber": 1e400, "etag": "a"}]}',
    ),
    Bad(
        "video-complete-no-parts",
        "POST",
        "/api/v1/videos/$upload/complete",
        400,
        V,
        '{"parts": []}',
    ),
    Bad("video-complete-array", "POST", "/api/v1/videos/$upload/complete", 400, V, "[]"),
    Bad(
        "video-complete-wrong-type",
        "POST",
        "/api/v1/videos/$upload/complete",
        415,
        MEDIA_TYPE,
        "{}",
        content_type="application/octet-stream",
    ),
    Bad("video-complete-10k-id", "POST", f"/api/v1/videos/{LONG_ID}/complete", 400, V, "{}"),
    Bad("video-delete-traversal", "DELETE", "/api/v1/videos/%2e%2e%2f$upload", 400, V),
    Bad("video-delete-10k-id", "DELETE", f"/api/v1/videos/{LONG_ID}", 400, V),
    # --- API keys and TikTok accounts -----------------------------------------------------------
    new_key("key-create-empty-name", 400, V, '{"name": ""}'),
    new_key("key-create-blank-name", 400, V, '{"name": "   "}'),
    new_key("key-create-long-name", 400, V, json.dumps({"name": "n" * 101})),
    new_key("key-create-null-byte", 400, V, '{"name": "ci\\u0000"}'),
    new_key("key-create-newline", 400, V, '{"name": "ci\\nbot"}'),
    new_key("key-create-number-name", 400, V, '{"name": 5}'),
    new_key("key-create-duplicate-keys", 400, V, '{"name": "a", "name": "b"}'),
    new_key("key-create-array", 400, V, '[{"name": "a"}]'),
    new_key("key-create-empty-body", 400, V, b""),
    new_key(
        "key-create-form",
        415,
        MEDIA_TYPE,
        "name=a",
        content_type="application/x-www-form-urlencoded",
    ),
    new_key("key-create-over-limit", 413, TOO_LARGE, json.dumps({"name": "n" * LIMIT})),
    Bad("key-delete-traversal", "DELETE", "/api/v1/api-keys/..%2F$key", 400, V),
    Bad("key-delete-10k-id", "DELETE", f"/api/v1/api-keys/{LONG_ID}", 400, V),
    Bad("account-delete-traversal", "DELETE", "/api/v1/tiktok-accounts/%2e%2e%2f$account", 400, V),
    Bad("account-delete-10k-id", "DELETE", f"/api/v1/tiktok-accounts/{LONG_ID}", 400, V),
    callback("callback-nothing", 400, V),
    callback("callback-long-state", 400, V, query="code=c&state=" + "s" * 3000),
    callback("callback-traversal-state", 400, V, query="code=c&state=..%2F..%2F%00"),
    callback("callback-error-injection", 400, V, query="state=x&error=%3Cscript%3E"),
    callback("callback-no-code-or-error", 400, V, query="state=" + "s" * 43),
    complete("complete-empty", 400, V, "{}"),
    complete("complete-unknown-state", 400, V, json.dumps({"state": "s" * 43, "code": "c"})),
    complete("complete-unknown-field", 400, V, json.dumps({"state": "s", "userId": "x"})),
    complete("complete-state-number", 400, V, json.dumps({"state": 7, "code": "c"})),
    complete("complete-long-code", 400, V, json.dumps({"state": "s" * 43, "code": "c" * 3000})),
    complete("complete-text-plain", 415, MEDIA_TYPE, "state=s", content_type="text/plain"),
]


def _raw(case: Bad, world: World) -> bytes | None:
    if case.body is None:
        return None
    if isinstance(case.body, bytes):
        raw = case.body
        for name, value in world.ids.items():
            raw = raw.replace(f"${name}".encode(), value.encode())
        return raw
    return world.fill(case.body).encode("utf-8", "surrogatepass")


def call(world: World, case: Bad) -> Response:
    return world.stack.call(
        case.method,
        world.fill(case.path),
        token=world.user.api_key,
        query=world.fill(case.query),
        headers={"content-type": case.content_type},
        raw_body=_raw(case, world),
    )


def test_the_cases_cover_every_operation_that_takes_input() -> None:
    covered = {(case.method, committed().template_path(case.method, case.path)) for case in CASES}
    for (method, path), operation in committed().operations.items():
        takes_input = "requestBody" in operation or operation.get("parameters")
        if takes_input:
            assert (method, path) in covered, (method, path)
    assert len(CASES) >= 150


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_a_clear_4xx_and_changes_nothing(world: World, case: Bad) -> None:
    items = world.stack.item_count()
    with world.stack.unchanged():
        response = call(world, case)
    assert world.stack.item_count() == items
    error = assert_error(response, case.status, case.code)
    assert len(error["message"]) < 1000, error  # the input is not echoed back at length
    assert len(json.dumps(response.body)) < 4000, response.body
    path = world.fill(case.path)
    committed().check_response(
        case.method, path, response.status, response.headers["content-type"], response.body
    )


# --- what is not a bad input --------------------------------------------------------------------


def test_the_same_requests_without_their_defects_succeed(world: World) -> None:
    """The world's ids are real: the cases fail for their defect alone."""
    stack, user = world.stack, world.user
    with stack.unchanged():
        assert_ok(
            user.call("GET", "/api/v1/schedule/scheduled-videos", query="limit=100&status=pending")
        )
        assert_ok(user.call("GET", f"/api/v1/videos/{world.ids['upload']}"))
    created = user.call(
        "POST",
        "/api/v1/schedule/create",
        raw_body=world.fill(_create(title="😀" * 1100)).encode(),  # 2200 UTF-16 units: the limit
    )
    schedule_id = assert_ok(created)["scheduleId"]
    assert_ok(user.call("DELETE", f"/api/v1/schedule/{schedule_id}"))


def test_unicode_in_captions_is_kept_exactly(world: World) -> None:
    user = world.user
    title = "Ünïcødé 🚀 مرحبا שלום 你好 \u200d\u200b tab\tand\nnewline"
    hashtags = "#día #🎉 #東京"
    created = user.call(
        "POST",
        "/api/v1/schedule/create",
        raw_body=world.fill(_create(title=title, hashtags=hashtags)).encode(),
    )
    schedule_id = assert_ok(created)["scheduleId"]
    listed = assert_ok(user.call("GET", "/api/v1/schedule/scheduled-videos", query="limit=100"))
    (item,) = [item for item in listed if item["id"] == schedule_id]
    assert (item["title"], item["hashtags"]) == (title, hashtags)
    assert_ok(user.call("DELETE", f"/api/v1/schedule/{schedule_id}"))


def test_an_id_with_raw_slashes_matches_no_route(world: World) -> None:
    """A traversal with real slashes is a path no route matches: API Gateway's own 404, and no
    function runs (encoded slashes stay inside one segment and are refused by the route)."""
    stack, user = world.stack, world.user
    for path in (
        "/api/v1/schedule/../../api-keys/$key",
        "/api/v1/schedule/$schedule/../$schedule",
        "/api/v1/videos/../tiktok-accounts/$account",
    ):
        with stack.unchanged():
            response = user.call("DELETE", world.fill(path))
        assert (response.status, response.body) == (404, {"message": "Not Found"}), path
