"""The authenticated caller of an API route, from the authorizer's context."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from post_scheduler.errors import Unauthorized


@dataclass(frozen=True)
class Caller:
    user_id: str
    plan: str


def caller_from_event(event: dict[str, Any], now: float | None = None) -> Caller:
    """The caller, or 401: no credentials, bad credentials, or a JWT that expired while the
    authorizer's cached answer was still in use."""
    context = (event.get("requestContext") or {}).get("authorizer", {}).get("lambda") or {}
    user_id = context.get("userId")
    if not user_id:
        raise Unauthorized(context.get("authError") or "missing or invalid credentials")
    expires_at = int(context.get("expiresAt") or 0)
    if expires_at and expires_at <= (time.time() if now is None else now):
        raise Unauthorized("token has expired")
    return Caller(user_id=str(user_id), plan=str(context.get("plan", "")))
