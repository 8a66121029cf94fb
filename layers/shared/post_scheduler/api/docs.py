"""What the OpenAPI document says about responses, in one place: the success envelope around
each route's data, the error envelope with the codes each status carries, the security schemes,
and the reference's examples.

Routes pass `responses=docs.responses(...)` to their decorators; `local/aws/openapi.py` takes each
function's document from its resolver and merges them (adding `components()` below). Only while
it loads the handlers (`generating()`) are the responses built: a handler serving requests gets
none, so its cold start makes no envelope models and no response descriptions, and the models
build their schemas only when asked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Schemas are built when the document is generated, not when a handler is imported.
DEFERRED = ConfigDict(defer_build=True)
_SCHEMAS = "#/components/schemas/"

_generating = False


@contextmanager
def generating() -> Iterator[None]:
    """While the document generator imports the handlers: their routes' responses are built."""
    global _generating
    before, _generating = _generating, True
    try:
        yield
    finally:
        _generating = before


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def next_token() -> Any:
    """The `nextToken` field of a page: absent on the last page."""
    return Field(
        default="",
        description="Pass as `nextToken` to get the next page; absent on the last page",
        json_schema_extra=_no_default,
    )


# --- success envelopes -----------------------------------------------------------------------


@cache
def _envelopes() -> tuple[Any, Any]:
    class Ok[T](BaseModel):
        """`{"success": true, "data": ...}`"""

        model_config = DEFERRED

        success: Literal[True]
        data: T

    class Page[T](BaseModel):
        """A page of a list: `nextToken` is present only when another page exists."""

        model_config = DEFERRED

        success: Literal[True]
        data: list[T]
        nextToken: str = next_token()

    return Ok, Page


class _Envelope:
    """`Ok[Model]` or `Page[Model]` as the routes write them: the pydantic envelope around
    `Model`, made only while the document is generated (None otherwise)."""

    def __init__(self, pick: Callable[[tuple[Any, Any]], Any]) -> None:
        self._pick = pick

    def __getitem__(self, data: Any) -> Any:
        return self._pick(_envelopes())[data] if _generating else None


# `{"success": true, "data": ...}`
Ok = _Envelope(lambda envelopes: envelopes[0])
# A page of a list: `nextToken` is present only when another page exists.
Page = _Envelope(lambda envelopes: envelopes[1])


def success(model: Any, example: Any, description: str = "Success") -> dict[int, Any]:
    """The 200 response carrying `model` (an `Ok[...]` or `Page[...]`), with an example body."""
    if not _generating:
        return {}
    return {
        200: {
            "description": description,
            "content": {
                "application/json": {
                    "model": model,
                    "examples": {"success": {"summary": description, "value": example}},
                }
            },
        }
    }


# --- errors ----------------------------------------------------------------------------------

# status -> (component name, what it means, an example message for each code it carries)
_ERRORS: dict[int, tuple[str, str, dict[str, str]]] = {
    400: (
        "ValidationErrorResponse",
        "Malformed JSON, missing or ill-typed fields, unknown fields, an unparseable or non-UTC"
        " datetime, an unknown status value, an invalid path or query parameter.",
        {
            "VALIDATION_ERROR": "invalid request: scheduledPublishTime: must be an ISO 8601 UTC"
            " datetime such as 2025-10-21T14:30:00Z"
        },
    ),
    401: (
        "UnauthorizedResponse",
        "Missing, invalid or expired credentials (a revoked API key within 10 seconds).",
        {"UNAUTHORIZED": "invalid API key"},
    ),
    403: (
        "ForbiddenResponse",
        "The plan has no scheduling (FORBIDDEN), or its pending-post limit is reached"
        " (SCHEDULING_LIMIT_EXCEEDED: Basic 10, Professional 50).",
        {
            "FORBIDDEN": "the free plan does not include scheduling; upgrade to Basic or"
            " Professional",
            "SCHEDULING_LIMIT_EXCEEDED": "the basic plan allows 10 pending scheduled posts",
        },
    ),
    404: (
        "NotFoundResponse",
        "Unknown (or another user's) video, TikTok account, schedule or API key.",
        {"NOT_FOUND": "scheduled post not found"},
    ),
    409: (
        "ConflictResponse",
        "The request conflicts with the item's state, e.g. the video already has a pending"
        " schedule or was published, or the post was executed or is being published, or a"
        " request with the same Idempotency-Key is still being processed.",
        {"CONFLICT": "the video already has a pending scheduled post"},
    ),
    413: (
        "PayloadTooLargeResponse",
        "The request body is larger than 64 KiB.",
        {"PAYLOAD_TOO_LARGE": "request body exceeds 65536 bytes"},
    ),
    415: (
        "UnsupportedMediaTypeResponse",
        "The request body is not sent as `application/json`.",
        {"UNSUPPORTED_MEDIA_TYPE": "request body must be JSON (Content-Type: application/json)"},
    ),
    422: (
        "UnprocessableEntityResponse",
        "The publish time is in the past, closer than the minimum lead (15 minutes by default)"
        " or beyond the deployment's horizon; the video is not ready to publish; the TikTok"
        " account's authorization expired or was revoked (`details.reason`"
        " TIKTOK_AUTHORIZATION_EXPIRED); the creator does not offer the privacy level"
        " (TIKTOK_PRIVACY_LEVEL_NOT_ALLOWED); the video is longer than the creator may post"
        " (TIKTOK_VIDEO_TOO_LONG); the account already has 6 posts due in that UTC minute,"
        " TikTok's init limit (TIKTOK_ACCOUNT_MINUTE_FULL); or a webhook URL is refused"
        " (UNPROCESSABLE_ENTITY)."
        " The Idempotency-Key was used before with a different request"
        " (IDEMPOTENCY_KEY_REUSED).",
        {
            "UNPROCESSABLE_ENTITY": "scheduledPublishTime must be at least 900 seconds from now",
            "IDEMPOTENCY_KEY_REUSED": "this Idempotency-Key was already used with a different"
            " request; use a new key for a new request",
        },
    ),
    500: (
        "InternalErrorResponse",
        "A fault on our side; it has been logged and nothing about it is revealed.",
        {"INTERNAL_ERROR": "an internal error occurred; it has been logged"},
    ),
    503: (
        "ServiceUnavailableResponse",
        "A service the API depends on failed or is busy; nothing was changed, retry shortly.",
        {
            "SERVICE_UNAVAILABLE": "the database is busy with this data; nothing was changed,"
            " retry shortly"
        },
    ),
}

# Every operation may answer these.
COMMON_ERRORS = (400, 500, 503)
# ... and these when it needs credentials.
AUTHENTICATED_ERRORS = (401,)
# ... and these when it takes a JSON body.
BODY_ERRORS = (413, 415)


def errors(*statuses: int, messages: dict[int, str] | None = None) -> dict[int, Any]:
    """The error responses of `statuses`: each the envelope with the codes it carries and an
    example per code (`messages` replaces a status's first example message)."""
    found: dict[int, Any] = {}
    if not _generating:
        return found
    for status in sorted(set(statuses)):
        name, meaning, codes = _ERRORS[status]
        examples: dict[str, Any] = {}
        for index, (code, message) in enumerate(codes.items()):
            if index == 0 and messages and status in messages:
                message = messages[status]
            examples[code] = {
                "value": {"success": False, "error": {"code": code, "message": message}}
            }
        schema: dict[str, Any] = {"$ref": f"{_SCHEMAS}{name}"}
        found[status] = {
            "description": meaning,
            "content": {"application/json": {"schema": schema, "examples": examples}},
        }
    return found


def responses(
    ok: dict[int, Any],
    *statuses: int,
    authenticated: bool = True,
    body: bool = False,
    messages: dict[int, str] | None = None,
) -> dict[int, Any] | None:
    """A route's documented responses: its success, the errors every route may answer, those
    of authenticated routes and of routes with a JSON body, and its own `statuses` (None
    while no document is generated)."""
    if not _generating:
        return None
    every = {*COMMON_ERRORS, *statuses}
    if authenticated:
        every.update(AUTHENTICATED_ERRORS)
    if body:
        every.update(BODY_ERRORS)
    return {**ok, **errors(*every, messages=messages)}


def _error_schema(codes: list[str], meaning: str) -> dict[str, Any]:
    code: dict[str, Any] = {"const": codes[0]} if len(codes) == 1 else {"enum": codes}
    return {
        "type": "object",
        "description": meaning,
        "required": ["success", "error"],
        "additionalProperties": False,
        "properties": {
            "success": {"const": False},
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "additionalProperties": False,
                "properties": {
                    "code": {"type": "string", **code},
                    "message": {"type": "string", "description": "For people; may change"},
                    "details": {
                        "description": "Machine-readable specifics, e.g. the invalid fields"
                    },
                },
            },
        },
    }


def components() -> dict[str, dict[str, Any]]:
    """The schemas the error responses refer to (added to the document's components)."""
    return {name: _error_schema(list(codes), meaning) for name, meaning, codes in _ERRORS.values()}


# --- security --------------------------------------------------------------------------------

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearerJwt": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": (
            "A JWT from the deployment's identity provider (HS256 or RS256, with the configured"
            " issuer and audience; `sub` names the user): `Authorization: Bearer <JWT>`."
        ),
    },
    "bearerApiKey": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "API key",
        "description": (
            "An API key (`psk_...`, from POST /api/v1/api-keys): `Authorization: Bearer"
            " <API key>`. The same header as a JWT; the API tells them apart."
        ),
    },
}
# Either scheme authorizes a request.
SECURITY: list[dict[str, list[str]]] = [{name: []} for name in SECURITY_SCHEMES]


# --- the reference's examples ----------------------------------------------------------------

SCHEDULE_ID = "650e8400-e29b-41d4-a716-446655440000"
VIDEO_ID = "550e8400-e29b-41d4-a716-446655440000"
ACCOUNT_ID = "123e4567-e89b-12d3-a456-426614174000"

CREATED_SCHEDULE = {
    "scheduleId": SCHEDULE_ID,
    "scheduledTime": "2025-10-21T14:30:00.000Z",
    "status": "pending",
    "createdAt": "2025-01-20T10:30:00.000Z",
}
SCHEDULED_VIDEO = {
    "id": SCHEDULE_ID,
    "scheduledPublishTime": "2025-10-21T14:30:00.000Z",
    "status": "pending",
    "video": {
        "id": VIDEO_ID,
        "title": "Amazing TikTok Video",
        "description": "Check out this content!",
    },
    "tiktokAccount": {
        "id": ACCOUNT_ID,
        "username": "my_tiktok_handle",
        "displayName": "My TikTok Name",
    },
    "title": "Scheduled Amazing Video",
    "hashtags": "#trending #viral",
    "options": {
        "disableComment": False,
        "disableDuet": False,
        "disableStitch": False,
        "brandContentToggle": False,
        "brandOrganicToggle": False,
        "isAigc": False,
    },
    "createdAt": "2025-01-20T10:30:00.000Z",
    "updatedAt": "2025-01-20T10:30:00.000Z",
}
SCHEDULED_POST_DETAIL = {
    **SCHEDULED_VIDEO,
    "status": "executed",
    "attempts": 1,
    "publishStartedAt": "2025-10-21T14:30:00.012Z",
    "executedAt": "2025-10-21T14:30:41.300Z",
    "tiktokPublishId": "v_pub_file~v2-1.7123456789",
}
UPCOMING_POST = {
    "scheduleId": SCHEDULE_ID,
    "publishTime": "2025-10-21T14:30:00.000Z",
    "accountId": ACCOUNT_ID,
}
VIDEO = {
    "id": VIDEO_ID,
    "title": "Amazing TikTok Video",
    "description": "Check out this content!",
    "sizeBytes": 73400320,
    "contentType": "video/mp4",
    "status": "ready",
    "createdAt": "2025-01-20T10:00:00.000Z",
    "readyAt": "2025-01-20T10:02:00.000Z",
}
ACCOUNT = {
    "id": ACCOUNT_ID,
    "username": "my_tiktok_handle",
    "displayName": "My TikTok Name",
    "createdAt": "2025-01-20T09:00:00.000Z",
}
API_KEY = {
    "keyId": "8d5e0f7a-3c1b-4f2e-9a6d-2b7c4e1f0a93",
    "prefix": "psk_Xy12",
    "name": "CI pipeline",
    "createdAt": "2025-01-20T09:30:00.000Z",
    "lastUsedAt": "2025-01-20T10:30:00.000Z",
}


def ok_example(data: Any) -> dict[str, Any]:
    return {"success": True, "data": data}


def page_example(*items: Any) -> dict[str, Any]:
    return {"success": True, "data": list(items)}


UPLOADING_VIDEO = {
    **{k: v for k, v in VIDEO.items() if k != "readyAt"},
    "status": "uploading",
    "upload": {
        "method": "PUT",
        "expiresAt": "2025-01-20T11:00:00.000Z",
        "url": f"https://example-bucket.s3.amazonaws.com/videos/user-1/{VIDEO_ID}.mp4?X-Amz-Signature=...",
        "headers": {"Content-Type": "video/mp4"},
        "completePath": f"/api/v1/videos/{VIDEO_ID}/complete",
    },
}
API_KEY_PLAINTEXT = "psk_Xy12...the-whole-key-shown-once"
SCOPES = "user.info.basic,video.publish,video.upload"
CONNECT_START = {
    "authorizationUrl": (
        "https://www.tiktok.com/v2/auth/authorize/?client_key=...&scope=user.info.basic,"
        "video.publish,video.upload&response_type=code&redirect_uri=...&state=..."
    ),
    "state": "c2F2ZWQtc3RhdGUtdmFsdWUtZXhhbXBsZQ",
    "redirectUri": "https://api.example.com/api/v1/tiktok-accounts/callback",
    "expiresAt": "2025-01-20T10:40:00.000Z",
}


WEBHOOK_ID = "2f1c9a40-7d3e-4b6a-9c51-8e0f4d2b7a16"
WEBHOOK = {
    "id": WEBHOOK_ID,
    "url": "https://hooks.example.com/tiktok-posts",
    "events": ["schedule.executed", "schedule.failed"],
    "createdAt": "2025-01-20T10:40:00.000Z",
}
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 - a documentation example
DELIVERY = {
    "eventId": "msg_5f0e3c1a9b7d4e2f8a6c0b1d3e5f7a9c",
    "type": "schedule.executed",
    "scheduleId": SCHEDULE_ID,
    "status": "pending",
    "attempt": 2,
    "responseStatus": 500,
    "time": "2025-10-21T14:30:47.000Z",
    "nextAttemptAt": "2025-10-21T14:35:47.000Z",
    "error": "HTTP 500",
    "occurredAt": "2025-10-21T14:30:41.300Z",
}
