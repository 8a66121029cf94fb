"""Page tokens: sealed on the way out (nothing readable, nothing alterable), checked on the way
back in: another scope's, an expired, a tampered or a forged token is refused."""

from __future__ import annotations

import base64
import json
import os

import pytest

from post_scheduler.adapters.page_seal import StaticKeyRing, TokenSealer
from post_scheduler.adapters.paging import PageTokens
from post_scheduler.errors import ValidationFailed

KEYS = frozenset({"pk", "sk", "gsi1pk", "gsi1sk"})
MINE = {"pk": "USER#alice", "gsi1pk": "USER#alice"}
SCOPE = "schedules\nUSER#alice"
LAST_KEY = {
    "pk": {"S": "USER#alice"},
    "sk": {"S": "SCHEDULE#650e8400-e29b-41d4-a716-446655440000"},
    "gsi1pk": {"S": "USER#alice"},
    "gsi1sk": {"S": "SCHEDULE#2025-10-21T14:30:00.000Z#650e8400-e29b-41d4-a716-446655440000"},
}
NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sealer(clock: Clock) -> TokenSealer:
    return TokenSealer(StaticKeyRing(os.urandom(32)), lifetime_seconds=3600, clock=clock)


@pytest.fixture
def pages(sealer: TokenSealer) -> PageTokens:
    return PageTokens(lambda: sealer)


def raw(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def token_of(plain: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def test_round_trip(pages: PageTokens) -> None:
    token = pages.encode(LAST_KEY, SCOPE)
    assert token is not None
    assert pages.decode(token, SCOPE, MINE, KEYS) == LAST_KEY


def test_tokens_are_url_safe_and_show_nothing(pages: PageTokens) -> None:
    token = pages.encode(LAST_KEY, SCOPE)
    assert token is not None
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    for secret in (b"alice", b"USER#", b"SCHEDULE#", b"650e8400", b"pk"):
        assert secret not in raw(token)
    assert pages.encode(LAST_KEY, SCOPE) != token  # a fresh nonce each time


def test_no_last_key_means_no_token(pages: PageTokens) -> None:
    assert pages.encode(None, SCOPE) is None
    assert pages.encode({}, SCOPE) is None
    assert pages.decode(None, SCOPE, MINE, KEYS) is None


def test_a_token_of_another_scope_is_refused(pages: PageTokens) -> None:
    token = pages.encode(LAST_KEY, "schedules\nUSER#bob")  # bob's token, presented by alice
    with pytest.raises(ValidationFailed) as refused:
        pages.decode(token, SCOPE, MINE, KEYS)
    assert refused.value.status_code == 400
    assert refused.value.details == {"field": "nextToken"}


def test_every_altered_byte_is_refused(pages: PageTokens) -> None:
    token = pages.encode(LAST_KEY, SCOPE)
    assert token is not None
    original = raw(token)
    for index in range(len(original)):
        tampered = bytearray(original)
        tampered[index] ^= 0x40
        forged = base64.urlsafe_b64encode(bytes(tampered)).decode().rstrip("=")
        with pytest.raises(ValidationFailed, match="nextToken"):
            pages.decode(forged, SCOPE, MINE, KEYS)


def test_a_token_from_another_key_is_refused(pages: PageTokens, clock: Clock) -> None:
    other = PageTokens(lambda: TokenSealer(StaticKeyRing(os.urandom(32)), clock=clock))
    with pytest.raises(ValidationFailed, match="nextToken"):
        pages.decode(other.encode(LAST_KEY, SCOPE), SCOPE, MINE, KEYS)


def test_an_expired_token_is_refused(pages: PageTokens, clock: Clock) -> None:
    token = pages.encode(LAST_KEY, SCOPE)
    clock.now += 3599
    assert pages.decode(token, SCOPE, MINE, KEYS) == LAST_KEY
    clock.now += 1
    with pytest.raises(ValidationFailed, match="expired") as refused:
        pages.decode(token, SCOPE, MINE, KEYS)
    assert refused.value.details == {"field": "nextToken"}


def test_a_sealed_position_outside_the_callers_partition_is_refused(pages: PageTokens) -> None:
    # Defence in depth: were a scope ever wrong, the partition check still holds.
    theirs = {name: {"S": value["S"].replace("alice", "bob")} for name, value in LAST_KEY.items()}
    mixed = {**LAST_KEY, "gsi1pk": {"S": "USER#bob"}}
    for key in (theirs, mixed):
        with pytest.raises(ValidationFailed):
            pages.decode(pages.encode(key, SCOPE), SCOPE, MINE, KEYS)


def test_sealing_takes_any_json_position(sealer: TokenSealer) -> None:
    position = {"shards": {"3": "2026-01-01T00:00:00.000Z#a", "7": None}, "n": [1, 2]}
    assert sealer.unseal(sealer.seal(position, "upcoming"), "upcoming") == position


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not base64 at all!",
        "====",
        token_of("a string"),
        token_of({k: v["S"] for k, v in LAST_KEY.items()}),  # the old, unsealed format
        base64.urlsafe_b64encode(b"\x01\x00\x06static" + bytes(40)).decode(),
        base64.urlsafe_b64encode(b"\x01\xff\xff").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(),
        "A" * 2049,
    ],
)
def test_forged_or_damaged_tokens_are_refused(pages: PageTokens, token: str) -> None:
    with pytest.raises(ValidationFailed, match="nextToken"):
        pages.decode(token, SCOPE, MINE, KEYS)
