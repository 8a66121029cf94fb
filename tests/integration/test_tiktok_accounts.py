"""Connecting TikTok accounts (OAuth against the stand-in TikTok over real sockets) and deleting
them (their pending posts cancelled, counts exact, schedules removed), through the local API
Gateway against the template's resources in moto."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
import pytest
from moto import mock_aws

from local.tiktok import TikTokStub
from post_scheduler import wiring
from post_scheduler.adapters.tiktok_client import TikTokClient
from post_scheduler.domain.accounts import account_id_for
from tests.conftest import MOTO_CONFIG
from tests.support import API_TIME, AwsStack, User, assert_error, assert_ok, future

OPEN_ID = "creator-open-id-7"
CALLBACK = "https://scheduler.example/api/v1/tiktok-accounts/callback"
CLIENT_PARAMETER = "/post-scheduler/tiktok-client"
BASIC_SCOPES = "user.info.basic,video.publish,video.upload"


def make_stack(monkeypatch: pytest.MonkeyPatch, stub: TikTokStub, **parameters: str) -> AwsStack:
    stack = AwsStack.create(monkeypatch, TikTokApiBaseUrl=stub.base_url, **parameters)
    boto3.client("ssm").put_parameter(
        Name=CLIENT_PARAMETER,
        Type="SecureString",
        Value=json.dumps({"clientKey": stub.client_key, "clientSecret": stub.client_secret}),
    )
    return stack


@pytest.fixture
def oauth(monkeypatch: pytest.MonkeyPatch, tiktok_stub: TikTokStub) -> Iterator[AwsStack]:
    """The stack with its TikTok pointed at the stand-in and a registered callback URL."""
    tiktok_stub.add_creator(OPEN_ID, "creator.seven", "Creator Seven")
    with mock_aws(config=MOTO_CONFIG):
        yield make_stack(monkeypatch, tiktok_stub, TikTokRedirectUri=CALLBACK)
    wiring.reset()


@pytest.fixture
def user(oauth: AwsStack) -> User:
    return oauth.user("basic")


def start(user: User) -> dict[str, Any]:
    data: dict[str, Any] = assert_ok(user.call("GET", "/api/v1/tiktok-accounts/connect"))
    return data


def url_query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def approve(stub: TikTokStub, begun: dict[str, Any], scope: str | None = None, **extra: Any) -> str:
    """What TikTok's authorize page does when the user approves: a code for the redirect."""
    query = url_query(begun["authorizationUrl"])
    kwargs: dict[str, Any] = {"scope": scope} if scope else {}
    return stub.authorization_code(OPEN_ID, query["redirect_uri"], **kwargs, **extra)


def callback(stack: AwsStack, **params: str) -> Any:
    """The browser, redirected back by TikTok (no API credentials)."""
    return stack.call("GET", "/api/v1/tiktok-accounts/callback", query=urlencode(params))


def complete(user: User, **body: str) -> Any:
    """The user's own browser (the hand-off page) completing the flow with the user's key."""
    return user.call("POST", "/api/v1/tiktok-accounts/connect/complete", body)


def state_item(stack: AwsStack, state: str) -> dict[str, Any] | None:
    return stack.raw_item(f"OAUTH#{hashlib.sha256(state.encode()).hexdigest()}", "STATE")


def connect(stack: AwsStack, stub: TikTokStub, user: User, **approval: Any) -> dict[str, Any]:
    begun = start(user)
    code = approve(stub, begun, **approval)
    data: dict[str, Any] = assert_ok(complete(user, code=code, state=begun["state"]))
    return data


# --- connect: the authorization URL ---------------------------------------------------------------


def test_connect_answers_tiktoks_authorization_url(oauth: AwsStack, user: User) -> None:
    before = datetime.now(UTC).timestamp()
    data = start(user)

    assert set(data) == {"authorizationUrl", "state", "redirectUri", "expiresAt"}
    url = urlsplit(data["authorizationUrl"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://www.tiktok.com/v2/auth/authorize/"
    assert url_query(data["authorizationUrl"]) == {
        "client_key": "stub-client-key",
        "scope": "user.info.basic,video.publish,video.upload",
        "response_type": "code",
        "redirect_uri": CALLBACK,
        "state": data["state"],
    }
    assert "scope=user.info.basic,video.publish,video.upload&" in data["authorizationUrl"]
    assert data["redirectUri"] == CALLBACK
    assert API_TIME.match(data["expiresAt"])
    # The table keeps the state's hash (never the state) for ten minutes, under its TTL.
    item = state_item(oauth, data["state"])
    assert item is not None
    assert item["userId"] == user.user_id
    assert before + 590 <= item["expiresAt"] <= before + 610
    assert data["state"] not in json.dumps(oauth.items(), default=str)


def test_each_connect_gets_a_new_state(oauth: AwsStack, user: User) -> None:
    assert start(user)["state"] != start(user)["state"]


def test_connect_needs_credentials(oauth: AwsStack) -> None:
    response = oauth.call("GET", "/api/v1/tiktok-accounts/connect")
    assert_error(response, 401, "UNAUTHORIZED")  # no Authorization header at all
    bad = oauth.call("GET", "/api/v1/tiktok-accounts/connect", token="psk_unknown-key-00000")
    assert_error(bad, 401, "UNAUTHORIZED")


FORGED_HEADERS = {
    "host": "evil.example",
    "x-forwarded-proto": "http",
    "x-forwarded-host": "evil.example",
    "forwarded": "host=evil.example;proto=http",
}


def test_without_a_configured_uri_it_is_derived_from_the_apis_own_id_never_headers(
    monkeypatch: pytest.MonkeyPatch, tiktok_stub: TikTokStub
) -> None:
    with mock_aws(config=MOTO_CONFIG):
        stack = make_stack(monkeypatch, tiktok_stub)
        user = stack.user("basic")
        plain = assert_ok(user.call("GET", "/api/v1/tiktok-accounts/connect"))
        forged = assert_ok(
            user.call("GET", "/api/v1/tiktok-accounts/connect", headers=FORGED_HEADERS)
        )
    wiring.reset()
    # The gateway's own API id (API Gateway sets it; the local gateway's is "localapi").
    expected = (
        "https://localapi.execute-api.us-east-1.amazonaws.com/api/v1/tiktok-accounts/callback"
    )
    for data in (plain, forged):
        assert data["redirectUri"] == expected
        assert url_query(data["authorizationUrl"])["redirect_uri"] == expected


def test_forwarded_headers_do_not_change_a_configured_redirect_uri(
    oauth: AwsStack, user: User
) -> None:
    data = assert_ok(user.call("GET", "/api/v1/tiktok-accounts/connect", headers=FORGED_HEADERS))
    assert data["redirectUri"] == CALLBACK
    assert url_query(data["authorizationUrl"])["redirect_uri"] == CALLBACK
    assert state_item(oauth, data["state"])["redirectUri"] == CALLBACK  # type: ignore[index]


# --- completing: success -------------------------------------------------------------------------


def test_completing_connects_the_account(
    oauth: AwsStack, tiktok_stub: TikTokStub, user: User
) -> None:
    begun = start(user)
    code = approve(tiktok_stub, begun)

    response = complete(user, code=code, state=begun["state"])

    data = assert_ok(response)
    assert data["created"] is True
    account = data["account"]
    assert account["id"] == account_id_for(user.user_id, OPEN_ID)
    assert account["username"] == "creator.seven"
    assert account["displayName"] == "Creator Seven"
    assert "video.publish" in data["scope"]
    listed = assert_ok(user.call("GET", "/api/v1/tiktok-accounts"))
    assert [a["id"] for a in listed] == [account["id"]]
    # The state is spent.
    assert state_item(oauth, begun["state"]) is None


def test_tokens_are_stored_encrypted_and_bound_to_the_account(
    oauth: AwsStack, tiktok_stub: TikTokStub, user: User
) -> None:
    account = connect(oauth, tiktok_stub, user)["account"]

    item = oauth.raw_item(f"USER#{user.user_id}", f"ACCOUNT#{account['id']}")
    assert item is not None
    assert item["openId"] == OPEN_ID
    kms = boto3.client("kms")
    access = kms.decrypt(
        CiphertextBlob=base64.b64decode(item["accessTokenCipher"]),
        EncryptionContext={"accountId": account["id"], "purpose": "access"},
    )["Plaintext"].decode()
    refresh = kms.decrypt(
        CiphertextBlob=base64.b64decode(item["refreshTokenCipher"]),
        EncryptionContext={"accountId": account["id"], "purpose": "refresh"},
    )["Plaintext"].decode()
    assert access.startswith("act.")
    assert refresh.startswith("rft.")
    assert access not in json.dumps(oauth.items(), default=str)
    assert item["accessTokenExpiresAt"] > item["createdAt"]
    assert item["refreshTokenExpiresAt"] > item["accessTokenExpiresAt"]
    assert item["tokenVersion"] == 1
    # The stored tokens are the ones TikTok granted: the access token reads the profile.
    with TikTokClient(tiktok_stub.base_url) as tiktok:
        assert tiktok.user_info(access, ["open_id"]).open_id == OPEN_ID


def test_reconnecting_the_same_tiktok_user_refreshes_the_same_account(
    oauth: AwsStack, tiktok_stub: TikTokStub, user: User
) -> None:
    first = connect(oauth, tiktok_stub, user)
    key = (f"USER#{user.user_id}", f"ACCOUNT#{first['account']['id']}")
    before = oauth.raw_item(*key)
    assert before is not None
    tiktok_stub.add_creator(OPEN_ID, "creator.renamed", "Creator Renamed")

    second = connect(oauth, tiktok_stub, user)

    assert second["created"] is False
    assert second["account"]["id"] == first["account"]["id"]
    assert second["account"]["username"] == "creator.renamed"
    after = oauth.raw_item(*key)
    assert after is not None
    assert after["createdAt"] == before["createdAt"]
    assert after["tokenVersion"] == 2
    assert after["accessTokenCipher"] != before["accessTokenCipher"]
    assert len(assert_ok(user.call("GET", "/api/v1/tiktok-accounts"))) == 1


def test_reconnecting_an_account_connected_before_under_another_id_updates_it(
    oauth: AwsStack, tiktok_stub: TikTokStub, user: User
) -> None:
    existing = user.account("123e4567-e89b-12d3-a456-426614174000", openId=OPEN_ID)
    data = connect(oauth, tiktok_stub, user)
    assert data["created"] is False
    assert data["account"]["id"] == existing
    assert len(assert_ok(user.call("GET", "/api/v1/tiktok-accounts"))) == 1


def test_the_same_tiktok_user_connected_by_two_users_gives_two_accounts(
    oauth: AwsStack, tiktok_stub: TikTokStub, user: User
) -> None:
    other = oauth.user("professional")
    mine = connect(oauth, tiktok_stub, user)["account"]
    theirs = connect(oauth, tiktok_stub, other)["account"]
    assert mine["id"] != theirs["id"]
    assert [a["id"] for a in assert_ok(other.call("GET", "/api/v1/tiktok-accounts"))] == [
        theirs["id"]
    ]


def test_without_the_profile_scope_the_username_comes_from_creator_info(
    oauth: AwsStack, tiktok_stub: TikTokStub, user: User
) -> None:
    data = connect(oauth, tiktok_stub, user, scope=BASIC_SCOPES)
    assert data["account"]["username"] == "creator.seven"
    assert data["account"]["displayName"] == "Creator Seven"


def test_connecting_caches_creator_info_for_the_pre_flight_checks(
    oauth: AwsStack, tiktok_stub: TikTokStub, user: User
) -> None:
    tiktok_stub.add_creator(
        OPEN_ID, "creator.seven", "Creator Seven", private_account=True,
        max_video_post_duration_sec=180,
    )  # fmt: skip
    data = connect(oauth, tiktok_stub, user)
    item = oauth.raw_item(f"USER#{user.user_id}", f"ACCOUNT#{data['account']['id']}")
    assert item is not None
    assert item["creatorInfo"] == {
        "privacyLevelOptions": ["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"],
        "maxVideoPostDurationSec": 180,
    }
    assert item["creatorInfoAt"] == item["updatedAt"]
    # The create then refuses what the creator cannot post, without asking TikTok again.
    video = user.video()
    response = user.create(
        video, data["account"]["id"], options={"privacyLevel": "PUBLIC_TO_EVERYONE"}
    )
    error = assert_error(response, 422, "UNPROCESSABLE_ENTITY")
    assert error["details"]["reason"] == "TIKTOK_PRIVACY_LEVEL_NOT_ALLOWED"


def test_pkce_when_enabled(monkeypatch: pytest.MonkeyPatch, tiktok_stub: TikTokStub) -> None:
    tiktok_stub.add_creator(OPEN_ID, "creator.seven", "Creator Seven")
    with mock_aws(config=MOTO_CONFIG):
        stack = make_stack(
            monkeypatch, tiktok_stub, TikTokRedirectUri=CALLBACK, TikTokUsePkce="true"
        )
        user = stack.user("basic")
        begun = start(user)
        query = url_query(begun["authorizationUrl"])
        item = state_item(stack, begun["state"])
        assert item is not None
        verifier = item["codeVerifier"]
        digest = hashlib.sha256(verifier.encode()).digest()
        assert query["code_challenge"] == base64.urlsafe_b64encode(digest).decode().rstrip("=")
        assert query["code_challenge_method"] == "S256"
        code = approve(tiktok_stub, begun, code_verifier=verifier)
        assert_ok(complete(user, code=code, state=begun["state"]))
    wiring.reset()


def test_without_pkce_the_url_has_no_challenge(oauth: AwsStack, user: User) -> None:
    query = url_query(start(user)["authorizationUrl"])
    assert "code_challenge" not in query
    assert "code_challenge_method" not in query


# --- connect: bound to the user who completes it ------------------------------------------------


def test_the_public_callback_links_nothing_and_hands_code_and_state_on(
    oauth: AwsStack, tiktok_stub: TikTokStub, user: User
) -> None:
    begun = start(user)
    code = approve(tiktok_stub, begun)

    response = callback(oauth, code=code, state=begun["state"])

    # No account for anyone, the state unspent: whoever's browser this is, nothing is linked.
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "connect/complete" in response.body
    # Nothing of the request is written into the page (it reads its own address).
    assert code not in response.body
    assert begun["state"] not in response.body
    assert "script-src 'sha256-" in response.headers["content-security-policy"]
    assert assert_ok(user.call("GET", "/api/v1/tiktok-accounts")) == []
    assert state_item(oauth, begun["state"]) is not None


def test_the_callback_redirects_to_the_deployers_app_when_configured(
    monkeypatch: pytest.MonkeyPatch, tiktok_stub: TikTokStub
) -> None:
    app = "https://app.example/connect-tiktok"
    with mock_aws(config=MOTO_CONFIG):
        stack = make_stack(
            monkeypatch, tiktok_stub, TikTokRedirectUri=CALLBACK, ConnectReturnUrl=app
        )
        state = "S" * 43
        response = callback(stack, code="the-code", state=state)
    wiring.reset()
    assert response.status == 302
    assert response.headers["location"] == f"{app}?code=the-code&state={state}"


def test_a_flow_started_by_one_user_and_completed_by_another_links_nothing(
    oauth: AwsStack, tiktok_stub: TikTokStub, user: User
) -> None:
    attacker = user
    victim = oauth.user("professional")
    begun = start(attacker)  # the attacker's authorization URL, approved in the victim's browser
    code = approve(tiktok_stub, begun)

    with oauth.unchanged():
        error = assert_error(
            complete(victim, code=code, state=begun["state"]), 400, "VALIDATION_ERROR"
        )
    assert error["details"] == {"field": "state"}
    assert assert_ok(victim.call("GET", "/api/v1/tiktok-accounts")) == []
    assert assert_ok(attacker.call("GET", "/api/v1/tiktok-accounts")) == []


def test_the_user_who_started_the_flow_completes_it(
    oauth: AwsStack, tiktok_stub: TikTokStub, user: User
) -> None:
    begun = start(user)
    code = approve(tiktok_stub, begun)
    assert callback(oauth, code=code, state=begun["state"]).status == 200  # the hand-off page

    data = assert_ok(complete(user, code=code, state=begun["state"]))

    assert data["created"] is True
    assert data["account"]["id"] == account_id_for(user.user_id, OPEN_ID)
    assert state_item(oauth, begun["state"]) is None


def test_completing_needs_credentials(oauth: AwsStack) -> None:
    response = oauth.call(
        "POST", "/api/v1/tiktok-accounts/connect/complete", {"code": "c", "state": "s"}
    )
    assert_error(response, 401, "UNAUTHORIZED")


# --- completing: refused --------------------------------------------------------------------------


def test_tampered_state_is_400(oauth: AwsStack, tiktok_stub: TikTokStub, user: User) -> None:
    begun = start(user)
    code = approve(tiktok_stub, begun)
    state = begun["state"]
    tampered = ("A" if state[0] != "A" else "B") + state[1:]

    with oauth.unchanged():
        for bad in (tampered, state[:-1], state + "x", "not a state", "x" * 500):
            error = assert_error(complete(user, code=code, state=bad), 400, "VALIDATION_ERROR")
            assert error["details"] == {"field": "state"}
    # The genuine state still works.
    assert_ok(complete(user, code=code, state=state))


def test_expired_state_is_400(oauth: AwsStack, tiktok_stub: TikTokStub, user: User) -> None:
    begun = start(user)
    code = approve(tiktok_stub, begun)
    key = {
        "pk": {"S": f"OAUTH#{hashlib.sha256(begun['state'].encode()).hexdigest()}"},
        "sk": {"S": "STATE"},
    }
    # Ten minutes later (the table's TTL removes such items only eventually).
    oauth.table.client.update_item(
        TableName=oauth.table.name,
        Key=key,
        UpdateExpression="SET expiresAt = :past",
        ExpressionAttributeValues={":past": {"N": str(int(datetime.now(UTC).timestamp()) - 1)}},
    )

    error = assert_error(complete(user, code=code, state=begun["state"]), 400, "VALIDATION_ERROR")

    assert "expired" in error["message"]
    assert assert_ok(user.call("GET", "/api/v1/tiktok-accounts")) == []


def test_reused_state_is_400(oauth: AwsStack, tiktok_stub: TikTokStub, user: User) -> None:
    begun = start(user)
    code = approve(tiktok_stub, begun)
    assert_ok(complete(user, code=code, state=begun["state"]))

    with oauth.unchanged():
        error = assert_error(
            complete(user, code=code, state=begun["state"]), 400, "VALIDATION_ERROR"
        )
    assert "already used" in error["message"]


def test_user_declining_is_403_and_spends_the_state(oauth: AwsStack, user: User) -> None:
    begun = start(user)

    response = complete(
        user,
        error="access_denied",
        errorDescription="The user denied the request",
        state=begun["state"],
    )

    error = assert_error(response, 403, "FORBIDDEN")
    assert error["details"]["tiktokError"] == "access_denied"
    assert state_item(oauth, begun["state"]) is None
    assert assert_ok(user.call("GET", "/api/v1/tiktok-accounts")) == []


def test_other_tiktok_errors_in_the_redirect_are_400(oauth: AwsStack, user: User) -> None:
    begun = start(user)
    response = complete(user, error="invalid_scope", state=begun["state"])
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert error["details"]["tiktokError"] == "invalid_scope"


def test_a_code_tiktok_refuses_is_400(oauth: AwsStack, tiktok_stub: TikTokStub, user: User) -> None:
    begun = start(user)
    response = complete(user, code="no-such-code", state=begun["state"])
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert error["details"] == {"tiktokError": "invalid_grant"}
    assert assert_ok(user.call("GET", "/api/v1/tiktok-accounts")) == []
    assert state_item(oauth, begun["state"]) is None  # a state is spent whatever TikTok says


def test_a_code_issued_for_another_redirect_uri_is_400(
    oauth: AwsStack, tiktok_stub: TikTokStub, user: User
) -> None:
    begun = start(user)
    code = tiktok_stub.authorization_code(OPEN_ID, "https://elsewhere.example/callback")
    error = assert_error(complete(user, code=code, state=begun["state"]), 400, "VALIDATION_ERROR")
    assert error["details"]["tiktokError"] == "invalid_grant"


def test_missing_required_scopes_is_403(
    oauth: AwsStack, tiktok_stub: TikTokStub, user: User
) -> None:
    begun = start(user)
    code = approve(tiktok_stub, begun, scope="user.info.basic")
    error = assert_error(complete(user, code=code, state=begun["state"]), 403, "FORBIDDEN")
    assert error["details"]["missingScopes"] == ["video.publish"]
    assert assert_ok(user.call("GET", "/api/v1/tiktok-accounts")) == []


def test_missing_parameters_are_400(oauth: AwsStack, tiktok_stub: TikTokStub, user: User) -> None:
    assert_error(complete(user, code="abc"), 400, "VALIDATION_ERROR")
    assert_error(complete(user), 400, "VALIDATION_ERROR")
    assert_error(complete(user, state="s", unknown="x"), 400, "VALIDATION_ERROR")
    assert_error(callback(oauth, code="c" * 3000, state="s"), 400, "VALIDATION_ERROR")
    begun = start(user)
    error = assert_error(complete(user, state=begun["state"]), 400, "VALIDATION_ERROR")
    assert error["details"] == {"field": "code"}
    assert_error(complete(user, code="c" * 3000, state="s"), 400, "VALIDATION_ERROR")


def test_tiktok_unavailable_is_503(oauth: AwsStack, tiktok_stub: TikTokStub, user: User) -> None:
    begun = start(user)
    code = approve(tiktok_stub, begun)
    tiktok_stub.fail_next("oauth_token", status=500)

    error = assert_error(
        complete(user, code=code, state=begun["state"]), 503, "SERVICE_UNAVAILABLE"
    )

    assert error["details"]["tiktokError"]


# --- deleting an account --------------------------------------------------------------------------


def test_delete_cancels_the_accounts_pending_posts(oauth: AwsStack, user: User) -> None:
    doomed = user.account()
    kept = user.account()
    pending = [
        assert_ok(user.create(user.video(), doomed, future(60 + i)))["scheduleId"] for i in range(3)
    ]
    cancelled_before = assert_ok(user.create(user.video(), doomed))["scheduleId"]
    assert_ok(user.put(cancelled_before, {"status": "cancelled"}))
    other = assert_ok(user.create(user.video(), kept))["scheduleId"]
    assert user.pending_count() == 4

    response = user.call("DELETE", f"/api/v1/tiktok-accounts/{doomed}")

    data = assert_ok(response)
    assert data["id"] == doomed
    assert data["deleted"] is True
    assert sorted(data["cancelledScheduleIds"]) == sorted(pending)
    assert user.pending_count() == 1
    for schedule_id in pending:
        post = user.post_item(schedule_id)
        assert post is not None
        assert post["status"] == "cancelled"
        assert oauth.schedule(schedule_id) is None
        video = user.video_item(post["videoId"])
        assert "pendingScheduleId" not in video
    assert oauth.schedule(other) is not None
    assert user.post_item(other)["status"] == "pending"  # type: ignore[index]
    assert oauth.raw_item(f"USER#{user.user_id}", f"ACCOUNT#{doomed}") is None
    # The account is gone for new posts too.
    assert_error(user.create(user.video(), doomed), 404, "NOT_FOUND")


def test_delete_without_posts(oauth: AwsStack, user: User) -> None:
    account = user.account()
    assert assert_ok(user.call("DELETE", f"/api/v1/tiktok-accounts/{account}")) == {
        "id": account,
        "deleted": True,
        "cancelledScheduleIds": [],
    }
    assert assert_ok(user.call("GET", "/api/v1/tiktok-accounts")) == []


def test_delete_refuses_while_a_post_is_being_published(oauth: AwsStack, user: User) -> None:
    account = user.account()
    waiting = assert_ok(user.create(user.video(), account))["scheduleId"]
    busy = assert_ok(user.create(user.video(), account))["scheduleId"]
    user.mark(busy, "publishing")

    with oauth.unchanged():
        response = user.call("DELETE", f"/api/v1/tiktok-accounts/{account}")

    error = assert_error(response, 409, "CONFLICT")
    assert error["details"]["scheduleIds"] == [busy]
    assert user.post_item(waiting)["status"] == "pending"  # type: ignore[index]


def test_delete_of_unknown_or_other_users_account_is_404(oauth: AwsStack, user: User) -> None:
    other = oauth.user("basic")
    theirs = other.account()
    assert_ok(other.create(other.video(), theirs))
    with oauth.unchanged():
        assert_error(user.call("DELETE", f"/api/v1/tiktok-accounts/{theirs}"), 404, "NOT_FOUND")
        response = user.call("DELETE", "/api/v1/tiktok-accounts/no-such-account")
        assert_error(response, 404, "NOT_FOUND")
    assert_error(user.call("DELETE", "/api/v1/tiktok-accounts/bad%21id"), 400, "VALIDATION_ERROR")
    assert other.pending_count() == 1
