"""Opaque page tokens over DynamoDB's LastEvaluatedKey, checked on the way back in."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from post_scheduler.errors import ValidationFailed

_MAX_TOKEN_LENGTH = 2048


def encode_page_token(last_key: dict[str, Any] | None) -> str | None:
    """Turn a LastEvaluatedKey (low-level `{"S": ...}` values) into a URL-safe token."""
    if not last_key:
        return None
    plain = {name: value["S"] for name, value in last_key.items()}
    raw = json.dumps(plain, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(
    token: str | None, expected: dict[str, str], key_names: frozenset[str]
) -> dict[str, Any] | None:
    """Back to an ExclusiveStartKey, refusing tokens that were not made for this query.

    `expected` pins attributes that must keep their value (the caller's partition), so a forged
    token can never page into another user's items.
    """
    if token is None:
        return None
    invalid = invalid_page_token()
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        raise invalid
    try:
        plain = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid from None
    if (
        not isinstance(plain, dict)
        or set(plain) != key_names
        or not all(isinstance(v, str) and 0 < len(v) <= 512 for v in plain.values())
        or any(plain.get(name) != value for name, value in expected.items())
    ):
        raise invalid
    return {name: {"S": value} for name, value in plain.items()}


def invalid_page_token() -> ValidationFailed:
    """The error for a token that was not issued for this query."""
    return ValidationFailed("nextToken is not valid for this request", {"field": "nextToken"})
