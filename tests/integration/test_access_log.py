"""The local stack's access log: one line per request, whatever the request's path holds
(a decoded `%0a` must not start a forged line, nor other control characters reach the log)."""

from __future__ import annotations

import logging

import pytest
from werkzeug.test import Client

from local.aws.http_server import ApiServer
from tests.support import AwsStack


@pytest.fixture
def client(stack: AwsStack) -> Client:
    server = ApiServer(stack.gateway, port=0)  # not started: requests go straight to its WSGI app
    try:
        yield Client(server.wsgi)
    finally:
        server._server.server_close()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/videos%0a127.0.0.1 GET /admin 200",
        "/api/v1/videos%0d%0aforged",
        "/api/v1/%1b[31mred%1b[0m",
        "/api/v1/%00%7f%e2%80%a8end",
    ],
)
def test_control_characters_in_the_path_are_escaped(
    client: Client, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    with caplog.at_level(logging.INFO, logger="local.api"):
        client.get(path)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "local.api"]
    assert line.isprintable(), repr(line)
    assert "\\x0a" in line or "\\x0d" in line or "\\x1b" in line or "\\x00" in line
