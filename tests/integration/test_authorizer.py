"""The Lambda authorizer, alone and through the local API Gateway: HS256 JWTs with the secret in
SSM, RS256 JWTs through a JWKS served on 127.0.0.1, API keys; every refusal is a 401 in the
API's envelope, and the plan always comes from the table."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from local.aws.apigw import authorizer_event, route_event
from post_scheduler.api import caller as caller_module
from post_scheduler.api.caller import caller_from_event
from post_scheduler.auth.api_keys import generate_api_key
from post_scheduler.auth.authorizer import Authorizer, InvalidCredentials
from post_scheduler.auth.jwt_verifier import JwtVerifier
from post_scheduler.errors import Unauthorized
from post_scheduler.models.records import ApiKeyRecord, UserRecord
from tests.support import (
    JWT_AUDIENCE,
    JWT_ISSUER,
    JWT_SECRET,
    AwsStack,
    JwksServer,
    User,
    assert_error,
    assert_ok,
    claims,
    configure_jwt,
    forged_token,
    future,
    hs256_token,
    jwks,
    public_pem,
    rs256_token,
)

PROBE = "/api/v1/schedule/scheduled-videos"


@pytest.fixture(scope="module")
def jwks_server() -> Iterator[JwksServer]:
    with JwksServer(jwks(("key-1", "signing"))) as server:
        yield server


@pytest.fixture
def jwt_stack(
    stack: AwsStack, monkeypatch: pytest.MonkeyPatch, jwks_server: JwksServer
) -> AwsStack:
    configure_jwt(monkeypatch, jwks_url=jwks_server.url)
    return stack


@pytest.fixture
def alice(jwt_stack: AwsStack) -> User:
    return jwt_stack.user("basic", user_id="alice")


def get(stack: AwsStack, token: str) -> Any:
    return stack.call("GET", PROBE, token=token)


def authorizer_invocations(stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records each invocation of the authorizer function by the gateway."""
    runner = stack.gateway.runner
    invoked: list[str] = []
    original = runner.invoke

    def invoke(function: str, event: Any, *args: Any, **kwargs: Any) -> Any:
        if function == "AuthorizerFunction":
            invoked.append(event["headers"].get("authorization", ""))
        return original(function, event, *args, **kwargs)

    monkeypatch.setattr(runner, "invoke", invoke)
    return invoked


# --- through the gateway: accepted --------------------------------------------------------------


def test_valid_hs256_jwt(jwt_stack: AwsStack, alice: User) -> None:
    schedule_id = alice.scheduled()
    response = get(jwt_stack, hs256_token(claims("alice")))
    assert [i["id"] for i in assert_ok(response)] == [schedule_id]


def test_valid_rs256_jwt_through_the_jwks(jwt_stack: AwsStack, alice: User) -> None:
    schedule_id = alice.scheduled()
    response = get(jwt_stack, rs256_token(claims("alice")))
    assert [i["id"] for i in assert_ok(response)] == [schedule_id]


def test_a_jwt_can_create(jwt_stack: AwsStack, alice: User) -> None:
    token = hs256_token(claims("alice"))
    body = {
        "videoId": alice.video(),
        "tiktokAccountId": alice.account(),
        "scheduledPublishTime": future(),
    }
    assert_ok(jwt_stack.call("POST", "/api/v1/schedule/create", body, token=token))
    assert alice.pending_count() == 1


def test_api_key_hit(stack: AwsStack) -> None:
    user = stack.user("professional")
    assert_ok(stack.call("GET", PROBE, token=user.api_key))


def test_the_scheme_is_case_insensitive(stack: AwsStack) -> None:
    user = stack.user("basic")
    response = stack.call("GET", PROBE, headers={"authorization": f"bearer {user.api_key}"})
    assert_ok(response)


def test_the_plan_comes_from_the_table_not_the_token(jwt_stack: AwsStack) -> None:
    free = jwt_stack.user("free", user_id="freeloader")
    token = hs256_token(claims("freeloader", plan="professional", **{"custom:plan": "basic"}))
    body = {
        "videoId": free.video(),
        "tiktokAccountId": free.account(),
        "scheduledPublishTime": future(),
    }
    response = jwt_stack.call("POST", "/api/v1/schedule/create", body, token=token)
    assert_error(response, 403, "FORBIDDEN")


# --- through the gateway: refused ---------------------------------------------------------------


def refused_tokens() -> dict[str, Any]:
    now = int(time.time())
    valid = hs256_token(claims("alice"))
    header, payload, signature = valid.split(".")
    other_payload = hs256_token(claims("bob")).split(".")[1]
    middle = len(signature) // 2
    flipped = signature[:middle] + ("A" if signature[middle] != "A" else "B")
    return {
        "expired": hs256_token(claims("alice", lifetime=-120)),
        "not yet valid": hs256_token(claims("alice", nbf=now + 600)),
        "wrong audience": hs256_token(claims("alice", aud="another-api")),
        "wrong issuer": hs256_token(claims("alice", iss="https://evil.example.com/")),
        "tampered payload": f"{header}.{other_payload}.{signature}",
        "tampered signature": f"{header}.{payload}.{flipped}{signature[middle + 1 :]}",
        "wrong secret": hs256_token(claims("alice"), secret="not-the-secret-but-long-enough-1234"),
        "alg none": forged_token({"alg": "none", "typ": "JWT"}, claims("alice"), None),
        "algorithm confusion": forged_token(
            {"alg": "HS256", "kid": "key-1"}, claims("alice"), public_pem("signing")
        ),
        "missing sub": hs256_token(claims("alice", sub=None)),
        "subject with no user": hs256_token(claims("nobody-by-this-id")),
        "rs256 unknown kid": rs256_token(claims("alice"), kid="key-404"),
        "rs256 unpublished key": rs256_token(claims("alice"), key="attacker"),
        "rs256 expired": rs256_token(claims("alice", lifetime=-120)),
        "api key miss": "psk_this-key-was-never-issued-0123456789",
        "garbage": "garbage",
    }


def test_refused_credentials(jwt_stack: AwsStack, alice: User, subtests: pytest.Subtests) -> None:
    jwt_stack.user("basic", user_id="bob")
    alice.scheduled()
    for case, token in sorted(refused_tokens().items()):
        with subtests.test(case=case):
            error = assert_error(get(jwt_stack, token), 401, "UNAUTHORIZED")
            assert "alice" not in error["message"]


def test_a_request_without_credentials_gets_the_envelope(
    stack: AwsStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The authorizer has no identity source, so API Gateway runs it on every request, even one
    without an Authorization header, and the route answers 401 in the API's envelope."""
    invoked = authorizer_invocations(stack, monkeypatch)
    for headers in ({}, {"authorization": ""}):
        response = stack.call("GET", PROBE, headers=headers)
        error = assert_error(response, 401, "UNAUTHORIZED")
        assert "Authorization" in error["message"]
    assert len(invoked) == 2


def test_a_revoked_key_is_refused_within_ten_seconds(stack: AwsStack) -> None:
    user = stack.user("basic")
    minted = assert_ok(user.call("POST", "/api/v1/api-keys", {"name": "soon revoked"}))
    key = minted["apiKey"]
    assert_ok(get(stack, key))
    assert_ok(user.call("DELETE", f"/api/v1/api-keys/{minted['keyId']}"))

    revoked_at = time.monotonic()
    while get(stack, key).status == 200:
        assert time.monotonic() - revoked_at < 10, "the revoked key still works after 10 s"
        time.sleep(0.2)
    assert_error(get(stack, key), 401, "UNAUTHORIZED")


def test_jwts_are_refused_when_not_configured(stack: AwsStack) -> None:
    stack.user("basic", user_id="alice")
    response = get(stack, hs256_token(claims("alice")))
    assert "not configured" in assert_error(response, 401, "UNAUTHORIZED")["message"]


def test_the_gateway_caches_no_answer(
    jwt_stack: AwsStack, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoked = authorizer_invocations(jwt_stack, monkeypatch)
    token = hs256_token(claims("alice", lifetime=60))
    assert_ok(get(jwt_stack, token))
    assert_ok(get(jwt_stack, token))
    assert_error(get(jwt_stack, hs256_token(claims("alice", lifetime=-120))), 401, "UNAUTHORIZED")
    assert len(invoked) == 3


def test_a_jwt_that_expires_while_the_authorizer_remembers_it(
    jwt_stack: AwsStack, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The authorizer remembers a decision for a few seconds; the JWT's `exp` still ends access
    on time (the route checks it on every request)."""
    token = hs256_token(claims("alice", lifetime=60))
    assert_ok(get(jwt_stack, token))
    later = time.time() + 120

    class Clock:
        @staticmethod
        def time() -> float:
            return later

    monkeypatch.setattr(caller_module, "time", Clock)
    error = assert_error(get(jwt_stack, token), 401, "UNAUTHORIZED")
    assert "expired" in error["message"]


# --- the authorizer function on its own ---------------------------------------------------------


def invoke_authorizer(stack: AwsStack, authorization: str | None) -> dict[str, Any]:
    headers = [("authorization", authorization)] if authorization is not None else []
    route = route_event(
        method="GET",
        path=PROBE,
        route_key=f"GET {PROBE}",
        headers=[("host", "api.example.com"), *headers],
    )
    result: dict[str, Any] = stack.gateway.runner.invoke(
        "AuthorizerFunction", authorizer_event(route, ["Authorization"])
    )
    return result


def test_simple_response_for_an_api_key(stack: AwsStack) -> None:
    user = stack.user("professional")
    answer = invoke_authorizer(stack, f"Bearer {user.api_key}")
    assert answer == {
        "isAuthorized": True,
        "context": {
            "userId": user.user_id,
            "plan": "professional",
            "credential": "apiKey",
            "expiresAt": 0,
        },
    }


def test_simple_response_for_a_jwt(jwt_stack: AwsStack, alice: User) -> None:
    payload = claims("alice")
    answer = invoke_authorizer(jwt_stack, f"Bearer {rs256_token(payload)}")
    assert answer["context"] == {
        "userId": "alice",
        "plan": "basic",
        "credential": "jwt",
        "expiresAt": payload["exp"],
    }
    # API Gateway passes only string, number and boolean context values.
    assert all(isinstance(v, str | int | bool) for v in answer["context"].values())


def test_refusals_say_why_without_denying(stack: AwsStack, subtests: pytest.Subtests) -> None:
    # A denial would make API Gateway answer a bare 403; the route answers 401 instead.
    for authorization in (None, "", "Bearer", "Bearer psk_nope-nope-nope-nope"):
        with subtests.test(authorization=authorization):
            answer = invoke_authorizer(stack, authorization)
            assert answer["isAuthorized"] is True
            assert set(answer["context"]) == {"authError"}
            assert answer["context"]["authError"]


# --- caller_from_event --------------------------------------------------------------------------


def route_with(context: dict[str, Any] | None) -> dict[str, Any]:
    return route_event(
        method="GET", path=PROBE, route_key=f"GET {PROBE}", authorizer_context=context
    )


def test_caller_from_event() -> None:
    now = time.time()
    caller = caller_from_event(
        route_with({"userId": "alice", "plan": "basic", "expiresAt": int(now) + 60}), now=now
    )
    assert (caller.user_id, caller.plan) == ("alice", "basic")
    assert caller_from_event(route_with({"userId": "k", "plan": "free", "expiresAt": 0})).plan


@pytest.mark.parametrize(
    ("context", "message"),
    [
        (None, "missing or invalid credentials"),
        ({}, "missing or invalid credentials"),
        ({"authError": "token has expired"}, "token has expired"),
        ({"userId": "", "plan": "basic"}, "missing or invalid credentials"),
        ({"userId": "alice", "plan": "basic", "expiresAt": 1000}, "expired"),
    ],
)
def test_caller_from_event_refuses(context: dict[str, Any] | None, message: str) -> None:
    with pytest.raises(Unauthorized, match=message):
        caller_from_event(route_with(context), now=2000)


def test_an_expiry_in_the_same_second_is_expired() -> None:
    with pytest.raises(Unauthorized):
        caller_from_event(route_with({"userId": "a", "plan": "basic", "expiresAt": 2000}), now=2000)


# --- the Authorizer's decision, without AWS -----------------------------------------------------


class FakeTable:
    """Users and API keys in memory, as the authorizer reads them."""

    def __init__(self) -> None:
        now = datetime.now(UTC)
        self.key = generate_api_key()
        self.users = {
            "alice": UserRecord(userId="alice", plan="professional", createdAt=now),
        }
        self.keys = {
            self.key.key_hash: ApiKeyRecord(
                keyHash=self.key.key_hash, keyId="k", userId="alice", prefix="p", createdAt=now
            ),
            "orphan": ApiKeyRecord(
                keyHash="orphan", keyId="o", userId="gone", prefix="p", createdAt=now
            ),
        }
        self.touched: list[str] = []

    def get_api_key(self, key_hash: str) -> Any:
        return self.keys.get(key_hash)

    def get_user(self, user_id: str) -> Any:
        return self.users.get(user_id)

    def touch_api_key(self, key_hash: str, *_: Any, **__: Any) -> None:
        self.touched.append(key_hash)


def plain_authorizer(table: FakeTable) -> Any:
    verifier = JwtVerifier(JWT_ISSUER, JWT_AUDIENCE, hs256_secret=lambda: JWT_SECRET)
    return Authorizer(table, verifier)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("Bearer", "Bearer <JWT or API key>"),
        ("Bearer    ", "Bearer <JWT or API key>"),
        ("Basic dXNlcjpwYXNz", "Bearer <JWT or API key>"),
        ("Token abc", "Bearer <JWT or API key>"),
        ("Bearer " + "x" * 9000, "too long"),
        ("Bearer not-a-credential", "neither a JWT nor an API key"),
        ("Bearer psk_unknown-key-000000000", "invalid API key"),
    ],
)
def test_identify_refusals(header: str | None, reason: str) -> None:
    with pytest.raises(InvalidCredentials, match=reason):
        plain_authorizer(FakeTable()).identify(header)


def test_identify_by_api_key_reads_the_plan_from_the_table() -> None:
    table = FakeTable()
    identity = plain_authorizer(table).identify(f"Bearer {table.key.plaintext}")
    assert (identity.user_id, identity.plan, identity.credential, identity.expires_at) == (
        "alice",
        "professional",
        "apiKey",
        0,
    )
    assert table.touched == [table.key.key_hash]


def test_identify_by_jwt_reads_the_plan_from_the_table() -> None:
    table = FakeTable()
    payload = claims("alice", plan="free")
    identity = plain_authorizer(table).identify(f"Bearer {hs256_token(payload)}")
    assert (identity.plan, identity.credential, identity.expires_at) == (
        "professional",
        "jwt",
        payload["exp"],
    )


def test_a_key_whose_user_is_gone_is_refused() -> None:
    table = FakeTable()
    table.keys[table.key.key_hash] = table.keys["orphan"]
    with pytest.raises(InvalidCredentials, match="invalid API key"):
        plain_authorizer(table).identify(f"Bearer {table.key.plaintext}")


def test_extra_spaces_around_the_token_are_tolerated() -> None:
    table = FakeTable()
    assert (
        plain_authorizer(table).identify(f"  Bearer   {table.key.plaintext}  ").user_id == "alice"
    )


def test_a_key_revoked_elsewhere_is_forgotten_within_the_memory_time() -> None:
    """Deployed, the key is deleted by another function: this authorizer instance's memory
    lapses after `remember_seconds` (5 by default, at most 10), then the table says no."""
    table, now = FakeTable(), [1000.0]
    verifier = JwtVerifier(JWT_ISSUER, JWT_AUDIENCE, hs256_secret=lambda: JWT_SECRET)
    remembering = Authorizer(
        table,  # type: ignore[arg-type]
        verifier,
        remember_seconds=5,
        monotonic=lambda: now[0],
    )
    header = f"Bearer {table.key.plaintext}"
    assert remembering.identify(header).user_id == "alice"
    del table.keys[table.key.key_hash]  # revoked by the delete function

    now[0] += 4.9
    assert remembering.identify(header).user_id == "alice"  # remembered (no table read)
    now[0] += 0.2
    with pytest.raises(InvalidCredentials, match="invalid API key"):
        remembering.identify(header)
    assert Authorizer(table, verifier, remember_seconds=60).remember_seconds == 10  # type: ignore[arg-type]


def test_refusals_are_not_remembered() -> None:
    table = FakeTable()
    verifier = JwtVerifier(JWT_ISSUER, JWT_AUDIENCE, hs256_secret=lambda: JWT_SECRET)
    remembering = Authorizer(table, verifier, remember_seconds=5)  # type: ignore[arg-type]
    key = generate_api_key()
    with pytest.raises(InvalidCredentials):
        remembering.identify(f"Bearer {key.plaintext}")
    table.keys[key.key_hash] = ApiKeyRecord(
        keyHash=key.key_hash, keyId="n", userId="alice", prefix="p", createdAt=datetime.now(UTC)
    )
    assert remembering.identify(f"Bearer {key.plaintext}").user_id == "alice"
