"""Page tokens over DynamoDB's LastEvaluatedKey: sealed (adapters/page_seal.py) for the query
they were issued for, and checked again on the way back in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from post_scheduler.adapters.page_seal import (
    SealedTokenExpired,
    SealedTokenInvalid,
    TokenSealer,
)
from post_scheduler.errors import ValidationFailed


class PageTokens:
    """Turns a query's last key into a sealed token and back. `scope` names the query and its
    caller (e.g. `schedules` and the user's partition): a token opens only for the same."""

    def __init__(self, sealer: Callable[[], TokenSealer]) -> None:
        self._sealer = sealer  # a factory: only list queries need keys

    def encode(self, last_key: dict[str, Any] | None, scope: str) -> str | None:
        """A token for a LastEvaluatedKey (low-level `{"S": ...}` values); None without one."""
        if not last_key:
            return None
        plain = {name: value["S"] for name, value in last_key.items()}
        return self._sealer().seal(plain, scope)

    def decode(
        self,
        token: str | None,
        scope: str,
        expected: dict[str, str],
        key_names: frozenset[str],
    ) -> dict[str, Any] | None:
        """Back to an ExclusiveStartKey, refusing tokens that were not made for this query.

        `expected` pins attributes that must keep their value (the caller's partition): the seal
        already binds the token to its scope, and this keeps that true should a scope be wrong.
        """
        if token is None:
            return None
        try:
            plain = self._sealer().unseal(token, scope)
        except SealedTokenExpired:
            raise ValidationFailed(
                "nextToken has expired; list again from the first page", {"field": "nextToken"}
            ) from None
        except SealedTokenInvalid:
            raise invalid_page_token() from None
        if (
            not isinstance(plain, dict)
            or set(plain) != key_names
            or not all(isinstance(v, str) and 0 < len(v) <= 512 for v in plain.values())
            or any(plain.get(name) != value for name, value in expected.items())
        ):
            raise invalid_page_token()
        return {name: {"S": value} for name, value in plain.items()}


def invalid_page_token() -> ValidationFailed:
    """The error for a token that was not issued for this query."""
    return ValidationFailed("nextToken is not valid for this request", {"field": "nextToken"})
