"""Rules of the onboarding use cases that need no AWS: object keys, file signatures, upload
parts, the OAuth state and PKCE, account ids, request models."""

from __future__ import annotations

import base64
import hashlib

import pytest
from pydantic import ValidationError

from post_scheduler.domain.accounts import (
    STATE_PATTERN,
    account_id_for,
    pkce_challenge,
    state_hash,
)
from post_scheduler.domain.videos import (
    MIB,
    UploadRules,
    looks_like,
    object_key,
    parse_object_key,
)
from post_scheduler.models.api_keys import CreateApiKeyRequest
from post_scheduler.models.videos import MAX_VIDEO_BYTES, CompleteUploadRequest, CreateVideoRequest


@pytest.mark.parametrize(
    ("content_type", "extension"),
    [("video/mp4", ".mp4"), ("video/webm", ".webm"), ("video/quicktime", ".mov")],
)
def test_object_keys_round_trip(content_type: str, extension: str) -> None:
    for user_id in ("u-1", "auth0|abc", "team/a b"):
        key = object_key(user_id, "0f9e-aa", content_type)
        assert key == f"videos/{user_id}/0f9e-aa{extension}"
        assert parse_object_key(key) == (user_id, "0f9e-aa")


@pytest.mark.parametrize(
    "key",
    [
        "other/u/v.mp4",
        "videos/v.mp4",
        "videos//v.mp4",
        "videos/u/",
        "videos/u/-starts-with-dash.mp4",
    ],
)
def test_keys_outside_the_layout(key: str) -> None:
    assert parse_object_key(key) is None


def test_file_signatures() -> None:
    assert looks_like("video/mp4", b"\x00\x00\x00\x18ftypmp42")
    assert looks_like("video/quicktime", b"\x00\x00\x00\x14ftypqt  ")
    assert looks_like("video/quicktime", b"\x00\x00\x00\x08wide\x00\x00")
    assert looks_like("video/webm", b"\x1a\x45\xdf\xa3\x01\x00")
    assert not looks_like("video/mp4", b"\x1a\x45\xdf\xa3\x01\x00\x00\x00")
    assert not looks_like("video/webm", b"\x00\x00\x00\x18ftypmp42")
    assert not looks_like("video/mp4", b"GIF89a")
    assert not looks_like("video/mp4", b"")


def test_upload_rules() -> None:
    rules = UploadRules()
    assert not rules.multipart(100 * MIB)
    assert rules.multipart(100 * MIB + 1)
    sizes = rules.part_sizes(MAX_VIDEO_BYTES)
    assert sum(sizes) == MAX_VIDEO_BYTES
    assert len(sizes) == 64
    assert rules.part_sizes(150 * MIB) == [64 * MIB, 64 * MIB, 22 * MIB]
    assert rules.part_sizes(128 * MIB) == [64 * MIB, 64 * MIB]


@pytest.mark.parametrize(
    "arguments",
    [{"part_size_bytes": 4 * MIB}, {"url_seconds": 10}, {"url_seconds": 8 * 24 * 3600}],
)
def test_upload_rules_refuse_what_s3_would(arguments: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=r"."):
        UploadRules(**arguments)


def test_pkce_s256_matches_rfc_7636() -> None:
    # RFC 7636, appendix B.
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_state_is_kept_by_hash_and_checked_by_shape() -> None:
    state = base64.urlsafe_b64encode(bytes(32)).decode().rstrip("=")
    assert STATE_PATTERN.match(state)
    assert state_hash(state) == hashlib.sha256(state.encode()).hexdigest()
    assert not STATE_PATTERN.match(state + "A")
    assert not STATE_PATTERN.match(state[:-1] + "=")


def test_account_ids_are_per_user_and_tiktok_user() -> None:
    first = account_id_for("u-1", "open-1")
    assert first == account_id_for("u-1", "open-1")
    assert first != account_id_for("u-2", "open-1")
    assert first != account_id_for("u-1", "open-2")


def test_video_request_model() -> None:
    request = CreateVideoRequest.model_validate(
        {"title": "t", "sizeBytes": MAX_VIDEO_BYTES, "contentType": "video/webm"}
    )
    assert request.description == ""
    with pytest.raises(ValidationError):
        CreateVideoRequest.model_validate(
            {"title": "t", "sizeBytes": True, "contentType": "video/mp4"}
        )


def test_complete_request_model() -> None:
    assert CompleteUploadRequest.model_validate({}).parts is None
    parts = [{"partNumber": 1, "etag": '"abc"'}, {"partNumber": 2, "etag": "def"}]
    assert len(CompleteUploadRequest.model_validate({"parts": parts}).parts or []) == 2
    for bad in (
        {"parts": []},
        {"parts": [{"partNumber": 2, "etag": "a"}, {"partNumber": 1, "etag": "b"}]},
        {"parts": [{"partNumber": 1, "etag": "a"}, {"partNumber": 1, "etag": "a"}]},
        {"parts": [{"partNumber": 0, "etag": "a"}]},
        {"parts": [{"partNumber": 1, "etag": "<xml/>"}]},
    ):
        with pytest.raises(ValidationError):
            CompleteUploadRequest.model_validate(bad)


def test_api_key_names_are_trimmed() -> None:
    assert CreateApiKeyRequest.model_validate({"name": "  ops  "}).name == "ops"
