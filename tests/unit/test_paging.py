"""Page tokens: opaque on the way out, checked on the way back in."""

from __future__ import annotations

import base64
import json

import pytest

from post_scheduler.adapters.paging import decode_page_token, encode_page_token
from post_scheduler.errors import ValidationFailed

KEYS = frozenset({"pk", "sk", "gsi1pk", "gsi1sk"})
MINE = {"pk": "USER#alice", "gsi1pk": "USER#alice"}
LAST_KEY = {
    "pk": {"S": "USER#alice"},
    "sk": {"S": "SCHEDULE#650e8400-e29b-41d4-a716-446655440000"},
    "gsi1pk": {"S": "USER#alice"},
    "gsi1sk": {"S": "SCHEDULE#2025-10-21T14:30:00.000Z#650e8400-e29b-41d4-a716-446655440000"},
}


def token_of(plain: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def test_round_trip() -> None:
    token = encode_page_token(LAST_KEY)
    assert token is not None
    assert decode_page_token(token, MINE, KEYS) == LAST_KEY


def test_tokens_are_url_safe() -> None:
    token = encode_page_token(LAST_KEY)
    assert token is not None
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_no_last_key_means_no_token() -> None:
    assert encode_page_token(None) is None
    assert encode_page_token({}) is None
    assert decode_page_token(None, MINE, KEYS) is None


def test_a_token_for_another_users_partition_is_refused() -> None:
    theirs = {name: {"S": value["S"].replace("alice", "bob")} for name, value in LAST_KEY.items()}
    token = encode_page_token(theirs)
    with pytest.raises(ValidationFailed) as refused:
        decode_page_token(token, MINE, KEYS)
    assert refused.value.status_code == 400
    assert refused.value.details == {"field": "nextToken"}


def test_a_token_mixing_partitions_is_refused() -> None:
    mixed = {**LAST_KEY, "gsi1pk": {"S": "USER#bob"}}
    with pytest.raises(ValidationFailed):
        decode_page_token(encode_page_token(mixed), MINE, KEYS)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not base64 at all!",
        "====",
        token_of("a string"),
        token_of(["USER#alice"]),
        token_of({"pk": "USER#alice"}),  # missing attributes
        token_of({**{k: v["S"] for k, v in LAST_KEY.items()}, "extra": "x"}),
        token_of({**{k: v["S"] for k, v in LAST_KEY.items()}, "sk": 7}),
        token_of({**{k: v["S"] for k, v in LAST_KEY.items()}, "sk": {"S": "x"}}),
        token_of({**{k: v["S"] for k, v in LAST_KEY.items()}, "sk": ""}),
        token_of({**{k: v["S"] for k, v in LAST_KEY.items()}, "sk": "x" * 513}),
        base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(),
        "A" * 2049,
    ],
)
def test_forged_or_damaged_tokens_are_refused(token: str) -> None:
    with pytest.raises(ValidationFailed, match="nextToken"):
        decode_page_token(token, MINE, KEYS)
