"""A stand-in for TikTok's OAuth and Content Posting API on loopback.

It enforces the protocol as TikTok documents it (token grants with refresh-token rotation,
Bearer scopes, Direct Post init validation, the chunk rules of FILE_UPLOAD, sequential
Content-Range uploads within the upload URL's hour, status polling) and answers with TikTok's
error envelopes and statuses. Faults can be injected from Python or over HTTP (`POST /_faults`)
and what it received is listed at `GET /_inspect/posts`. Received video bytes are counted and
hashed, never kept.

This module routes requests to the parts (`state`, `faults`, `oauth`, `posting`, `upload`,
`inspection`) and serves them over HTTP.

Run alone: `python -m local.tiktok --port 3001 --demo`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from local.tiktok.faults import Fault
from local.tiktok.inspection import Inspection
from local.tiktok.oauth import OAuth
from local.tiktok.posting import Posting
from local.tiktok.protocol import (
    AUTHORIZE_PATH,
    ENDPOINT_BY_ROUTE,
    ENDPOINT_PATHS,
    Reply,
    StubError,
    envelope,
    iso,
    new_log_id,
)
from local.tiktok.upload import Upload

logger = logging.getLogger("local.tiktok")

_MAX_JSON_BODY: Final = 1024 * 1024
# Bodies of rejected PUTs up to this size are read and discarded so the reply reaches the
# client (closing with unread data makes the kernel reset the connection, losing the reply).
_MAX_DRAIN_BYTES: Final = 256 * 1024 * 1024
_READ_BLOCK: Final = 1024 * 1024


class TikTokStub(Inspection, OAuth, Posting, Upload):
    """The stand-in server: the state and its endpoints behind one HTTP server on a thread."""

    _server: StubServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> TikTokStub:
        if self._server is not None:
            return self
        self._server = StubServer((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"tiktok-stub-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> TikTokStub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def handle(self, request: StubHandler) -> Reply:
        """Routes one request; `request` gives headers, query and body access."""
        endpoint = ENDPOINT_BY_ROUTE.get((request.command, request.path_only))
        if endpoint is None:
            return self._handle_internal(request)
        if endpoint == "upload":
            return self._upload(request)
        body = request.read_body()
        delay, fault = self._take_fault(endpoint)
        if delay:
            time.sleep(delay)
        if fault is not None and not fault.after_processing:
            return self._fault_reply(endpoint, fault)
        try:
            reply = self._api(endpoint, request, body)
        except StubError as error:
            reply = self._error_reply(endpoint, error.status, error.code, error.message)
        if fault is not None:
            reply.drop = True
        return reply

    def _fault_reply(self, endpoint: str, fault: Fault) -> Reply:
        if fault.kind == "drop":
            return Reply(0, drop=True)
        return self._error_reply(endpoint, fault.status, fault.code, fault.message)

    def _error_reply(self, endpoint: str, status: int, code: str, message: str) -> Reply:
        if endpoint == "oauth_token":
            payload = {"error": code, "error_description": message, "log_id": new_log_id()}
            return Reply.json(status, payload)
        return Reply.json(status, envelope(None, code, message))

    def _api(self, endpoint: str, request: StubHandler, body: bytes) -> Reply:
        if endpoint == "oauth_token":
            return Reply.json(200, self._oauth_token(request, body))
        grant = self._authenticate(request)
        if endpoint == "user_info":
            return Reply.json(200, envelope({"user": self._user_info(grant, request.query)}))
        payload = self._json_body(body, allow_empty=endpoint == "creator_info")
        self._check_rate(endpoint, request.bearer or "")
        if endpoint == "creator_info":
            self._require_scope(grant, "video.publish")
            return Reply.json(200, envelope(self._creator_info(grant)))
        if endpoint == "video_init":
            self._require_scope(grant, "video.publish")
            return Reply.json(200, envelope(self._video_init(grant, payload)))
        self._require_scope(grant, "video.publish", "video.upload")
        return Reply.json(200, envelope(self._status_fetch(grant, payload)))

    @staticmethod
    def _json_body(body: bytes, allow_empty: bool = False) -> dict[str, Any]:
        if not body.strip() and allow_empty:
            return {}
        try:
            payload = json.loads(body)
        except ValueError:
            raise StubError(400, "invalid_param", "request body is not valid JSON") from None
        if not isinstance(payload, dict):
            raise StubError(400, "invalid_param", "request body must be a JSON object")
        return payload

    def _handle_internal(self, request: StubHandler) -> Reply:
        method, path = request.command, request.path_only
        body = request.read_body()
        if method == "GET" and path == AUTHORIZE_PATH:
            return self._authorize(request.query)
        if path in {route[1] for route in ENDPOINT_PATHS.values()}:
            return Reply.json(405, envelope(None, "method_not_allowed", f"{method} {path}"))
        reply = self._inspect_reply(method, path)
        if reply is None:
            reply = self._control_reply(method, path, body)
        if reply is not None:
            return reply
        return Reply.json(404, envelope(None, "not_found", f"{method} {path}"))


# --- HTTP plumbing ------------------------------------------------------------------------------


class StubServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], stub: TikTokStub) -> None:
        self.stub = stub
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, StubHandler)

    def track(self, connection: socket.socket, alive: bool) -> None:
        with self._connections_lock:
            if alive:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """Ends idle keep-alive connections so their threads finish with the server."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class StubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: StubServer
    # Idle keep-alive connections and stalled bodies give up after this many seconds.
    timeout = 60

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every reply.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug(format, *args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    # --- request access used by the stub ------------------------------------------------------

    @property
    def path_only(self) -> str:
        return urlsplit(self.path).path

    @property
    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}

    @property
    def bearer(self) -> str | None:
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return token.strip() or None

    @property
    def content_length(self) -> int | None:
        raw = self.headers.get("Content-Length")
        if raw is None or not raw.strip().isdigit():
            return None
        return int(raw)

    def read_body(self) -> bytes:
        """A small (JSON or form) body, whole."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            # The sink gets views of a reused buffer: copy them.
            self._read_chunked(lambda part: parts.append(bytes(part)))
            return b"".join(parts)
        length = self.content_length or 0
        if length > _MAX_JSON_BODY:
            self.close_connection = True
            return b""
        return self.rfile.read(length) if length else b""

    def read_body_into(self, length: int, sink: Callable[[memoryview], object]) -> bool:
        """Streams exactly `length` body bytes into `sink`; False when the body ended early."""
        buffer = bytearray(min(length, _READ_BLOCK))
        view = memoryview(buffer)
        remaining = length
        while remaining:
            got = self.rfile.readinto(view[: min(remaining, len(buffer))])
            if not got:
                self.close_connection = True
                return False
            sink(view[:got])
            remaining -= got
        return True

    def reject(self, reply: Reply) -> Reply:
        """Discards the request body so the reply can be read, or gives up the connection."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self._read_chunked(lambda _part: None)
            return reply
        length = self.content_length
        if length is None or length > _MAX_DRAIN_BYTES:
            self.close_connection = True
            return reply
        if not self.read_body_into(length, lambda _part: None):
            reply.drop = True
        return reply

    def _read_chunked(self, sink: Callable[[memoryview], object]) -> None:
        while True:
            size_line = self.rfile.readline(1024)
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                return
            if size == 0:
                while self.rfile.readline(1024).strip():
                    pass
                return
            if not self.read_body_into(size, sink):
                return
            self.rfile.readline(3)

    # --- dispatch -----------------------------------------------------------------------------

    def _dispatch(self) -> None:
        stub = self.server.stub
        started = stub.now()
        try:
            reply = stub.handle(self)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
            return
        except Exception:
            logger.exception("stub failed on %s %s", self.command, self.path_only)
            reply = Reply.json(500, envelope(None, "internal_error", "stub failure"))
        stub.record(
            {
                "at": iso(started),
                "method": self.command,
                "path": self.path_only,
                "endpoint": ENDPOINT_BY_ROUTE.get((self.command, self.path_only)),
                "status": None if reply.drop else reply.status,
                "dropped": reply.drop,
            }
        )
        if reply.drop:
            self.close_connection = True
            return
        # The client may be gone already (it sent a short body and left).
        with contextlib.suppress(ConnectionError):
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(reply.body)

    def version_string(self) -> str:
        return "tiktok-stub"


# --- running alone ----------------------------------------------------------------------------


def _serve(arguments: argparse.Namespace) -> None:
    stub = TikTokStub(
        host=arguments.host,
        port=arguments.port,
        client_key=arguments.client_key,
        client_secret=arguments.client_secret,
        rate_limits=arguments.rate_limits,
    )
    stub.start()
    print(f"TikTok stub on {stub.base_url} (client_key {stub.client_key})", flush=True)
    if arguments.demo:
        stub.add_creator("demo-open-id", "demo.creator", "Demo Creator")
        tokens = stub.issue_tokens("demo-open-id")
        print(f"demo creator tokens: {json.dumps(tokens)}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stub.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m local.tiktok", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3001)
    parser.add_argument("--client-key", default="stub-client-key")
    parser.add_argument("--client-secret", default="stub-client-secret")
    parser.add_argument("--rate-limits", action="store_true", help="enforce TikTok's rate limits")
    parser.add_argument("--demo", action="store_true", help="add a demo creator, print tokens")
    logging.basicConfig(level=logging.INFO)
    _serve(parser.parse_args(argv))


if __name__ == "__main__":
    main()
