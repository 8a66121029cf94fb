"""API keys through the local API Gateway and the real authorizer: minting (the plaintext once,
only the hash stored), listing with paging, last use, revocation and the authorizer cache."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from post_scheduler.domain.api_keys import MAX_KEYS_PER_USER
from tests.support import API_TIME, AwsStack, User, assert_error, assert_ok


@pytest.fixture
def user(stack: AwsStack) -> User:
    return stack.user("basic")


def mint(user: User, name: str = "CI") -> dict[str, Any]:
    data: dict[str, Any] = assert_ok(user.call("POST", "/api/v1/api-keys", {"name": name}))
    return data


def test_mint_returns_the_key_once_and_stores_only_its_hash(stack: AwsStack, user: User) -> None:
    data = mint(user, "  CI pipeline  ")

    assert set(data) == {"keyId", "prefix", "name", "createdAt", "lastUsedAt", "apiKey"}
    assert data["name"] == "CI pipeline"
    assert data["apiKey"].startswith("psk_")
    assert data["apiKey"].startswith(data["prefix"])
    assert API_TIME.match(data["createdAt"])
    assert data["lastUsedAt"] is None
    key_hash = hashlib.sha256(data["apiKey"].encode()).hexdigest()
    item = stack.raw_item(f"APIKEY#{key_hash}", "APIKEY")
    assert item is not None
    assert item["userId"] == user.user_id
    assert data["apiKey"] not in json.dumps(stack.items(), default=str)
    # The new key works.
    response = stack.call("GET", "/api/v1/videos", token=data["apiKey"])
    assert_ok(response)


def test_list_shows_the_keys_without_secrets(stack: AwsStack, user: User) -> None:
    minted = mint(user, "second")

    keys = assert_ok(user.call("GET", "/api/v1/api-keys"))

    assert [k["name"] for k in keys] == ["test", "second"]  # oldest first
    for key in keys:
        assert set(key) == {"keyId", "prefix", "name", "createdAt", "lastUsedAt"}
    assert keys[1]["keyId"] == minted["keyId"]
    assert minted["apiKey"] not in json.dumps(keys)


def test_list_pages_with_opaque_tokens(stack: AwsStack, user: User) -> None:
    for index in range(4):
        mint(user, f"key {index}")
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        query = "limit=2" + (f"&nextToken={token}" if token else "")
        response = user.call("GET", "/api/v1/api-keys", query=query)
        seen.extend(k["keyId"] for k in assert_ok(response))
        pages += 1
        token = response.body.get("nextToken")
        if token is None:
            break
        # The token is sealed: it shows neither the position nor any key's hash.
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert b"APIKEY#" not in raw
        assert user.user_id.encode() not in raw
    assert len(seen) == len(set(seen)) == 5
    assert pages == 3


def test_list_refuses_foreign_tokens(stack: AwsStack, user: User) -> None:
    forged = base64.urlsafe_b64encode(b'{"gsi1sk":"SCHEDULE#x"}').decode().rstrip("=")
    response = user.call("GET", "/api/v1/api-keys", query=f"nextToken={forged}")
    assert_error(response, 400, "VALIDATION_ERROR")
    assert_error(user.call("GET", "/api/v1/api-keys", query="limit=0"), 400, "VALIDATION_ERROR")


def test_users_see_only_their_own_keys(stack: AwsStack, user: User) -> None:
    other = stack.user("professional")
    mint(other, "theirs")
    assert [k["name"] for k in assert_ok(user.call("GET", "/api/v1/api-keys"))] == ["test"]


def test_the_authorizer_records_last_use_at_most_once_a_minute(stack: AwsStack, user: User) -> None:
    (before,) = assert_ok(user.call("GET", "/api/v1/api-keys"))
    assert before["lastUsedAt"] is None or API_TIME.match(before["lastUsedAt"])
    stack.gateway.forget_cached_authorizations()
    (first,) = assert_ok(user.call("GET", "/api/v1/api-keys"))
    assert API_TIME.match(first["lastUsedAt"])
    stack.gateway.forget_cached_authorizations()
    (second,) = assert_ok(user.call("GET", "/api/v1/api-keys"))
    assert second["lastUsedAt"] == first["lastUsedAt"]


@pytest.mark.parametrize(
    "body",
    [{}, {"name": ""}, {"name": "   "}, {"name": "x" * 101}, {"name": 5}, {"name": "a\nb"}],
)
def test_invalid_names_are_400(stack: AwsStack, user: User, body: dict[str, Any]) -> None:
    with stack.unchanged():
        assert_error(user.call("POST", "/api/v1/api-keys", body), 400, "VALIDATION_ERROR")


def test_a_user_holds_a_bounded_number_of_keys(stack: AwsStack, user: User) -> None:
    for index in range(MAX_KEYS_PER_USER - 1):
        mint(user, f"k{index}")
    error = assert_error(
        user.call("POST", "/api/v1/api-keys", {"name": "one too many"}), 409, "CONFLICT"
    )
    assert error["details"] == {"maxKeys": MAX_KEYS_PER_USER}


# --- revocation -----------------------------------------------------------------------------------


def test_a_key_revoked_where_the_authorizer_runs_stops_at_once(stack: AwsStack, user: User) -> None:
    spare = mint(user, "spare")
    assert_ok(stack.call("GET", "/api/v1/videos", token=spare["apiKey"]))

    revoked = assert_ok(user.call("DELETE", f"/api/v1/api-keys/{spare['keyId']}"))

    assert revoked["keyId"] == spare["keyId"]
    assert revoked["revoked"] is True
    # Here the authorizer runs in the same process, so it forgets the key at once (deployed,
    # each authorizer instance's memory lapses within AuthorizerCacheSeconds).
    error = assert_error(
        stack.call("GET", "/api/v1/videos", token=spare["apiKey"]), 401, "UNAUTHORIZED"
    )
    assert "invalid API key" in error["message"]
    # The other key still works, and the list no longer shows the revoked one.
    assert [k["name"] for k in assert_ok(user.call("GET", "/api/v1/api-keys"))] == ["test"]


def test_a_user_can_revoke_the_key_in_use(stack: AwsStack, user: User) -> None:
    (current,) = assert_ok(user.call("GET", "/api/v1/api-keys"))
    assert_ok(user.call("DELETE", f"/api/v1/api-keys/{current['keyId']}"))
    assert_error(user.call("GET", "/api/v1/api-keys"), 401, "UNAUTHORIZED")


def test_revoking_unknown_or_other_users_keys_is_404(stack: AwsStack, user: User) -> None:
    other = stack.user("basic")
    (theirs,) = assert_ok(other.call("GET", "/api/v1/api-keys"))
    with stack.unchanged():
        response = user.call("DELETE", f"/api/v1/api-keys/{theirs['keyId']}")
        assert_error(response, 404, "NOT_FOUND")
        response = user.call("DELETE", "/api/v1/api-keys/00000000-0000-0000-0000-000000000000")
        assert_error(response, 404, "NOT_FOUND")
    assert_error(user.call("DELETE", "/api/v1/api-keys/bad%24id"), 400, "VALIDATION_ERROR")
    assert_ok(other.call("GET", "/api/v1/api-keys"))


def test_revoking_twice_is_404(stack: AwsStack, user: User) -> None:
    spare = mint(user)
    assert_ok(user.call("DELETE", f"/api/v1/api-keys/{spare['keyId']}"))
    assert_error(user.call("DELETE", f"/api/v1/api-keys/{spare['keyId']}"), 404, "NOT_FOUND")
