"""API Gateway HTTP API, locally: routes from the template's `HttpApi` events, the default
Lambda authorizer with its identity sources and result cache, payload 2.0 events in and out.

Behaviour follows API Gateway's: no route -> 404 `{"message":"Not Found"}`; a missing identity
source (when the template declares one) -> 401 `{"message":"Unauthorized"}` without calling the
authorizer; no identity source -> the authorizer runs on every request; `isAuthorized: false`
-> 403 `{"message":"Forbidden"}`; a function that raises -> 500
`{"message":"Internal Server Error"}`; a function with no concurrency left (see
local/aws/concurrency.py) -> 429 `{"message":"Too Many Requests"}`.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from local.aws.apigw import authorizer_event, route_event
from local.aws.concurrency import Throttled
from local.aws.lambda_runtime import FunctionRunner
from local.aws.template import HttpRoute, Template

logger = logging.getLogger("local.gateway")


@dataclass
class GatewayResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    cookies: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.body)


def _gateway_error(status: int, message: str) -> GatewayResponse:
    return GatewayResponse(
        status, {"content-type": "application/json"}, json.dumps({"message": message}).encode()
    )


def _throttled() -> GatewayResponse:
    """The function had no concurrency left: API Gateway's throttling answer."""
    return _gateway_error(429, "Too Many Requests")


def lambda_result_to_response(result: Any) -> GatewayResponse:
    """Payload 2.0 response rules: a dict with statusCode is taken as is; anything else is a
    200 JSON body."""
    if isinstance(result, dict) and "statusCode" in result:
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
        headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        for key, values in (result.get("multiValueHeaders") or {}).items():
            headers[key.lower()] = ",".join(str(v) for v in values)
        return GatewayResponse(int(result["statusCode"]), headers, raw, result.get("cookies") or [])
    body = result if isinstance(result, str) else json.dumps(result)
    return GatewayResponse(200, {"content-type": "application/json"}, body.encode())


class Gateway:
    """Turns HTTP requests into function invocations the way the deployed HTTP API does."""

    def __init__(self, template: Template, runner: FunctionRunner | None = None) -> None:
        self.template = template
        self.runner = runner or FunctionRunner(template)
        self.routes: list[HttpRoute] = template.http_routes()
        self.authorizer = template.http_authorizer()
        self._cache: dict[tuple[str, ...], tuple[float, dict[str, Any]]] = {}
        self._cache_lock = threading.Lock()

    def match(self, method: str, path: str) -> tuple[HttpRoute, dict[str, str]] | None:
        # API Gateway prefers the most specific route: literal paths before parameterised ones.
        candidates = sorted(self.routes, key=lambda r: r.path.count("{"))
        for route in candidates:
            if route.method != method.upper():
                continue
            found = route.pattern.match(path)
            if found:
                return route, found.groupdict()
        return None

    def handle(
        self,
        method: str,
        path: str,
        raw_query: str = "",
        headers: list[tuple[str, str]] | None = None,
        body: bytes | None = None,
        source_ip: str = "127.0.0.1",
    ) -> GatewayResponse:
        matched = self.match(method, path)
        if matched is None:
            return _gateway_error(404, "Not Found")
        route, path_parameters = matched
        event = route_event(
            method=method.upper(),
            path=path,
            route_key=route.route_key,
            raw_query=raw_query,
            headers=headers or [],
            body=body,
            path_parameters=path_parameters or None,
            source_ip=source_ip,
        )
        if not route.public:
            decision = self._authorize(event)
            if isinstance(decision, GatewayResponse):
                return decision
            event["requestContext"]["authorizer"] = {"lambda": decision}
        try:
            result = self.runner.invoke(route.function, event)
        except Throttled:
            return _throttled()
        except Exception:
            logger.exception("function %s failed", route.function)
            return _gateway_error(500, "Internal Server Error")
        return lambda_result_to_response(result)

    def _authorize(self, event: dict[str, Any]) -> dict[str, Any] | GatewayResponse:
        headers = event["headers"]
        identity = tuple(headers.get(h.lower(), "") for h in self.authorizer["headers"])
        if not all(identity):
            return _gateway_error(401, "Unauthorized")
        ttl = self.authorizer["ttl"]
        now = time.monotonic()
        with self._cache_lock:
            cached = self._cache.get(identity)
        if ttl and cached and cached[0] > now:
            answer = cached[1]
        else:
            try:
                answer = self.runner.invoke(
                    self.authorizer["function"],
                    authorizer_event(event, self.authorizer["headers"]),
                )
            except Throttled:
                return _throttled()
            except Exception:
                logger.exception("authorizer failed")
                return _gateway_error(500, "Internal Server Error")
            if ttl:
                with self._cache_lock:
                    self._cache[identity] = (now + ttl, answer)
        if not answer.get("isAuthorized"):
            return _gateway_error(403, "Forbidden")
        context: dict[str, Any] = answer.get("context") or {}
        return context

    def forget_cached_authorizations(self) -> None:
        """Clear the gateway's cache and, as a fresh authorizer instance would start, the
        authorizer's own memory of credentials (benchmarks count uncached requests)."""
        with self._cache_lock:
            self._cache.clear()
        from post_scheduler import wiring

        wiring.authorizer.cache_clear()
