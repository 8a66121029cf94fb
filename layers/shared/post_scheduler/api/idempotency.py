"""The `Idempotency-Key` request header (IETF httpapi draft "The Idempotency-Key HTTP Header
Field") on the routes that create or change things, with Powertools' idempotency utility and its
own DynamoDB table.

A key is scoped to the caller and the route's function, and kept 24 hours. The first request
with a key runs and its answer (status, headers, body) is stored; the same key with the same
request (method, path and JSON body) answers that again with `Idempotent-Replayed: true` and runs
nothing; with a different request it is 422 IDEMPOTENCY_KEY_REUSED; while the first one still
runs, 409. Server errors (5xx) are not stored, so the client may retry them with the same key.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from post_scheduler.errors import (
    Conflict,
    DependencyUnavailable,
    IdempotencyKeyReused,
    ValidationFailed,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

logger = logging.getLogger(__name__)

HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
KEY_LIFETIME_SECONDS = 24 * 60 * 60


class _NotStored(Exception):
    """Carries a 5xx answer out of the idempotent call, so Powertools drops its record."""

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__("server error: not stored")
        self.result = result


def idempotency_key(event: dict[str, Any]) -> str | None:
    """The request's key, or None without the header; 400 for a malformed one. The draft sends
    it as a structured-field string (`"..."`); a bare value is taken as it is."""
    values = [v for k, v in (event.get("headers") or {}).items() if k.lower() == HEADER]
    if not values:
        return None
    raw = str(values[0]).strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        raw = raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if not raw:
        raise ValidationFailed(
            "Idempotency-Key must not be empty", [{"field": "Idempotency-Key", "message": "empty"}]
        )
    if len(raw) > MAX_KEY_LENGTH:
        message = f"at most {MAX_KEY_LENGTH} characters"
        raise ValidationFailed(
            f"Idempotency-Key must be {message}",
            [{"field": "Idempotency-Key", "message": message}],
        )
    if not all(" " <= char <= "~" for char in raw):
        message = "printable ASCII characters only"
        raise ValidationFailed(
            f"Idempotency-Key must be {message}",
            [{"field": "Idempotency-Key", "message": message}],
        )
    return raw


def _fingerprint(event: dict[str, Any]) -> dict[str, Any]:
    """What makes two requests the same: method, path and the parsed JSON body (so spacing and
    key order do not matter). `_StrictJson` has already checked the body."""
    http = (event.get("requestContext") or {}).get("http") or {}
    body = event.get("body") or ""
    if body and event.get("isBase64Encoded"):
        import base64

        body = base64.b64decode(body).decode("utf-8")
    return {
        "method": http.get("method", ""),
        "path": event.get("rawPath", ""),
        "body": json.loads(body) if body else None,
    }


def _replayed(response: Any, idempotent_data: DataRecord) -> Any:
    headers = dict(response.get("headers") or {})
    headers[REPLAYED_HEADER] = "true"
    return {**response, "headers": headers}


def run_idempotent(
    scope: str,
    user_id: str,
    key: str,
    event: dict[str, Any],
    context: Any,
    run: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """`run()` once per (caller, key) within 24 hours; later requests get its stored answer."""
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    from post_scheduler.wiring import idempotency_store

    # One config per request: it holds the invocation's context (the in-progress record expires
    # when the invocation would time out, so a crashed request does not block its key for long).
    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="request",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=KEY_LIFETIME_SECONDS,
        hash_function="sha256",
        response_hook=_replayed,
    )
    if hasattr(context, "get_remaining_time_in_millis"):
        config.register_lambda_context(context)

    def call(request: dict[str, Any]) -> dict[str, Any]:
        result = run()
        if int(result.get("statusCode", 500)) >= 500:
            raise _NotStored(result)
        return result

    guarded = idempotent_function(
        data_keyword_argument="request",
        persistence_store=idempotency_store(),
        config=config,
        key_prefix=scope,
    )(call)
    # The caller is part of the key: two users' equal keys never meet.
    data = {"key": {"user": user_id, "key": key}, "request": _fingerprint(event)}
    try:
        result: dict[str, Any] = guarded(request=data)
    except _NotStored as not_stored:
        return not_stored.result
    except IdempotencyValidationError:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used with a different request;"
            " use a new key for a new request",
            {"header": "Idempotency-Key"},
        ) from None
    except IdempotencyAlreadyInProgressError:
        raise Conflict(
            "a request with this Idempotency-Key is still being processed; retry shortly",
            {"header": "Idempotency-Key"},
        ) from None
    except IdempotencyPersistenceLayerError:
        logger.exception("idempotency store failed")
        raise DependencyUnavailable(
            "the idempotency store is unavailable; nothing was changed, retry shortly"
        ) from None
    return result
