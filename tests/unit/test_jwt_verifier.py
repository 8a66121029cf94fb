"""JwtVerifier: the signature, exp, nbf, iss and aud are checked, the algorithm is ours to
choose (never `none`, never an RSA public key used as an HMAC secret)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from post_scheduler.auth.jwt_verifier import InvalidToken, JwtVerifier
from tests.support import (
    JWT_AUDIENCE,
    JWT_ISSUER,
    JWT_SECRET,
    JwksServer,
    claims,
    forged_token,
    hs256_token,
    jwks,
    public_pem,
    rs256_token,
)


@pytest.fixture(scope="module")
def jwks_server() -> Iterator[JwksServer]:
    with JwksServer(jwks(("key-1", "signing"), ("key-2", "second"))) as server:
        yield server


def hs256_verifier() -> JwtVerifier:
    return JwtVerifier(JWT_ISSUER, JWT_AUDIENCE, hs256_secret=lambda: JWT_SECRET)


@pytest.fixture
def both(jwks_server: JwksServer) -> JwtVerifier:
    return JwtVerifier(
        JWT_ISSUER, JWT_AUDIENCE, hs256_secret=lambda: JWT_SECRET, jwks_url=jwks_server.url
    )


def refused(verifier: JwtVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as error:
        verifier.verify(token)
    return str(error.value)


def tamper_payload(token: str, **changes: Any) -> str:
    header, payload, signature = token.split(".")
    values = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    values.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


def tamper_signature(token: str) -> str:
    header, payload, signature = token.split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return f"{header}.{payload}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"


# --- HS256 --------------------------------------------------------------------------------------


def test_valid_hs256_token() -> None:
    verified = hs256_verifier().verify(hs256_token(claims("alice")))
    assert verified["sub"] == "alice"
    assert verified["exp"] > time.time()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (claims("alice", lifetime=-60), "expired"),
        (claims("alice", nbf=int(time.time()) + 6 * 3600), "not valid yet"),
        (claims("alice", aud="another-api"), "audience"),
        (claims("alice", aud=["another-api", "and-another"]), "audience"),
        (claims("alice", iss="https://evil.example.com/"), "issuer"),
        (claims("alice", sub=None), "'sub'"),
        (claims("alice", exp=None), "'exp'"),
        (claims("alice", iss=None), "'iss'"),
        (claims("alice", aud=None), "'aud'"),
        (claims(""), ""),
        (claims("alice", exp="tomorrow"), ""),
    ],
)
def test_refused_hs256_claims(payload: dict[str, Any], reason: str) -> None:
    assert reason in refused(hs256_verifier(), hs256_token(payload))


def test_a_list_audience_containing_ours_is_accepted() -> None:
    token = hs256_token(claims("alice", aud=["another-api", JWT_AUDIENCE]))
    assert hs256_verifier().verify(token)["sub"] == "alice"


def test_clock_skew_is_tolerated_briefly() -> None:
    # Issuers' clocks drift; a few seconds either way are accepted, not more.
    hs256_verifier().verify(hs256_token(claims("alice", nbf=int(time.time()) + 5)))
    hs256_verifier().verify(hs256_token(claims("alice", lifetime=-5)))
    refused(hs256_verifier(), hs256_token(claims("alice", lifetime=-30)))


def test_wrong_secret() -> None:
    token = hs256_token(claims("alice"), secret="another-secret-of-sufficient-length-0123456789")
    assert "signature" in refused(hs256_verifier(), token)


def test_tampered_payload() -> None:
    token = tamper_payload(hs256_token(claims("alice")), sub="bob")
    assert "signature" in refused(hs256_verifier(), token)


def test_tampered_signature() -> None:
    assert "signature" in refused(hs256_verifier(), tamper_signature(hs256_token(claims("a"))))


@pytest.mark.parametrize("algorithm", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_refused(algorithm: str) -> None:
    token = forged_token({"alg": algorithm, "typ": "JWT"}, claims("alice"), hmac_key=None)
    assert "not accepted" in refused(hs256_verifier(), token)


@pytest.mark.parametrize("algorithm", ["HS384", "HS512", "hs256", "PS256", "ES256", ""])
def test_other_algorithms_are_refused(algorithm: str) -> None:
    token = forged_token({"alg": algorithm}, claims("alice"), hmac_key=JWT_SECRET.encode())
    assert "not accepted" in refused(hs256_verifier(), token)


def test_no_alg_header_is_refused() -> None:
    token = forged_token({"typ": "JWT"}, claims("alice"), hmac_key=JWT_SECRET.encode())
    refused(hs256_verifier(), token)


@pytest.mark.parametrize("token", ["a.b.c", "..", "e30.e30.", "not-a-jwt", "x" * 50 + ".y.z"])
def test_malformed_tokens(token: str) -> None:
    refused(hs256_verifier(), token)


def test_unconfigured_verifier_refuses_everything() -> None:
    for verifier in (
        JwtVerifier("", JWT_AUDIENCE, hs256_secret=lambda: JWT_SECRET),
        JwtVerifier(JWT_ISSUER, "", hs256_secret=lambda: JWT_SECRET),
        JwtVerifier(JWT_ISSUER, JWT_AUDIENCE),
        JwtVerifier(JWT_ISSUER, JWT_AUDIENCE, hs256_secret=lambda: None),
    ):
        assert "not configured" in refused(verifier, hs256_token(claims("alice")))


# --- RS256 through a JWKS ---------------------------------------------------------------------


def test_valid_rs256_tokens_from_each_key_of_the_set(both: JwtVerifier) -> None:
    assert both.verify(rs256_token(claims("alice")))["sub"] == "alice"
    assert both.verify(rs256_token(claims("bob"), kid="key-2", key="second"))["sub"] == "bob"


def test_rs256_unknown_kid(both: JwtVerifier) -> None:
    token = rs256_token(claims("alice"), kid="key-404", key="signing")
    assert "unknown key" in refused(both, token)


def test_rs256_no_kid(both: JwtVerifier) -> None:
    import jwt

    from tests.support import rsa_private_key

    token = jwt.encode(claims("alice"), rsa_private_key("signing"), algorithm="RS256")
    refused(both, token)


def test_rs256_key_not_in_the_set(both: JwtVerifier) -> None:
    # Signed by a key the issuer never published, under a published kid.
    token = rs256_token(claims("alice"), kid="key-1", key="attacker")
    assert "signature" in refused(both, token)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (claims("alice", lifetime=-60), "expired"),
        (claims("alice", nbf=int(time.time()) + 6 * 3600), "not valid yet"),
        (claims("alice", aud="another-api"), "audience"),
        (claims("alice", iss="https://evil.example.com/"), "issuer"),
        (claims("alice", sub=None), "'sub'"),
    ],
)
def test_refused_rs256_claims(both: JwtVerifier, payload: dict[str, Any], reason: str) -> None:
    assert reason in refused(both, rs256_token(payload))


def test_rs256_tampering(both: JwtVerifier) -> None:
    token = rs256_token(claims("alice"))
    assert "signature" in refused(both, tamper_payload(token, sub="bob"))
    assert "signature" in refused(both, tamper_signature(token))


def test_algorithm_confusion_is_refused(both: JwtVerifier, jwks_server: JwksServer) -> None:
    """An HS256 token whose HMAC key is the RSA public key (which anyone can fetch)."""
    for pem in (public_pem("signing"), public_pem("signing").strip()):
        token = forged_token({"alg": "HS256", "kid": "key-1"}, claims("alice"), hmac_key=pem)
        assert "signature" in refused(both, token)
        # With only the JWKS configured, HS256 is not accepted at all.
        jwks_only = JwtVerifier(JWT_ISSUER, JWT_AUDIENCE, jwks_url=jwks_server.url)
        assert "not accepted" in refused(jwks_only, token)


def test_rs256_without_a_jwks_is_refused() -> None:
    assert "not accepted" in refused(hs256_verifier(), rs256_token(claims("alice")))


def test_jwks_unreachable() -> None:
    verifier = JwtVerifier(JWT_ISSUER, JWT_AUDIENCE, jwks_url="http://127.0.0.1:9/jwks.json")
    assert "unknown key" in refused(verifier, rs256_token(claims("alice")))
