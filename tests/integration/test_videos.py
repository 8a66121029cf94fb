"""Videos through the local API Gateway against the template's resources in moto: announcing an
upload, uploading with the presigned URLs (single PUT and multipart), the S3 event and the
complete call settling the video, reading, listing and deleting it, and every error."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlsplit

import boto3
import pytest
import requests

from post_scheduler import wiring
from tests.support import API_TIME, AwsStack, User, assert_error, assert_ok

MIB = 1024 * 1024
# Small limits so multipart uploads stay quick: parts of 5 MiB (S3's minimum) above 6 MiB.
PART = 5 * MIB
THRESHOLD = 6 * MIB


def mp4(size: int) -> bytes:
    """Bytes that start like an MP4 file (an `ftyp` box)."""
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    return (head + bytes(range(256)) * (size // 256 + 1))[:size]


def webm(size: int) -> bytes:
    return (b"\x1a\x45\xdf\xa3" + b"\x42\x86\x81\x01" * (size // 4 + 1))[:size]


@pytest.fixture
def small_parts(stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDEO_MULTIPART_THRESHOLD_BYTES", str(THRESHOLD))
    monkeypatch.setenv("VIDEO_PART_SIZE_BYTES", str(PART))
    wiring.reset()


@pytest.fixture
def user(stack: AwsStack) -> User:
    return stack.user("basic")


def announce(user: User, size: int, content_type: str = "video/mp4", **extra: Any) -> Any:
    body = {"title": "My clip", "description": "Shot today", "sizeBytes": size}
    body |= {"contentType": content_type, **extra}
    return assert_ok(user.call("POST", "/api/v1/videos", body))


def put(url: str, data: bytes, content_type: str | None = None) -> requests.Response:
    headers = {"Content-Type": content_type} if content_type else {}
    response = requests.put(url, data=data, headers=headers, timeout=30)
    return response


def s3_event(bucket: str, key: str, size: int, etag: str = "0") -> dict[str, Any]:
    """An S3 ObjectCreated notification, shaped as S3 sends it (the key URL-encoded)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-01-01T00:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "Uploaded",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag},
                },
            }
        ]
    }


def deliver_s3_event(stack: AwsStack, key: str) -> Any:
    """S3 tells the VideoUploaded function about the object now at `key`."""
    bucket = stack.environment["VIDEO_BUCKET"]
    head = boto3.client("s3").head_object(Bucket=bucket, Key=key)
    event = s3_event(bucket, key, head["ContentLength"], head["ETag"].strip('"'))
    return stack.gateway.runner.invoke("VideoUploadedFunction", event)


def video_of(user: User, video_id: str) -> dict[str, Any]:
    data: dict[str, Any] = assert_ok(user.call("GET", f"/api/v1/videos/{video_id}"))
    return data


def object_exists(stack: AwsStack, key: str) -> bool:
    listed = boto3.client("s3").list_objects_v2(
        Bucket=stack.environment["VIDEO_BUCKET"], Prefix=key
    )
    return any(o["Key"] == key for o in listed.get("Contents", []))


# --- announcing an upload -------------------------------------------------------------------------


def test_small_video_gets_a_single_presigned_put(stack: AwsStack, user: User) -> None:
    data = announce(user, 2048)

    assert data["status"] == "uploading"
    assert data["title"] == "My clip"
    assert data["description"] == "Shot today"
    assert data["sizeBytes"] == 2048
    assert data["contentType"] == "video/mp4"
    assert API_TIME.match(data["createdAt"])
    upload = data["upload"]
    assert upload["method"] == "PUT"
    assert upload["headers"] == {"Content-Type": "video/mp4"}
    assert API_TIME.match(upload["expiresAt"])
    assert upload["completePath"] == f"/api/v1/videos/{data['id']}/complete"
    assert "X-Amz-Signature=" in upload["url"]  # SigV4
    assert "parts" not in upload
    item = user.video_item(data["id"])
    assert item["status"] == "uploading"
    assert item["s3Key"] == f"videos/{user.user_id}/{data['id']}.mp4"
    assert item["expiresAt"] > 0  # an abandoned upload expires through the table's TTL


def test_large_video_gets_a_multipart_upload(
    stack: AwsStack, user: User, small_parts: None
) -> None:
    size = 2 * PART + 123
    data = announce(user, size, "video/quicktime")

    upload = data["upload"]
    assert upload["method"] == "MULTIPART"
    assert upload["partSizeBytes"] == PART
    assert [p["partNumber"] for p in upload["parts"]] == [1, 2, 3]
    assert [p["sizeBytes"] for p in upload["parts"]] == [PART, PART, 123]
    assert "url" not in upload
    item = user.video_item(data["id"])
    assert item["s3Key"].endswith(".mov")
    assert item["uploadId"]


def test_default_threshold_is_100_mib(stack: AwsStack, user: User) -> None:
    assert announce(user, 100 * MIB)["upload"]["method"] == "PUT"
    parts = announce(user, 4 * 1024 * MIB)["upload"]["parts"]
    assert len(parts) == math.ceil(4 * 1024 / 64)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sizeBytes": 0}, "sizeBytes"),
        ({"sizeBytes": 4 * 1024 * MIB + 1}, "sizeBytes"),
        ({"sizeBytes": "2048"}, "sizeBytes"),
        ({"sizeBytes": 20.5}, "sizeBytes"),
        ({"contentType": "video/x-msvideo"}, "contentType"),
        ({"contentType": None}, "contentType"),
        ({"title": ""}, "title"),
        ({"title": "a\x00b"}, "title"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_invalid_announcements_are_400(
    stack: AwsStack, user: User, change: dict[str, Any], field: str
) -> None:
    body = {"title": "t", "sizeBytes": 10, "contentType": "video/mp4"} | change
    with stack.unchanged():
        error = assert_error(user.call("POST", "/api/v1/videos", body), 400, "VALIDATION_ERROR")
    assert field in error["message"]


def test_missing_fields_and_bad_json_are_400(stack: AwsStack, user: User) -> None:
    assert_error(user.call("POST", "/api/v1/videos", {"title": "t"}), 400, "VALIDATION_ERROR")
    bad = user.call("POST", "/api/v1/videos", raw_body=b"{not json")
    assert_error(bad, 400, "VALIDATION_ERROR")


def test_announcing_needs_credentials(stack: AwsStack) -> None:
    response = stack.call("POST", "/api/v1/videos", {"title": "t"}, token="psk_not-a-real-key-xx")
    assert_error(response, 401, "UNAUTHORIZED")


# --- single PUT: the S3 event or the complete call settles the video ---------------------------


def test_single_put_then_s3_event_makes_the_video_ready(stack: AwsStack, user: User) -> None:
    data = announce(user, 4096)
    assert put(data["upload"]["url"], mp4(4096), "video/mp4").status_code == 200

    deliver_s3_event(stack, user.video_item(data["id"])["s3Key"])

    video = video_of(user, data["id"])
    assert video["status"] == "ready"
    assert API_TIME.match(video["readyAt"])
    assert "upload" not in video
    assert "statusReason" not in video
    assert user.video_item(data["id"])["objectETag"]
    assert "uploadId" not in user.video_item(data["id"])
    assert "expiresAt" not in user.video_item(data["id"])  # a ready video does not expire


def test_a_repeated_s3_event_changes_nothing(stack: AwsStack, user: User) -> None:
    data = announce(user, 4096)
    put(data["upload"]["url"], mp4(4096), "video/mp4")
    key = user.video_item(data["id"])["s3Key"]
    deliver_s3_event(stack, key)
    with stack.unchanged():
        deliver_s3_event(stack, key)


def test_complete_settles_a_single_put_without_waiting_for_s3(stack: AwsStack, user: User) -> None:
    data = announce(user, 4096, "video/webm")
    put(data["upload"]["url"], webm(4096), "video/webm")

    done = assert_ok(user.call("POST", f"/api/v1/videos/{data['id']}/complete", {}))

    assert done["status"] == "ready"
    # The event arriving afterwards finds the video decided.
    with stack.unchanged():
        deliver_s3_event(stack, user.video_item(data["id"])["s3Key"])


def test_complete_before_the_file_is_there_is_409(stack: AwsStack, user: User) -> None:
    data = announce(user, 4096)
    with stack.unchanged():
        response = user.call("POST", f"/api/v1/videos/{data['id']}/complete", {})
    assert_error(response, 409, "CONFLICT")


def test_complete_of_a_single_put_refuses_parts(stack: AwsStack, user: User) -> None:
    data = announce(user, 4096)
    put(data["upload"]["url"], mp4(4096), "video/mp4")
    body = {"parts": [{"partNumber": 1, "etag": "abc"}]}
    response = user.call("POST", f"/api/v1/videos/{data['id']}/complete", body)
    assert_error(response, 400, "VALIDATION_ERROR")


def test_the_presigned_put_signs_the_content_type(stack: AwsStack, user: User) -> None:
    # S3 refuses a PUT whose signed headers differ (moto does not check signatures, so the
    # URL's signed headers are what this test can see).
    url = announce(user, 4096)["upload"]["url"]
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert "content-type" in query["X-Amz-SignedHeaders"][0].split(";")
    assert query["X-Amz-Expires"] == ["3600"]


def test_upload_urls_sign_the_declared_length(
    stack: AwsStack, user: User, small_parts: None
) -> None:
    # S3 refuses a PUT whose Content-Length differs from the signed one: the URL cannot carry
    # more (or other-sized) bytes than were declared.
    single = parse_qs(urlsplit(announce(user, 4096)["upload"]["url"]).query)
    assert "content-length" in single["X-Amz-SignedHeaders"][0].split(";")
    for part in announce(user, 2 * PART + 1000)["upload"]["parts"]:
        signed = parse_qs(urlsplit(part["url"]).query)["X-Amz-SignedHeaders"][0]
        assert "content-length" in signed.split(";")


def test_a_ready_video_is_pinned_to_the_checked_version(stack: AwsStack, user: User) -> None:
    data = announce(user, 4096)
    original = mp4(4096)
    assert put(data["upload"]["url"], original, "video/mp4").ok
    assert assert_ok(user.call("POST", f"/api/v1/videos/{data['id']}/complete", {}))["status"] == (
        "ready"
    )
    s3, bucket = boto3.client("s3"), stack.environment["VIDEO_BUCKET"]
    key = user.video_item(data["id"])["s3Key"]
    checked = s3.head_object(Bucket=bucket, Key=key)["VersionId"]
    assert user.video_item(data["id"])["objectVersionId"] == checked

    # The upload URL still works: a second PUT writes a new version over the checked one.
    swapped = b"\x00\x00\x00\x18ftypmp42" + bytes(4096 - 12)
    assert put(data["upload"]["url"], swapped, "video/mp4").ok
    newer = s3.head_object(Bucket=bucket, Key=key)["VersionId"]
    assert newer != checked
    event = s3_event(bucket, key, 4096)
    event["Records"][0]["s3"]["object"]["versionId"] = newer
    stack.gateway.runner.invoke("VideoUploadedFunction", event)

    # It is removed, so the checked version is current again; the video is unchanged.
    versions = s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    assert [v["VersionId"] for v in versions] == [checked]
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == original
    assert user.video_item(data["id"])["objectVersionId"] == checked
    assert video_of(user, data["id"])["status"] == "ready"


# --- rejections ---------------------------------------------------------------------------------


def test_wrong_size_is_rejected_and_the_file_deleted(stack: AwsStack, user: User) -> None:
    data = announce(user, 4096)
    put(data["upload"]["url"], mp4(5000), "video/mp4")
    key = user.video_item(data["id"])["s3Key"]

    deliver_s3_event(stack, key)

    video = video_of(user, data["id"])
    assert video["status"] == "rejected"
    assert video["statusReason"] == "the uploaded file has 5000 bytes but 4096 were declared"
    assert "upload" not in video
    assert not object_exists(stack, key)


def test_wrong_content_type_is_rejected(stack: AwsStack, user: User) -> None:
    data = announce(user, 4096)
    key = user.video_item(data["id"])["s3Key"]
    # Written around the presigned URL (e.g. by a tool with the bucket's credentials).
    boto3.client("s3").put_object(
        Bucket=stack.environment["VIDEO_BUCKET"], Key=key, Body=mp4(4096), ContentType="image/gif"
    )

    deliver_s3_event(stack, key)

    video = video_of(user, data["id"])
    assert video["status"] == "rejected"
    assert "Content-Type is 'image/gif' but video/mp4 was declared" in video["statusReason"]


def test_content_that_is_not_the_declared_format_is_rejected(stack: AwsStack, user: User) -> None:
    data = announce(user, 4096, "video/webm")
    put(data["upload"]["url"], mp4(4096), "video/webm")  # an MP4 file declared as WebM

    done = assert_ok(user.call("POST", f"/api/v1/videos/{data['id']}/complete", {}))

    assert done["status"] == "rejected"
    assert "not a WebM video" in done["statusReason"]


def test_a_rejected_video_cannot_be_scheduled(stack: AwsStack, user: User) -> None:
    data = announce(user, 4096)
    put(data["upload"]["url"], mp4(10), "video/mp4")
    deliver_s3_event(stack, user.video_item(data["id"])["s3Key"])

    response = user.create(data["id"], user.account())

    error = assert_error(response, 422, "UNPROCESSABLE_ENTITY")
    assert error["details"]["videoStatus"] == "rejected"


def test_an_uploading_video_cannot_be_scheduled(stack: AwsStack, user: User) -> None:
    data = announce(user, 4096)
    error = assert_error(user.create(data["id"], user.account()), 422, "UNPROCESSABLE_ENTITY")
    assert "not ready" in error["message"]


def test_a_ready_video_can_be_scheduled(stack: AwsStack, user: User) -> None:
    data = announce(user, 4096)
    put(data["upload"]["url"], mp4(4096), "video/mp4")
    deliver_s3_event(stack, user.video_item(data["id"])["s3Key"])
    assert_ok(user.create(data["id"], user.account()))


# --- multipart ------------------------------------------------------------------------------------


def upload_parts(upload: dict[str, Any], data: bytes) -> list[dict[str, Any]]:
    parts, offset = [], 0
    for part in upload["parts"]:
        chunk = data[offset : offset + part["sizeBytes"]]
        offset += part["sizeBytes"]
        response = put(part["url"], chunk)
        assert response.status_code == 200, response.text
        parts.append({"partNumber": part["partNumber"], "etag": response.headers["ETag"]})
    return parts


def test_multipart_upload_completes_and_is_ready(
    stack: AwsStack, user: User, small_parts: None
) -> None:
    size = 2 * PART + 1000
    data = announce(user, size)
    parts = upload_parts(data["upload"], mp4(size))

    done = assert_ok(user.call("POST", f"/api/v1/videos/{data['id']}/complete", {"parts": parts}))

    assert done["status"] == "ready"
    head = boto3.client("s3").head_object(
        Bucket=stack.environment["VIDEO_BUCKET"], Key=user.video_item(data["id"])["s3Key"]
    )
    assert head["ContentLength"] == size
    assert "uploadId" not in user.video_item(data["id"])
    # Completing again (a client retry) answers the video as it is.
    again = assert_ok(user.call("POST", f"/api/v1/videos/{data['id']}/complete", {"parts": parts}))
    assert again["status"] == "ready"


def test_multipart_complete_needs_every_part(
    stack: AwsStack, user: User, small_parts: None
) -> None:
    size = 2 * PART + 1000
    data = announce(user, size)
    parts = upload_parts(data["upload"], mp4(size))
    path = f"/api/v1/videos/{data['id']}/complete"

    error = assert_error(user.call("POST", path, {"parts": parts[:2]}), 400, "VALIDATION_ERROR")
    assert error["details"]["expectedParts"] == 3
    assert_error(user.call("POST", path, {}), 400, "VALIDATION_ERROR")
    unordered = [parts[1], parts[0], parts[2]]
    assert_error(user.call("POST", path, {"parts": unordered}), 400, "VALIDATION_ERROR")
    wrong = [*parts[:2], {"partNumber": 3, "etag": '"0123456789abcdef0123456789abcdef"'}]
    error = assert_error(user.call("POST", path, {"parts": wrong}), 400, "VALIDATION_ERROR")
    assert "ETag" in error["message"]
    assert user.video_item(data["id"])["status"] == "uploading"


def test_get_renews_the_upload_urls_while_uploading(
    stack: AwsStack, user: User, small_parts: None
) -> None:
    data = announce(user, 2 * PART)
    fresh = video_of(user, data["id"])
    assert fresh["status"] == "uploading"
    assert [p["partNumber"] for p in fresh["upload"]["parts"]] == [1, 2]
    parts = upload_parts(fresh["upload"], mp4(2 * PART))
    done = assert_ok(user.call("POST", f"/api/v1/videos/{data['id']}/complete", {"parts": parts}))
    assert done["status"] == "ready"


# --- reading and listing ------------------------------------------------------------------------


def test_get_unknown_or_other_users_video_is_404(stack: AwsStack, user: User) -> None:
    other = stack.user("basic")
    theirs = other.video()
    assert_error(user.call("GET", f"/api/v1/videos/{theirs}"), 404, "NOT_FOUND")
    assert_error(user.call("GET", "/api/v1/videos/no-such-video"), 404, "NOT_FOUND")
    assert_error(user.call("GET", "/api/v1/videos/bad%20id"), 400, "VALIDATION_ERROR")


def test_list_shows_uploading_ready_and_rejected_videos(stack: AwsStack, user: User) -> None:
    ready = user.video(title="Ready one")
    uploading = announce(user, 10)["id"]
    rejected = announce(user, 4096)
    put(rejected["upload"]["url"], mp4(1), "video/mp4")
    deliver_s3_event(stack, user.video_item(rejected["id"])["s3Key"])

    items = assert_ok(user.call("GET", "/api/v1/videos"))

    by_id = {item["id"]: item for item in items}
    assert by_id[ready]["status"] == "ready"
    assert by_id[uploading]["status"] == "uploading"
    assert by_id[rejected["id"]]["status"] == "rejected"
    assert "statusReason" in by_id[rejected["id"]]
    for item in items:
        assert {"id", "title", "description", "sizeBytes", "status"} <= set(item)
        assert "upload" not in item


# --- deleting -----------------------------------------------------------------------------------


def test_delete_removes_the_video_and_its_file(stack: AwsStack, user: User) -> None:
    data = announce(user, 4096)
    put(data["upload"]["url"], mp4(4096), "video/mp4")
    key = user.video_item(data["id"])["s3Key"]
    deliver_s3_event(stack, key)

    response = user.call("DELETE", f"/api/v1/videos/{data['id']}")

    assert assert_ok(response) == {"id": data["id"], "deleted": True}
    assert stack.raw_item(f"USER#{user.user_id}", f"VIDEO#{data['id']}") is None
    assert not object_exists(stack, key)
    assert_error(user.call("GET", f"/api/v1/videos/{data['id']}"), 404, "NOT_FOUND")


def test_delete_aborts_an_open_multipart_upload(
    stack: AwsStack, user: User, small_parts: None
) -> None:
    data = announce(user, 2 * PART)
    item = user.video_item(data["id"])
    assert_ok(user.call("DELETE", f"/api/v1/videos/{data['id']}"))
    uploads = boto3.client("s3").list_multipart_uploads(Bucket=stack.environment["VIDEO_BUCKET"])
    assert item["uploadId"] not in [u["UploadId"] for u in uploads.get("Uploads", [])]


def test_delete_refuses_while_a_pending_post_uses_the_video(stack: AwsStack, user: User) -> None:
    video = user.video()
    created = assert_ok(user.create(video, user.account()))

    with stack.unchanged():
        response = user.call("DELETE", f"/api/v1/videos/{video}")

    error = assert_error(response, 409, "CONFLICT")
    assert error["details"]["scheduleId"] == created["scheduleId"]
    # Once the post is cancelled, the video can go.
    assert_ok(user.put(created["scheduleId"], {"status": "cancelled"}))
    assert_ok(user.call("DELETE", f"/api/v1/videos/{video}"))


def test_delete_of_unknown_or_other_users_video_is_404(stack: AwsStack, user: User) -> None:
    theirs = stack.user("basic").video()
    with stack.unchanged():
        assert_error(user.call("DELETE", f"/api/v1/videos/{theirs}"), 404, "NOT_FOUND")
        assert_error(user.call("DELETE", "/api/v1/videos/nothing-here"), 404, "NOT_FOUND")


def test_a_file_arriving_for_a_deleted_video_is_removed(stack: AwsStack, user: User) -> None:
    data = announce(user, 4096)
    key = user.video_item(data["id"])["s3Key"]
    assert_ok(user.call("DELETE", f"/api/v1/videos/{data['id']}"))
    put(data["upload"]["url"], mp4(4096), "video/mp4")  # the URL outlives the video

    deliver_s3_event(stack, key)

    assert not object_exists(stack, key)


def test_objects_outside_the_layout_are_ignored(stack: AwsStack) -> None:
    bucket = stack.environment["VIDEO_BUCKET"]
    boto3.client("s3").put_object(Bucket=bucket, Key="videos/stray.mp4", Body=b"x")
    with stack.unchanged():
        result = stack.gateway.runner.invoke(
            "VideoUploadedFunction", s3_event(bucket, "videos/stray.mp4", 1)
        )
    assert result == {"settled": 0}
    assert object_exists(stack, "videos/stray.mp4")


def test_user_ids_with_slashes_and_spaces_round_trip(stack: AwsStack) -> None:
    user = stack.user("basic", user_id="auth0|team/a b")
    data = announce(user, 4096)
    put(data["upload"]["url"], mp4(4096), "video/mp4")
    deliver_s3_event(stack, user.video_item(data["id"])["s3Key"])
    assert video_of(user, data["id"])["status"] == "ready"
