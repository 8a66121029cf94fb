"""The stand-in TikTok enforces TikTok's protocol: driven here with raw HTTP, no client code."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
import requests

from local.tiktok import TikTokStub

if TYPE_CHECKING:
    from tests.tiktok_fixtures import StubCreator

CREATOR_OPEN_ID = "creator-open-id-1"  # the open_id of the `tiktok_creator` fixture
REDIRECT_URI = "https://scheduler.example/oauth/tiktok/callback"

MIB = 1024 * 1024
TOKEN_PATH = "/v2/oauth/token/"
USER_INFO = "/v2/user/info/"
CREATOR_INFO = "/v2/post/publish/creator_info/query/"
INIT = "/v2/post/publish/video/init/"
STATUS = "/v2/post/publish/status/fetch/"
TIMEOUT = (2, 10)


@pytest.fixture(scope="module")
def video() -> bytes:
    """12 MiB of varied bytes, built once."""
    return bytes(range(256)) * (12 * MIB // 256)


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def post_json(
    http: requests.Session, stub: TikTokStub, path: str, token: str | None, body: Any = None
) -> requests.Response:
    headers = {"Content-Type": "application/json; charset=UTF-8"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body)
    return http.post(stub.base_url + path, data=data, headers=headers, timeout=TIMEOUT)


def token_request(
    http: requests.Session, stub: TikTokStub, **form: str | None
) -> requests.Response:
    fields = {"client_key": stub.client_key, "client_secret": stub.client_secret, **form}
    return http.post(
        stub.base_url + TOKEN_PATH,
        data={k: v for k, v in fields.items() if v is not None},
        timeout=TIMEOUT,
    )


def error_code(response: requests.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def init_body(
    video_size: int,
    chunk_size: int | None = None,
    count: int = 1,
    privacy_level: str | None = "PUBLIC_TO_EVERYONE",
    title: str = "a title #tag",
) -> dict[str, Any]:
    post_info: dict[str, Any] = {"title": title}
    if privacy_level is not None:
        post_info["privacy_level"] = privacy_level
    return {
        "post_info": post_info,
        "source_info": {
            "source": "FILE_UPLOAD",
            "video_size": video_size,
            "chunk_size": video_size if chunk_size is None else chunk_size,
            "total_chunk_count": count,
        },
    }


def start_upload(
    http: requests.Session,
    stub: TikTokStub,
    creator: StubCreator,
    size: int,
    chunk: int | None = None,
    count: int = 1,
    privacy_level: str = "PUBLIC_TO_EVERYONE",
) -> tuple[str, str]:
    response = post_json(
        http, stub, INIT, creator.access_token, init_body(size, chunk, count, privacy_level)
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    return data["publish_id"], data["upload_url"]


def put(
    http: requests.Session,
    url: str,
    body: bytes,
    first: int,
    total: int,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    all_headers = {
        "Content-Type": "video/mp4",
        "Content-Range": f"bytes {first}-{first + len(body) - 1}/{total}",
        **(headers or {}),
    }
    return http.put(url, data=body, headers=all_headers, timeout=TIMEOUT)


def fetch_status(
    http: requests.Session, stub: TikTokStub, token: str, publish_id: str
) -> requests.Response:
    return post_json(http, stub, STATUS, token, {"publish_id": publish_id})


# --- OAuth ------------------------------------------------------------------------------------


def test_code_exchange_grants_tokens_once(tiktok_stub: TikTokStub, http: requests.Session) -> None:
    tiktok_stub.add_creator(CREATOR_OPEN_ID, "creator.one", "Creator One")
    code = tiktok_stub.authorization_code(CREATOR_OPEN_ID, REDIRECT_URI)
    first = token_request(
        http, tiktok_stub, grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI
    )
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["open_id"] == CREATOR_OPEN_ID
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86400
    assert "video.publish" in body["scope"].split(",")
    again = token_request(
        http, tiktok_stub, grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI
    )
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert again.json()["log_id"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"redirect_uri": "https://elsewhere.example/cb"}, "invalid_grant"),
        ({"code": "not-a-code"}, "invalid_grant"),
        ({"client_secret": "wrong"}, "invalid_client"),
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
    ],
)
def test_code_exchange_refusals(
    tiktok_stub: TikTokStub, http: requests.Session, change: dict[str, str], expected: str
) -> None:
    tiktok_stub.add_creator(CREATOR_OPEN_ID, "creator.one", "Creator One")
    code = tiktok_stub.authorization_code(CREATOR_OPEN_ID, REDIRECT_URI)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    response = token_request(http, tiktok_stub, **{**form, **change})
    assert 400 <= response.status_code < 500
    assert response.json()["error"] == expected


def test_code_expires_after_ten_minutes(tiktok_stub: TikTokStub, http: requests.Session) -> None:
    tiktok_stub.add_creator(CREATOR_OPEN_ID, "creator.one", "Creator One")
    code = tiktok_stub.authorization_code(CREATOR_OPEN_ID, REDIRECT_URI)
    tiktok_stub.advance(601)
    response = token_request(
        http, tiktok_stub, grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI
    )
    assert response.json()["error"] == "invalid_grant"


def test_pkce_code_needs_its_verifier(tiktok_stub: TikTokStub, http: requests.Session) -> None:
    tiktok_stub.add_creator(CREATOR_OPEN_ID, "creator.one", "Creator One")
    form = {"grant_type": "authorization_code", "redirect_uri": REDIRECT_URI}
    code = tiktok_stub.authorization_code(CREATOR_OPEN_ID, REDIRECT_URI, code_verifier="v" * 43)
    missing = token_request(http, tiktok_stub, code=code, **form)
    assert missing.json()["error"] == "invalid_grant"
    code = tiktok_stub.authorization_code(CREATOR_OPEN_ID, REDIRECT_URI, code_verifier="v" * 43)
    ok = token_request(http, tiktok_stub, code=code, code_verifier="v" * 43, **form)
    assert ok.status_code == 200, ok.text


def _authorize(http: requests.Session, stub: TikTokStub, **query: str) -> requests.Response:
    params = {
        "client_key": stub.client_key,
        "response_type": "code",
        "scope": "user.info.basic,video.publish",
        "redirect_uri": REDIRECT_URI,
        "state": "the-state",
        **query,
    }
    return http.get(
        stub.base_url + "/v2/auth/authorize/", params=params, allow_redirects=False, timeout=TIMEOUT
    )


def test_authorize_page_approves_and_redirects_with_a_code(
    tiktok_stub: TikTokStub, http: requests.Session
) -> None:
    page = _authorize(http, tiktok_stub, open_id="browser-user")
    assert page.status_code == 302
    back = urlsplit(page.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == REDIRECT_URI
    query = dict(part.split("=", 1) for part in back.query.split("&"))
    assert query["state"] == "the-state"
    grant = token_request(
        http,
        tiktok_stub,
        grant_type="authorization_code",
        code=query["code"],
        redirect_uri=REDIRECT_URI,
    )
    assert grant.status_code == 200, grant.text
    assert grant.json()["open_id"] == "browser-user"  # created on first use


def test_authorize_page_with_pkce_checks_the_verifier_against_the_challenge(
    tiktok_stub: TikTokStub, http: requests.Session
) -> None:
    verifier = "v" * 43
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode()
    challenge = challenge.rstrip("=")
    form = {"grant_type": "authorization_code", "redirect_uri": REDIRECT_URI}
    for sent, expected in ((None, 400), ("w" * 43, 400), (verifier, 200)):
        page = _authorize(http, tiktok_stub, code_challenge=challenge, code_challenge_method="S256")
        code = urlsplit(page.headers["Location"]).query.split("code=")[1].split("&")[0]
        extra = {} if sent is None else {"code_verifier": sent}
        assert token_request(http, tiktok_stub, code=code, **form, **extra).status_code == expected


@pytest.mark.parametrize(
    "change",
    [
        {"client_key": "someone-else"},
        {"response_type": "token"},
        {"redirect_uri": ""},
        {"code_challenge": "abc", "code_challenge_method": "plain"},
    ],
)
def test_authorize_page_refusals(
    tiktok_stub: TikTokStub, http: requests.Session, change: dict[str, str]
) -> None:
    page = _authorize(http, tiktok_stub, **change)
    assert page.status_code == 400
    assert "Location" not in page.headers


def test_token_endpoint_wants_a_form(tiktok_stub: TikTokStub, http: requests.Session) -> None:
    response = http.post(
        tiktok_stub.base_url + TOKEN_PATH,
        json={"client_key": tiktok_stub.client_key, "grant_type": "refresh_token"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_refresh_rotates_the_refresh_token(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    tiktok_stub.advance(100)
    rotated = token_request(
        http, tiktok_stub, grant_type="refresh_token", refresh_token=tiktok_creator.refresh_token
    )
    assert rotated.status_code == 200, rotated.text
    grant = rotated.json()
    assert grant["refresh_token"] != tiktok_creator.refresh_token
    assert grant["access_token"] != tiktok_creator.access_token
    # The chain keeps its original end: the new refresh token lives 100 s less.
    assert 31536000 - 101 <= grant["refresh_expires_in"] <= 31536000 - 100
    old = token_request(
        http, tiktok_stub, grant_type="refresh_token", refresh_token=tiktok_creator.refresh_token
    )
    assert old.status_code == 400
    assert old.json()["error"] == "invalid_grant"
    newer = token_request(
        http, tiktok_stub, grant_type="refresh_token", refresh_token=grant["refresh_token"]
    )
    assert newer.status_code == 200
    # A refresh does not revoke access tokens issued before it.
    assert post_json(http, tiktok_stub, CREATOR_INFO, grant["access_token"]).status_code == 200


def test_expired_refresh_token_is_refused(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    tiktok_stub.expire_refresh_token(tiktok_creator.refresh_token)
    response = token_request(
        http, tiktok_stub, grant_type="refresh_token", refresh_token=tiktok_creator.refresh_token
    )
    assert response.json()["error"] == "invalid_grant"


# --- Bearer tokens and scopes -----------------------------------------------------------------


@pytest.mark.parametrize("path", [CREATOR_INFO, INIT, STATUS])
def test_missing_or_unknown_token_is_401(
    tiktok_stub: TikTokStub, http: requests.Session, path: str
) -> None:
    for token in (None, "act.unknown"):
        response = post_json(http, tiktok_stub, path, token, {})
        assert response.status_code == 401
        assert error_code(response) == "access_token_invalid"
        assert response.json()["error"]["log_id"]


def test_expired_access_token_is_401(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    assert post_json(http, tiktok_stub, CREATOR_INFO, tiktok_creator.access_token).ok
    tiktok_stub.advance(86401)
    response = post_json(http, tiktok_stub, CREATOR_INFO, tiktok_creator.access_token)
    assert response.status_code == 401
    assert error_code(response) == "access_token_invalid"


def test_expire_access_token_helper(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    tiktok_stub.expire_access_token(tiktok_creator.access_token)
    response = post_json(http, tiktok_stub, CREATOR_INFO, tiktok_creator.access_token)
    assert error_code(response) == "access_token_invalid"


def test_posting_needs_the_video_publish_scope(
    tiktok_stub: TikTokStub, http: requests.Session
) -> None:
    tiktok_stub.add_creator(CREATOR_OPEN_ID, "creator.one", "Creator One")
    token = tiktok_stub.issue_tokens(CREATOR_OPEN_ID, scope="user.info.basic")["access_token"]
    for path, body in ((CREATOR_INFO, None), (INIT, init_body(1000))):
        response = post_json(http, tiktok_stub, path, token, body)
        assert response.status_code == 401
        assert error_code(response) == "scope_not_authorized"


def test_user_info_fields_follow_scopes(tiktok_stub: TikTokStub, http: requests.Session) -> None:
    tiktok_stub.add_creator(CREATOR_OPEN_ID, "creator.one", "Creator One")
    basic = tiktok_stub.issue_tokens(CREATOR_OPEN_ID, scope="user.info.basic")["access_token"]
    url = tiktok_stub.base_url + USER_INFO

    def get(token: str, fields: str) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return http.get(url, params={"fields": fields}, headers=headers, timeout=TIMEOUT)

    ok = get(basic, "open_id,union_id,avatar_url,display_name,not_a_field")
    assert ok.status_code == 200
    assert ok.json()["data"]["user"] == {
        "open_id": CREATOR_OPEN_ID,
        "union_id": f"union-{CREATOR_OPEN_ID}",
        "avatar_url": ok.json()["data"]["user"]["avatar_url"],
        "display_name": "Creator One",
    }
    # username needs user.info.profile since TikTok's 2024 scope migration.
    refused = get(basic, "open_id,username")
    assert refused.status_code == 401
    assert error_code(refused) == "scope_not_authorized"
    full = tiktok_stub.issue_tokens(CREATOR_OPEN_ID)["access_token"]
    assert get(full, "open_id,username").json()["data"]["user"]["username"] == "creator.one"


# --- creator info and init --------------------------------------------------------------------


def test_creator_info(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    response = post_json(http, tiktok_stub, CREATOR_INFO, tiktok_creator.access_token)
    assert response.status_code == 200
    assert response.json()["error"]["code"] == "ok"
    data = response.json()["data"]
    assert data["creator_username"] == "creator.one"
    assert data["creator_nickname"] == "Creator One"
    assert data["privacy_level_options"] == [
        "PUBLIC_TO_EVERYONE",
        "MUTUAL_FOLLOW_FRIENDS",
        "SELF_ONLY",
    ]
    assert data["max_video_post_duration_sec"] == 600
    assert data["comment_disabled"] is data["duet_disabled"] is data["stitch_disabled"] is False


def test_private_account_options(tiktok_stub: TikTokStub, http: requests.Session) -> None:
    tiktok_stub.add_creator("private-1", "quiet", "Quiet", private_account=True)
    token = tiktok_stub.issue_tokens("private-1")["access_token"]
    data = post_json(http, tiktok_stub, CREATOR_INFO, token).json()["data"]
    assert "PUBLIC_TO_EVERYONE" not in data["privacy_level_options"]
    assert data["duet_disabled"]
    assert data["stitch_disabled"]
    public = post_json(http, tiktok_stub, INIT, token, init_body(1000))
    assert public.status_code == 403
    assert error_code(public) == "privacy_level_option_mismatch"


@pytest.mark.parametrize("privacy_level", [None, "FOLLOWER_OF_CREATOR", "EVERYONE"])
def test_init_requires_a_privacy_level_from_the_creators_options(
    tiktok_stub: TikTokStub,
    http: requests.Session,
    tiktok_creator: StubCreator,
    privacy_level: str | None,
) -> None:
    body = init_body(1000, privacy_level=privacy_level)
    response = post_json(http, tiktok_stub, INIT, tiktok_creator.access_token, body)
    assert response.status_code == 403
    assert error_code(response) == "privacy_level_option_mismatch"


def test_title_limit_counts_utf16_units(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    # Each emoji is one code point but two UTF-16 units.
    at_limit = "\U0001f600" * 1100
    ok = post_json(
        http, tiktok_stub, INIT, tiktok_creator.access_token, init_body(1000, title=at_limit)
    )
    assert ok.status_code == 200, ok.text
    over = post_json(
        http, tiktok_stub, INIT, tiktok_creator.access_token, init_body(1000, title=at_limit + "a")
    )
    assert over.status_code == 400
    assert error_code(over) == "invalid_param"


@pytest.mark.parametrize(
    ("video_size", "chunk_size", "count"),
    [
        (50_000_123, 10_000_000, 5),  # the reference's example
        (4_000_000, 4_000_000, 1),
        (64_000_000, 64_000_000, 1),
        (12 * MIB, 5 * MIB, 2),
        (12 * MIB, 5_242_880, 2),
    ],
)
def test_init_accepts_valid_chunking(
    tiktok_stub: TikTokStub,
    http: requests.Session,
    tiktok_creator: StubCreator,
    video_size: int,
    chunk_size: int,
    count: int,
) -> None:
    body = init_body(video_size, chunk_size, count)
    response = post_json(http, tiktok_stub, INIT, tiktok_creator.access_token, body)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["publish_id"].startswith("v_pub_file~")
    assert data["upload_url"].startswith(tiktok_stub.base_url + "/")


@pytest.mark.parametrize(
    ("video_size", "chunk_size", "count"),
    [
        (50_000_123, 10_000_000, 6),  # ceil instead of floor
        (4_000_000, 1_000_000, 4),  # a small file goes whole
        (4_000_000, 4_000_001, 1),
        (20 * MIB, 4 * MIB, 5),  # chunk under 5 MiB
        (200_000_000, 65_000_000, 3),  # chunk over 64,000,000 B
        (70_000_000, 70_000_000, 1),  # one chunk over 64 MB
        (15 * MIB, 10 * MIB, 1),  # a one-chunk plan must declare the file size
        (4 * 1024**3 + 1, 64_000_000, 67),  # over 4 GB
        (0, 0, 0),
    ],
)
def test_init_rejects_chunking_that_breaks_the_rules(
    tiktok_stub: TikTokStub,
    http: requests.Session,
    tiktok_creator: StubCreator,
    video_size: int,
    chunk_size: int,
    count: int,
) -> None:
    body = init_body(video_size, chunk_size, count)
    response = post_json(http, tiktok_stub, INIT, tiktok_creator.access_token, body)
    assert response.status_code == 400
    assert error_code(response) == "invalid_param"


@pytest.mark.parametrize(
    ("source_info", "status", "code"),
    [
        ({"source": "FILE_UPLOAD", "video_size": True, "chunk_size": 1, "total_chunk_count": 1},
         400, "invalid_param"),
        ({"source": "FILE_UPLOAD", "video_size": "1000"}, 400, "invalid_param"),
        ({"source": "SOMETHING"}, 400, "invalid_param"),
        ({"source": "PULL_FROM_URL", "video_url": "https://x.example/v.mp4"},
         403, "url_ownership_unverified"),
    ],
)  # fmt: skip
def test_init_checks_source_info(
    tiktok_stub: TikTokStub,
    http: requests.Session,
    tiktok_creator: StubCreator,
    source_info: dict[str, Any],
    status: int,
    code: str,
) -> None:
    body = {"post_info": {"privacy_level": "SELF_ONLY"}, "source_info": source_info}
    response = post_json(http, tiktok_stub, INIT, tiktok_creator.access_token, body)
    assert response.status_code == status
    assert error_code(response) == code


def test_init_rejects_a_non_boolean_flag(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    body = init_body(1000)
    body["post_info"]["disable_comment"] = "yes"
    response = post_json(http, tiktok_stub, INIT, tiktok_creator.access_token, body)
    assert response.status_code == 400


# --- upload -----------------------------------------------------------------------------------


def test_single_chunk_upload_then_status(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    body = b"\x00\x01" * 500
    publish_id, url = start_upload(http, tiktok_stub, tiktok_creator, len(body))
    processing = fetch_status(http, tiktok_stub, tiktok_creator.access_token, publish_id)
    assert processing.json()["data"]["status"] == "PROCESSING_UPLOAD"
    assert processing.json()["data"]["uploaded_bytes"] == 0
    response = put(http, url, body, 0, len(body))
    assert response.status_code == 201
    assert response.headers["Content-Range"] == "bytes 0-999/1000"
    status = fetch_status(http, tiktok_stub, tiktok_creator.access_token, publish_id)
    data = status.json()["data"]
    assert data["status"] == "PUBLISH_COMPLETE"
    assert data["uploaded_bytes"] == 1000
    # Post ids are JSON numbers beyond 2**53, as TikTok sends them.
    (post_id,) = json.loads(status.text, parse_int=str)["data"]["publicaly_available_post_id"]
    assert len(post_id) == 19
    assert int(post_id) > 2**53
    (post,) = tiktok_stub.posts()
    assert post["sha256"] == hashlib.sha256(body).hexdigest()
    assert post["complete"] is True


def test_multi_chunk_upload_in_order(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator, video: bytes
) -> None:
    size = len(video)
    _, url = start_upload(http, tiktok_stub, tiktok_creator, size, 5 * MIB, 2)
    first = put(http, url, video[: 5 * MIB], 0, size)
    assert first.status_code == 206
    assert first.headers["Content-Range"] == f"bytes 0-{5 * MIB - 1}/{size}"
    last = put(http, url, video[5 * MIB :], 5 * MIB, size)
    assert last.status_code == 201
    assert last.headers["Content-Range"] == f"bytes 0-{size - 1}/{size}"
    (post,) = tiktok_stub.posts()
    assert post["sha256"] == hashlib.sha256(video).hexdigest()
    assert post["chunk_count_received"] == 2


def test_out_of_order_chunk_is_416_with_progress(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator, video: bytes
) -> None:
    size = len(video)
    _, url = start_upload(http, tiktok_stub, tiktok_creator, size, 5 * MIB, 2)
    skipped = put(http, url, video[5 * MIB :], 5 * MIB, size)
    assert skipped.status_code == 416
    assert skipped.headers["Content-Range"] == f"bytes */{size}"
    assert put(http, url, video[: 5 * MIB], 0, size).status_code == 206
    repeated = put(http, url, video[: 5 * MIB], 0, size)
    assert repeated.status_code == 416
    assert repeated.headers["Content-Range"] == f"bytes 0-{5 * MIB - 1}/{size}"
    # The refused bodies were read off the connection: the session still works.
    assert put(http, url, video[5 * MIB :], 5 * MIB, size).status_code == 201


def test_chunk_of_the_wrong_size_is_400(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator, video: bytes
) -> None:
    size = len(video)
    _, url = start_upload(http, tiktok_stub, tiktok_creator, size, 5 * MIB, 2)
    response = put(http, url, video[: 6 * MIB], 0, size)
    assert response.status_code == 400
    assert tiktok_stub.posts()[0]["bytes_received"] == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/octet-stream"},
        {"Content-Range": "bytes 0-999/2000"},  # total differs from video_size
        {"Content-Range": "0-999/1000"},
        {"Content-Range": "bytes 0-499/1000"},  # range differs from Content-Length
    ],
)
def test_bad_upload_headers_are_400(
    tiktok_stub: TikTokStub,
    http: requests.Session,
    tiktok_creator: StubCreator,
    headers: dict[str, str],
) -> None:
    body = b"x" * 1000
    _, url = start_upload(http, tiktok_stub, tiktok_creator, len(body))
    response = put(http, url, body, 0, len(body), headers)
    assert response.status_code == 400
    assert tiktok_stub.posts()[0]["bytes_received"] == 0


def test_chunked_transfer_encoding_is_400(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    _, url = start_upload(http, tiktok_stub, tiktok_creator, 1000)
    headers = {"Content-Type": "video/mp4", "Content-Range": "bytes 0-999/1000"}
    response = http.put(url, data=iter([b"x" * 1000]), headers=headers, timeout=TIMEOUT)
    assert response.status_code == 400


def test_body_shorter_than_content_length_is_400(
    tiktok_stub: TikTokStub, tiktok_creator: StubCreator
) -> None:
    with requests.Session() as http:
        _, url = start_upload(http, tiktok_stub, tiktok_creator, 1000)
    parts = urlsplit(url)
    request = (
        f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Content-Type: video/mp4\r\nContent-Range: bytes 0-999/1000\r\n"
        "Content-Length: 1000\r\n\r\n"
    ).encode() + b"x" * 600
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        reply = sock.makefile("rb").read()
    assert reply.startswith(b"HTTP/1.1 400")
    assert tiktok_stub.posts()[0]["bytes_received"] == 0


def test_unknown_upload_is_404(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    _, url = start_upload(http, tiktok_stub, tiktok_creator, 1000)
    forged = url.replace("upload_token=", "upload_token=x")
    assert put(http, forged, b"x" * 1000, 0, 1000).status_code == 404
    unknown = f"{tiktok_stub.base_url}/video/?upload_id=nope&upload_token=nope"
    assert put(http, unknown, b"x" * 1000, 0, 1000).status_code == 404


def test_upload_url_expires_after_an_hour(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    _, url = start_upload(http, tiktok_stub, tiktok_creator, 1000)
    tiktok_stub.advance(3599)
    _, fresh_url = start_upload(http, tiktok_stub, tiktok_creator, 1000)
    tiktok_stub.advance(1)
    assert put(http, url, b"x" * 1000, 0, 1000).status_code == 403
    assert put(http, fresh_url, b"x" * 1000, 0, 1000).status_code == 201


def test_authorization_header_on_put_is_accepted_and_recorded(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    _, url = start_upload(http, tiktok_stub, tiktok_creator, 1000)
    auth = {"Authorization": f"Bearer {tiktok_creator.access_token}"}
    assert put(http, url, b"x" * 1000, 0, 1000, auth).status_code == 201
    assert tiktok_stub.posts()[0]["authorization_header_on_put"] is True


# --- status -----------------------------------------------------------------------------------


def test_status_stays_processing_for_configured_fetches(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    tiktok_stub.set_processing_fetches(2)
    publish_id, url = start_upload(
        http, tiktok_stub, tiktok_creator, 1000, privacy_level="SELF_ONLY"
    )
    put(http, url, b"x" * 1000, 0, 1000)
    statuses = [
        fetch_status(http, tiktok_stub, tiktok_creator.access_token, publish_id).json()["data"]
        for _ in range(3)
    ]
    assert [s["status"] for s in statuses] == [
        "PROCESSING_UPLOAD",
        "PROCESSING_UPLOAD",
        "PUBLISH_COMPLETE",
    ]
    # A SELF_ONLY post never becomes publicly available.
    assert statuses[-1]["publicaly_available_post_id"] == []


def test_status_of_another_creators_publish_is_refused(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    publish_id, _ = start_upload(http, tiktok_stub, tiktok_creator, 1000)
    tiktok_stub.add_creator("someone-else", "other", "Other")
    other = tiktok_stub.issue_tokens("someone-else")["access_token"]
    response = fetch_status(http, tiktok_stub, other, publish_id)
    assert response.status_code == 400
    assert error_code(response) == "token_not_authorized_for_specified_publish_id"
    unknown = fetch_status(http, tiktok_stub, tiktok_creator.access_token, "v_pub_file~nope")
    assert unknown.status_code == 400
    assert error_code(unknown) == "invalid_publish_id"


def test_status_fetch_accepts_the_video_upload_scope_alone(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    publish_id, _ = start_upload(http, tiktok_stub, tiktok_creator, 1000)
    upload_only = tiktok_stub.issue_tokens(CREATOR_OPEN_ID, scope="video.upload")["access_token"]
    assert fetch_status(http, tiktok_stub, upload_only, publish_id).status_code == 200


# --- faults -----------------------------------------------------------------------------------


def test_fail_next_then_recover(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    tiktok_stub.fail_next("video_init", 500, "internal_error", times=2)
    for _ in range(2):
        failed = post_json(http, tiktok_stub, INIT, tiktok_creator.access_token, init_body(1000))
        assert failed.status_code == 500
        assert error_code(failed) == "internal_error"
    ok = post_json(http, tiktok_stub, INIT, tiktok_creator.access_token, init_body(1000))
    assert ok.status_code == 200
    assert len(tiktok_stub.posts()) == 1


def test_spam_risk_comes_with_http_200(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    tiktok_stub.fail_next("creator_info", 200, "spam_risk_too_many_posts")
    response = post_json(http, tiktok_stub, CREATOR_INFO, tiktok_creator.access_token)
    assert response.status_code == 200
    assert error_code(response) == "spam_risk_too_many_posts"


def test_oauth_faults_use_the_oauth_error_shape(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    tiktok_stub.fail_next("oauth_token", 503, "temporarily_unavailable")
    response = token_request(
        http, tiktok_stub, grant_type="refresh_token", refresh_token=tiktok_creator.refresh_token
    )
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert "error_description" in response.json()


def test_fail_chunk_once(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator, video: bytes
) -> None:
    size = len(video)
    _, url = start_upload(http, tiktok_stub, tiktok_creator, size, 5 * MIB, 2)
    tiktok_stub.fail_chunk(1, 500)
    assert put(http, url, video[: 5 * MIB], 0, size).status_code == 206
    failed = put(http, url, video[5 * MIB :], 5 * MIB, size)
    assert failed.status_code == 500
    assert failed.headers["Content-Range"] == f"bytes 0-{5 * MIB - 1}/{size}"
    assert put(http, url, video[5 * MIB :], 5 * MIB, size).status_code == 201


def test_dropped_connection(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    tiktok_stub.drop_next("creator_info")
    with pytest.raises(requests.ConnectionError):
        post_json(http, tiktok_stub, CREATOR_INFO, tiktok_creator.access_token)
    assert post_json(http, tiktok_stub, CREATOR_INFO, tiktok_creator.access_token).ok
    dropped = [r for r in tiktok_stub.requests() if r["dropped"]]
    assert dropped == [dropped[0]]
    assert dropped[0]["status"] is None


def test_dropped_reply_after_processing(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    # The ambiguous case: TikTok created the post but the reply never arrived.
    tiktok_stub.drop_next("video_init", after_processing=True)
    with pytest.raises(requests.ConnectionError):
        post_json(http, tiktok_stub, INIT, tiktok_creator.access_token, init_body(1000))
    assert len(tiktok_stub.posts()) == 1


def test_dropped_chunk_after_processing_keeps_the_bytes(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator, video: bytes
) -> None:
    size = len(video)
    _, url = start_upload(http, tiktok_stub, tiktok_creator, size, 5 * MIB, 2)
    tiktok_stub.drop_chunk(0, after_processing=True)
    with pytest.raises(requests.ConnectionError):
        put(http, url, video[: 5 * MIB], 0, size)
    assert tiktok_stub.posts()[0]["bytes_received"] == 5 * MIB
    # Resending the same chunk tells the client how far TikTok got.
    resent = put(http, url, video[: 5 * MIB], 0, size)
    assert resent.status_code == 416
    assert resent.headers["Content-Range"] == f"bytes 0-{5 * MIB - 1}/{size}"


def test_dropped_chunk_before_processing_keeps_nothing(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    _, url = start_upload(http, tiktok_stub, tiktok_creator, 1000)
    tiktok_stub.drop_chunk(0)
    with pytest.raises(requests.ConnectionError):
        put(http, url, b"x" * 1000, 0, 1000)
    assert tiktok_stub.posts()[0]["bytes_received"] == 0
    assert put(http, url, b"x" * 1000, 0, 1000).status_code == 201


def test_fail_publish_ends_failed(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    tiktok_stub.fail_publish(fail_reason="frame_rate_check_failed")
    publish_id, url = start_upload(http, tiktok_stub, tiktok_creator, 1000)
    put(http, url, b"x" * 1000, 0, 1000)
    response = fetch_status(http, tiktok_stub, tiktok_creator.access_token, publish_id)
    assert response.status_code == 200
    assert error_code(response) == "ok"
    assert response.json()["data"]["status"] == "FAILED"
    assert response.json()["data"]["fail_reason"] == "frame_rate_check_failed"


def test_faults_over_http(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    faults = tiktok_stub.base_url + "/_faults"
    set_fault: dict[str, Any] = {"action": "fail_next", "endpoint": "creator_info", "status": 429}
    assert http.post(faults, json=set_fault, timeout=TIMEOUT).status_code == 200
    assert http.get(faults, timeout=TIMEOUT).json()[0]["code"] == "rate_limit_exceeded"
    limited = post_json(http, tiktok_stub, CREATOR_INFO, tiktok_creator.access_token)
    assert limited.status_code == 429
    assert error_code(limited) == "rate_limit_exceeded"
    http.post(faults, json={**set_fault, "times": 5}, timeout=TIMEOUT)
    assert http.delete(faults, timeout=TIMEOUT).status_code == 200
    assert post_json(http, tiktok_stub, CREATOR_INFO, tiktok_creator.access_token).ok
    bad = http.post(faults, json={"action": "reset"}, timeout=TIMEOUT)
    assert bad.status_code == 400
    unknown = http.post(faults, json={"action": "fail_next", "endpoint": "x"}, timeout=TIMEOUT)
    assert unknown.status_code == 400


def test_control_over_http(tiktok_stub: TikTokStub, http: requests.Session) -> None:
    control = tiktok_stub.base_url + "/_control"
    creator = {"action": "add_creator", "open_id": "o1", "username": "u", "display_name": "U"}
    assert http.post(control, json=creator, timeout=TIMEOUT).status_code == 200
    issued = http.post(control, json={"action": "issue_tokens", "open_id": "o1"}, timeout=TIMEOUT)
    token = issued.json()["result"]["access_token"]
    assert post_json(http, tiktok_stub, CREATOR_INFO, token).ok


def test_delay_next(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    tiktok_stub.delay_next("creator_info", 0.5)
    with pytest.raises(requests.Timeout):
        http.post(
            tiktok_stub.base_url + CREATOR_INFO,
            headers={"Authorization": f"Bearer {tiktok_creator.access_token}"},
            timeout=(2, 0.1),
        )


def test_rate_limits_when_enabled(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    tiktok_stub.set_rate_limits(True)
    for _ in range(6):
        ok = post_json(http, tiktok_stub, INIT, tiktok_creator.access_token, init_body(1000))
        assert ok.status_code == 200
    limited = post_json(http, tiktok_stub, INIT, tiktok_creator.access_token, init_body(1000))
    assert limited.status_code == 429
    assert error_code(limited) == "rate_limit_exceeded"
    tiktok_stub.advance(60)
    assert post_json(http, tiktok_stub, INIT, tiktok_creator.access_token, init_body(1000)).ok


# --- inspection and routing -------------------------------------------------------------------


def test_inspect_posts_and_requests(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    publish_id, url = start_upload(http, tiktok_stub, tiktok_creator, 1000)
    put(http, url, b"y" * 1000, 0, 1000)
    (post,) = http.get(tiktok_stub.base_url + "/_inspect/posts", timeout=TIMEOUT).json()
    assert post["publish_id"] == publish_id
    assert post["title"] == "a title #tag"
    assert post["bytes_received"] == 1000
    assert post["complete"] is True
    assert post["open_id"] == CREATOR_OPEN_ID
    assert post["privacy_level"] == "PUBLIC_TO_EVERYONE"
    assert (post["video_size"], post["chunk_size"], post["total_chunk_count"]) == (1000, 1000, 1)
    assert post["sha256"] == hashlib.sha256(b"y" * 1000).hexdigest()
    assert post["status"] == "PROCESSING_UPLOAD"
    assert post["created_at"].endswith("+00:00")
    log = http.get(tiktok_stub.base_url + "/_inspect/requests", timeout=TIMEOUT)
    assert [(r["method"], r["path"], r["status"]) for r in log.json()][:2] == [
        ("POST", INIT, 200),
        ("PUT", "/video/", 201),
    ]
    upload_token = urlsplit(url).query
    assert tiktok_creator.access_token not in log.text
    assert upload_token not in log.text


def test_unknown_routes(tiktok_stub: TikTokStub, http: requests.Session) -> None:
    assert http.get(tiktok_stub.base_url + "/nope", timeout=TIMEOUT).status_code == 404
    assert http.get(tiktok_stub.base_url + INIT, timeout=TIMEOUT).status_code == 405


def test_reset_forgets_everything(
    tiktok_stub: TikTokStub, http: requests.Session, tiktok_creator: StubCreator
) -> None:
    start_upload(http, tiktok_stub, tiktok_creator, 1000)
    tiktok_stub.fail_next("creator_info")
    tiktok_stub.reset()
    assert tiktok_stub.posts() == []
    assert tiktok_stub.faults() == []
    response = post_json(http, tiktok_stub, CREATOR_INFO, tiktok_creator.access_token)
    assert error_code(response) == "access_token_invalid"
