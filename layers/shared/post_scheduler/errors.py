"""The one error hierarchy of the API. Each type carries its HTTP status and public error code;
`api.http.error_response` maps them to the envelope in one place."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error a client should see, with a stable code and a human message."""

    status_code = 500
    code = "INTERNAL_ERROR"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ValidationFailed(ApiError):
    status_code = 400
    code = "VALIDATION_ERROR"


class Unauthorized(ApiError):
    status_code = 401
    code = "UNAUTHORIZED"


class Forbidden(ApiError):
    status_code = 403
    code = "FORBIDDEN"


class SchedulingLimitExceeded(ApiError):
    status_code = 403
    code = "SCHEDULING_LIMIT_EXCEEDED"


class NotFound(ApiError):
    status_code = 404
    code = "NOT_FOUND"


class Conflict(ApiError):
    status_code = 409
    code = "CONFLICT"


class PayloadTooLarge(ApiError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(ApiError):
    status_code = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class Unprocessable(ApiError):
    status_code = 422
    code = "UNPROCESSABLE_ENTITY"


class IdempotencyKeyReused(ApiError):
    """The Idempotency-Key was used before with a different request."""

    status_code = 422
    code = "IDEMPOTENCY_KEY_REUSED"


class DependencyUnavailable(ApiError):
    """An AWS service we depend on failed; nothing was changed, the client may retry."""

    status_code = 503
    code = "SERVICE_UNAVAILABLE"
