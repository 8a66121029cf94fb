"""Waiting for a launched local stack: a first request slower than the probe's own timeout (a
cold start on a loaded machine) means "not ready yet", not a failed start."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from local.launcher import RunningStack, StackFailed, _wait_until_ready


class StillRunning:
    """Stands in for the stack's process, which has not exited."""

    returncode = None

    def poll(self) -> None:
        return None


@pytest.fixture
def slow_first_answer(tmp_path: Path) -> Iterator[tuple[RunningStack, list[float]]]:
    """A server whose first request takes 3 s (the probe waits 2 s), then answers at once."""
    answered: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if not answered:
                time.sleep(3)
            answered.append(time.monotonic())
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    log = tmp_path / "stack.log"
    log.write_text("")
    stack = RunningStack(
        api_url=url, stub_url=url, moto_url=url, keys={}, log_path=log, min_lead_seconds=5
    )
    try:
        yield stack, answered
    finally:
        server.shutdown()
        server.server_close()


def test_a_first_answer_slower_than_the_probe_is_waited_for(
    slow_first_answer: tuple[RunningStack, list[float]],
) -> None:
    stack, answered = slow_first_answer

    _wait_until_ready(StillRunning(), stack, timeout=30)  # type: ignore[arg-type]

    assert len(answered) >= 2  # the slow one, then the one that found it ready


def test_a_stack_that_never_answers_in_time_fails_with_its_log(
    slow_first_answer: tuple[RunningStack, list[float]],
) -> None:
    stack, _ = slow_first_answer

    with pytest.raises(StackFailed, match="not ready in time"):
        _wait_until_ready(StillRunning(), stack, timeout=1)  # type: ignore[arg-type]
