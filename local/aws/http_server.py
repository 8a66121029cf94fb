"""The API on loopback: Werkzeug serves HTTP and hands every request to the local API Gateway
(local/aws/gateway.py), which routes it by the template's `HttpApi` events. Besides the API, it
serves the OpenAPI document at /api/v1/openapi.json and Swagger UI at /api/v1/docs
(local/aws/openapi.py). One log line per request: method, path, status and time taken; the path is
logged with control and other unprintable characters escaped, so a decoded `%0a` cannot forge
a line."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from local.aws.gateway import Gateway, GatewayResponse
from local.aws.openapi import ApiDocs

logger = logging.getLogger("local.api")

# Hop-by-hop and framing headers are the server's business, not the function's.
_SERVER_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive"}


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without its own access log (the app logs each request)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class ApiServer:
    """A threaded HTTP server in front of a Gateway."""

    def __init__(self, gateway: Gateway, host: str = "127.0.0.1", port: int = 3000) -> None:
        self.gateway = gateway
        self.docs = ApiDocs(gateway.template)
        self._server: BaseWSGIServer = make_server(
            host, port, self.wsgi, threaded=True, request_handler=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="api-server", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"http://{self._server.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        started = time.perf_counter()
        try:
            result = (
                self._local_lambda(request.method, request.path, request.args.get("since"))
                or self.docs.response(request.method, request.path)
                or self.gateway.handle(
                    request.method,
                    request.path,
                    environ.get("QUERY_STRING", ""),
                    list(request.headers.items()),
                    request.get_data(),
                    request.remote_addr or "127.0.0.1",
                )
            )
        except Exception:
            logger.exception("the local gateway failed")
            result = GatewayResponse(
                500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}'
            )
        response = to_werkzeug(result)
        logger.info(
            "%s %s %d %.1f ms",
            loggable(request.method),
            loggable(request.path),
            result.status,
            (time.perf_counter() - started) * 1000,
        )
        return response(environ, start_response)

    def _local_lambda(self, method: str, path: str, since: str | None) -> GatewayResponse | None:
        """The local stack's Lambda figures (not an API route): `GET /_local/lambda?since=<epoch>`
        reports invocations, billed GB-seconds, peak concurrency and throttles per function;
        `POST /_local/lambda/reset` starts counting peaks and throttles afresh."""
        gate = self.gateway.runner.gate
        if path == "/_local/lambda" and method == "GET":
            try:
                start = float(since or 0)
            except ValueError:
                start = 0.0
            body = json.dumps(gate.report(since=start)).encode()
        elif path == "/_local/lambda/reset" and method == "POST":
            gate.reset_peaks()
            body = b"{}"
        else:
            return None
        return GatewayResponse(200, {"content-type": "application/json"}, body)


def loggable(text: str, limit: int = 2000) -> str:
    """`text` on one printable line: backslashes doubled, every unprintable character (line
    breaks, escape sequences, NUL, Unicode separators) as a \\x, \\u or \\U escape."""
    out = []
    for char in text[:limit]:
        if char == "\\":
            out.append("\\\\")
        elif char.isprintable():
            out.append(char)
        else:
            code = ord(char)
            out.append(
                f"\\x{code:02x}"
                if code < 0x100
                else f"\\u{code:04x}"
                if code < 0x10000
                else f"\\U{code:08x}"
            )
    return "".join(out) + ("..." if len(text) > limit else "")


def to_werkzeug(result: GatewayResponse) -> Response:
    response = Response(result.body, status=result.status)
    response.headers.remove("Content-Type")
    for name, value in result.headers.items():
        if name.lower() not in _SERVER_HEADERS:
            response.headers[name] = value
    for cookie in result.cookies:
        response.headers.add("Set-Cookie", cookie)
    return response
