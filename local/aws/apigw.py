"""API Gateway HTTP API (payload format 2.0) events, built as API Gateway builds them: the route
event a function receives and the REQUEST event the Lambda authorizer receives."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

API_ID = "localapi"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
STAGE = "$default"
_TEXT_TYPES = ("application/json", "text/", "application/xml", "application/x-www-form-urlencoded")


def _joined(pairs: Iterable[tuple[str, str]], lower: bool = False) -> dict[str, str]:
    """HTTP API joins repeated headers and query parameters with commas."""
    joined: dict[str, str] = {}
    for key, value in pairs:
        key = key.lower() if lower else key
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined


def _request_time(now: float) -> tuple[str, int]:
    moment = datetime.fromtimestamp(now, UTC)
    return moment.strftime("%d/%b/%Y:%H:%M:%S +0000"), int(now * 1000)


def _body_fields(body: bytes | None, content_type: str) -> dict[str, Any]:
    if not body:
        return {"isBase64Encoded": False}
    if content_type.lower().startswith(_TEXT_TYPES) or not content_type:
        try:
            return {"body": body.decode("utf-8"), "isBase64Encoded": False}
        except UnicodeDecodeError:
            pass
    return {"body": base64.b64encode(body).decode(), "isBase64Encoded": True}


def _request_context(
    method: str,
    path: str,
    route_key: str,
    headers: dict[str, str],
    source_ip: str,
    request_id: str,
    now: float,
) -> dict[str, Any]:
    text_time, epoch_ms = _request_time(now)
    host = headers.get("host", "127.0.0.1")
    return {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": host,
        "domainPrefix": host.split(".")[0],
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": STAGE,
        "time": text_time,
        "timeEpoch": epoch_ms,
    }


def new_request_id() -> str:
    # API Gateway's ids look like "JKJaXmPLvHcESHA="; any unique string serves locally.
    return base64.b64encode(uuid.uuid4().bytes[:10]).decode()


def route_event(
    *,
    method: str,
    path: str,
    route_key: str,
    raw_query: str = "",
    headers: Iterable[tuple[str, str]] = (),
    body: bytes | None = None,
    path_parameters: dict[str, str] | None = None,
    authorizer_context: dict[str, Any] | None = None,
    source_ip: str = "127.0.0.1",
    request_id: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The event a route's function receives."""
    now = time.time() if now is None else now
    header_map = _joined(headers, lower=True)
    cookies = [c.strip() for c in header_map.pop("cookie", "").split(";") if c.strip()]
    query = _joined(parse_qsl(raw_query, keep_blank_values=True))
    context = _request_context(
        method, path, route_key, header_map, source_ip, request_id or new_request_id(), now
    )
    if authorizer_context is not None:
        context["authorizer"] = {"lambda": authorizer_context}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": header_map,
        "requestContext": context,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    event.update(_body_fields(body, header_map.get("content-type", "")))
    return event


def authorizer_event(route: dict[str, Any], identity_headers: list[str]) -> dict[str, Any]:
    """The REQUEST authorizer event (payload 2.0) for a route event."""
    headers = route["headers"]
    method = route["requestContext"]["http"]["method"]
    event = {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": (
            f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{STAGE}/{method}{route['rawPath']}"
        ),
        "identitySource": [headers[h.lower()] for h in identity_headers if h.lower() in headers],
        "routeKey": route["routeKey"],
        "rawPath": route["rawPath"],
        "rawQueryString": route["rawQueryString"],
        "headers": headers,
        "requestContext": {k: v for k, v in route["requestContext"].items() if k != "authorizer"},
    }
    for optional in ("cookies", "queryStringParameters", "pathParameters"):
        if optional in route:
            event[optional] = route[optional]
    return event
