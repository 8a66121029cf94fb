"""The API's HTTP conventions in one place: the envelope, the error mapping, body limits, and
the rule that authenticated routes refuse callers without credentials before anything else.

Each function builds a `JsonApi`, declares its routes on `.routes` (a Powertools
APIGatewayHttpResolver with validation on, which also feeds the OpenAPI document), and hands its
Lambda events to `.handle`.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from post_scheduler.api.caller import Caller, caller_from_event
from post_scheduler.errors import (
    ApiError,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from post_scheduler.errors import (
    ValidationFailed as ValidationFailed,
)

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 16
_JSON = "application/json"


def envelope_response(status: int, payload: dict[str, Any]) -> Response[str]:
    return Response(
        status_code=status,
        content_type=_JSON,
        body=json.dumps(payload, separators=(",", ":"), ensure_ascii=False),
    )


def ok(data: Any, next_token: str | None = None, status: int = 200) -> Response[str]:
    """A success envelope; list responses add `nextToken` only when another page exists."""
    payload: dict[str, Any] = {"success": True, "data": data}
    if next_token:
        payload["nextToken"] = next_token
    return envelope_response(status, payload)


def error_response(error: ApiError) -> Response[str]:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.details is not None:
        body["details"] = error.details
    return envelope_response(error.status_code, {"success": False, "error": body})


def _field_of(location: Any) -> str:
    parts = [str(p) for p in (location or ()) if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def validation_failure(errors: list[dict[str, Any]]) -> ValidationFailed:
    """Powertools/pydantic validation errors as our 400, naming each field."""
    details = []
    for error in errors:
        if error.get("type") == "json_invalid":
            return ValidationFailed("request body is not valid JSON")
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        details.append({"field": _field_of(error.get("loc")), "message": message})
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return ValidationFailed(f"invalid request: {summary}", details)


class _StrictJson:
    """Body checks Powertools does not make: size, nesting depth, duplicate keys, NaN."""

    @staticmethod
    def check(event: dict[str, Any]) -> None:
        body = event.get("body")
        if body is None or body == "":
            return
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        if event.get("isBase64Encoded"):
            try:
                raw = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                raise ValidationFailed("request body is not valid base64") from None
        else:
            raw = body.encode("utf-8", "surrogatepass")
        if len(raw) > MAX_BODY_BYTES:
            raise PayloadTooLarge(
                f"request body exceeds {MAX_BODY_BYTES} bytes", {"maxBytes": MAX_BODY_BYTES}
            )
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type and content_type != _JSON and not content_type.endswith("+json"):
            raise UnsupportedMediaType(
                "request body must be JSON (Content-Type: application/json)",
                {"contentType": content_type[:100]},
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationFailed("request body is not valid UTF-8") from None
        if _nesting_depth(text) > MAX_JSON_DEPTH:
            raise ValidationFailed(f"request body nests deeper than {MAX_JSON_DEPTH} levels")
        try:
            parsed = json.loads(
                text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants
            )
        except ValidationFailed:
            raise
        except ValueError:
            raise ValidationFailed("request body is not valid JSON") from None
        # Every body is an object; Powertools would take an array's first item as the body.
        if not isinstance(parsed, dict):
            raise ValidationFailed("request body must be a JSON object")


def _nesting_depth(text: str) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValidationFailed(
                f"duplicate key {key[:50]!r} in request body", {"field": key[:50]}
            )
        seen[key] = value
    return seen


def _no_constants(name: str) -> Any:
    raise ValidationFailed(f"{name} is not a JSON value")


class _Resolver(APIGatewayHttpResolver):
    """Powertools keeps the current event and context on a class shared by every resolver in
    the process. Lambda runs one event per process, but a local runner that serves concurrent
    requests from one process (one handler instance each) would see them cross: one request
    validated with another's body and caller. This resolver keeps its own."""

    _own_event: Any = None
    _own_context: Any = None

    @property
    def current_event(self) -> Any:
        return self._own_event

    @current_event.setter
    def current_event(self, value: Any) -> None:
        self._own_event = value

    @property
    def lambda_context(self) -> Any:
        return self._own_context

    @lambda_context.setter
    def lambda_context(self, value: Any) -> None:
        self._own_context = value

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        self._own_event = self._to_proxy_event(dict(event))
        self._own_context = context
        return super().resolve(event, context)


class JsonApi:
    """One function's routes with the API's conventions."""

    def __init__(self, *, authenticated: bool = True, idempotency_scope: str | None = None) -> None:
        """`idempotency_scope` (a name per function) makes the routes honour `Idempotency-Key`."""
        self.authenticated = authenticated
        self.idempotency_scope = idempotency_scope
        self.routes = _Resolver(enable_validation=True)
        self.routes.exception_handler(ApiError)(error_response)
        self.routes.exception_handler(RequestValidationError)(
            lambda exc: error_response(validation_failure(list(exc.errors())))
        )
        self.routes.exception_handler(RequestUnsupportedContentType)(
            lambda exc: error_response(UnsupportedMediaType("request body must be JSON"))
        )
        self.routes.not_found()(lambda exc: error_response(NotFound("no such route")))
        self.routes.exception_handler(Exception)(self._unexpected)

    @staticmethod
    def _unexpected(exc: Exception) -> Response[str]:
        if isinstance(exc, NotFoundError):
            return error_response(NotFound("no such route"))
        logger.exception("unhandled error")
        return error_response(ApiError("an internal error occurred; it has been logged"))

    @property
    def caller(self) -> Caller:
        """The authenticated caller of the request being handled."""
        return caller_from_event(self.routes.current_event.raw_event)

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Check credentials and body shape first (so a caller without credentials learns
        nothing about validation), then route."""
        key = None
        try:
            if self.authenticated:
                caller_from_event(event)
            _StrictJson.check(event)
            if self.idempotency_scope is not None:
                from post_scheduler.api.idempotency import idempotency_key

                key = idempotency_key(event)
        except ApiError as error:
            return _as_http_api_result(error_response(error))
        _normalise_content_type(event)
        if key is None or self.idempotency_scope is None:
            result: dict[str, Any] = self.routes.resolve(event, context)
            return result
        from post_scheduler.api.idempotency import run_idempotent

        try:
            return run_idempotent(
                self.idempotency_scope,
                caller_from_event(event).user_id,
                key,
                event,
                context,
                lambda: self.routes.resolve(event, context),
            )
        except ApiError as error:
            return _as_http_api_result(error_response(error))

    def lambda_handler(self) -> Any:
        """The function's Lambda entry point, with logging (request id as correlation id),
        tracing and metrics around `handle`."""
        from post_scheduler.observability import HTTP_CORRELATION, logger, metrics, tracer

        @logger.inject_lambda_context(correlation_id_path=HTTP_CORRELATION)
        @tracer.capture_lambda_handler
        @metrics.log_metrics
        def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            return self.handle(event, context)

        return lambda_handler


def _normalise_content_type(event: dict[str, Any]) -> None:
    """Media types are case-insensitive (RFC 9110), Powertools' body parser is not: hand it the
    lower-case form of a JSON content type `_StrictJson` already accepted."""
    headers = event.get("headers") or {}
    for name, value in list(headers.items()):
        if name.lower() == "content-type" and isinstance(value, str):
            media_type, _, parameters = value.partition(";")
            headers[name] = media_type.strip().lower() + (f";{parameters}" if parameters else "")


def _as_http_api_result(response: Response[str]) -> dict[str, Any]:
    return {
        "statusCode": response.status_code,
        "headers": {"Content-Type": _JSON},
        "body": response.body,
        "isBase64Encoded": False,
    }
