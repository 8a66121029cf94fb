"""The Lambda authorizer's decision: who is calling, on which plan.

HTTP APIs answer a denied request with a bare `403 {"message": "Forbidden"}` that cannot be
reshaped, so the authorizer never denies: it passes either the caller or the reason there is
none, and every authenticated route answers 401 in the API's error envelope
(`api.caller.caller_from_event`). The plan always comes from the table, never from a token.

API Gateway caches nothing (no identity source, TTL 0): the authorizer runs on every request.
It remembers an accepted credential for a few seconds (`remember_seconds`, at most 10, keyed by
the credential's SHA-256, never past a JWT's `exp`), which saves the table reads of a burst of
requests while a revoked key still stops within that time. Refusals are not remembered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from post_scheduler.auth.api_keys import hash_api_key, looks_like_api_key
from post_scheduler.auth.jwt_verifier import InvalidToken, JwtVerifier
from post_scheduler.timestamps import utc_now

if TYPE_CHECKING:
    from post_scheduler.adapters.table import SchedulingTable

logger = logging.getLogger(__name__)


class InvalidCredentials(Exception):
    """Why a request has no caller; safe to show."""


@dataclass(frozen=True)
class Identity:
    user_id: str
    plan: str
    credential: str  # "jwt" or "apiKey"
    expires_at: int  # epoch seconds when the credential stops being valid; 0 = no expiry


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header."""
    if not authorization:
        raise InvalidCredentials("missing Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise InvalidCredentials("Authorization header must be 'Bearer <JWT or API key>'")
    if len(token) > 8192:
        raise InvalidCredentials("credential is too long")
    return token


class Authorizer:
    """Turns an Authorization header into an identity."""

    MAX_REMEMBERED = 1024

    def __init__(
        self,
        table: SchedulingTable,
        jwt_verifier: JwtVerifier,
        clock: Callable[[], datetime] = utc_now,
        remember_seconds: float = 0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table = table
        self.jwt_verifier = jwt_verifier
        self.clock = clock
        self.remember_seconds = min(remember_seconds, 10)
        self.monotonic = monotonic
        self._remembered: OrderedDict[str, tuple[float, Identity]] = OrderedDict()
        self._lock = threading.Lock()

    def identify(self, authorization: str | None) -> Identity:
        token = bearer_token(authorization)
        if self.remember_seconds <= 0:
            return self._identify(token)
        digest = hash_api_key(token)  # SHA-256, the API key's stored hash (see `forget`)
        now = self.monotonic()
        with self._lock:
            remembered = self._remembered.get(digest)
        if remembered is not None:
            until, identity = remembered
            if until > now and (not identity.expires_at or identity.expires_at > time.time()):
                return identity
        identity = self._identify(token)
        with self._lock:
            self._remembered[digest] = (now + self.remember_seconds, identity)
            self._remembered.move_to_end(digest)
            while len(self._remembered) > self.MAX_REMEMBERED:
                self._remembered.popitem(last=False)
        return identity

    def forget(self, key_hash: str) -> None:
        """Drop a remembered credential (an API key revoked in this process)."""
        with self._lock:
            self._remembered.pop(key_hash, None)

    def _identify(self, token: str) -> Identity:
        if looks_like_api_key(token):
            return self._by_api_key(token)
        if token.count(".") == 2:
            return self._by_jwt(token)
        raise InvalidCredentials("credential is neither a JWT nor an API key")

    def _by_api_key(self, token: str) -> Identity:
        record = self.table.get_api_key(hash_api_key(token))
        if record is None:
            raise InvalidCredentials("invalid API key")
        user = self.table.get_user(record.userId)
        if user is None:
            raise InvalidCredentials("invalid API key")
        self._note_use(record.keyHash, record.lastUsedAt)
        return Identity(user.userId, user.plan, "apiKey", 0)

    def _note_use(self, key_hash: str, last_used_at: datetime | None) -> None:
        """Keep the key's `lastUsedAt` (minute precision is plenty; a failure only loses it)."""
        now = self.clock()
        if last_used_at is not None and (now - last_used_at).total_seconds() < 60:
            return
        try:
            self.table.touch_api_key(key_hash, now, interval_seconds=60)
        except Exception:
            logger.warning("could not record the API key's last use", exc_info=True)

    def _by_jwt(self, token: str) -> Identity:
        try:
            claims = self.jwt_verifier.verify(token)
        except InvalidToken as exc:
            raise InvalidCredentials(str(exc)) from None
        user = self.table.get_user(claims["sub"])
        if user is None:
            raise InvalidCredentials("no account exists for this token's subject")
        return Identity(user.userId, user.plan, "jwt", int(claims["exp"]))

    def simple_response(self, authorization: str | None) -> dict[str, Any]:
        """The HTTP API simple response (payload 2.0)."""
        try:
            identity = self.identify(authorization)
        except InvalidCredentials as exc:
            logger.info("request without valid credentials", extra={"reason": str(exc)})
            return {"isAuthorized": True, "context": {"authError": str(exc)}}
        return {
            "isAuthorized": True,
            "context": {
                "userId": identity.user_id,
                "plan": identity.plan,
                "credential": identity.credential,
                "expiresAt": identity.expires_at,
            },
        }
