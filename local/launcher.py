"""Starting the local stack as a child process (`python -m local`) on free ports, waiting until
it serves, and stopping it: what the end-to-end tests, the fuzz tests and the benchmarks share."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_SECONDS = 120


class StackFailed(RuntimeError):
    """The stack exited or did not become ready; the message ends with its log's tail."""


def free_ports(count: int) -> list[int]:
    """`count` distinct ports free on loopback right now."""
    probes = []
    try:
        for _ in range(count):
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            probe.bind(("127.0.0.1", 0))
            probes.append(probe)
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


@dataclass
class RunningStack:
    api_url: str
    stub_url: str
    moto_url: str
    keys: dict[str, str]
    log_path: Path
    min_lead_seconds: int
    exit_code: int | None = None
    # The local stack's own settings it was started with (jitter, duplicates, seed).
    settings: dict[str, str] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"{self.api_url}{path}"

    def log_tail(self, lines: int = 60) -> str:
        """The log's last lines, after the settings that replay the run."""
        text = self.log_path.read_text(errors="replace").splitlines()
        replay = " ".join(f"{key}={value}" for key, value in sorted(self.settings.items()))
        header = [f"(stack started with {replay})"] if replay else []
        return "\n".join(header + text[-lines:])

    def aws(self, service: str) -> Any:
        """A client of the stack's moto server (to look behind the API)."""
        return boto3.client(
            service,
            endpoint_url=self.moto_url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto accepts any
        )

    def call(
        self, method: str, path: str, plan: str | None = "basic", **kwargs: Any
    ) -> requests.Response:
        """An API request with the plan's demo key (`plan=None`: no credentials)."""
        headers = dict(kwargs.pop("headers", {}))
        if plan is not None:
            headers["Authorization"] = f"Bearer {self.keys[plan]}"
        return requests.request(method, self.url(path), headers=headers, timeout=30, **kwargs)

    def stub_posts(self) -> list[dict[str, Any]]:
        """What the stand-in TikTok received."""
        response = requests.get(f"{self.stub_url}/_inspect/posts", timeout=10)
        response.raise_for_status()
        posts: list[dict[str, Any]] = response.json()
        return posts


def stack_environment(
    ports: list[int],
    keys: dict[str, str],
    min_lead_seconds: int,
    settings: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """This process's environment without anything that would point the child elsewhere, plus
    `settings` (the local stack's own variables, e.g. LOCAL_SCHEDULER_JITTER_SECONDS)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_ENDPOINT_URL", "DEMO_API_KEY_", "AWS_PROFILE"))
    }
    env.update(
        {
            "PORT": str(ports[0]),
            "TIKTOK_STUB_PORT": str(ports[1]),
            "MOTO_PORT": str(ports[2]),
            "MIN_SCHEDULE_LEAD_SECONDS": str(min_lead_seconds),
            "ASYNC_RETRY_DELAY_SECONDS": "1",
            "PYTHONUNBUFFERED": "1",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    env.update({f"DEMO_API_KEY_{plan.upper()}": key for plan, key in keys.items()})
    env.update(settings or {})
    return env


@contextmanager
def launched_stack(
    log_path: Path,
    keys: dict[str, str],
    min_lead_seconds: int = 5,
    start_timeout: float = START_TIMEOUT_SECONDS,
    settings: Mapping[str, str] | None = None,
) -> Iterator[RunningStack]:
    """The stack on free ports, ready to serve; stopped (SIGTERM, then kill) afterwards, with
    its exit code in `exit_code`. `settings` are set in its environment."""
    ports = free_ports(3)
    stack = RunningStack(
        api_url=f"http://127.0.0.1:{ports[0]}",
        stub_url=f"http://127.0.0.1:{ports[1]}",
        moto_url=f"http://127.0.0.1:{ports[2]}",
        keys=dict(keys),
        log_path=log_path,
        min_lead_seconds=min_lead_seconds,
        settings=dict(settings or {}),
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "local"],
            cwd=ROOT,
            env=stack_environment(ports, keys, min_lead_seconds, settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            _wait_until_ready(process, stack, start_timeout)
            yield stack
        finally:
            stack.exit_code = _stop(process)


def _wait_until_ready(
    process: subprocess.Popen[bytes], stack: RunningStack, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StackFailed(
                f"the local stack exited with {process.returncode}:\n{stack.log_tail()}"
            )
        try:
            if requests.get(stack.url("/api/v1/schedule/upcoming"), timeout=2).ok:
                return
        # Not listening yet, or (on a loaded machine) the first request's cold start takes
        # longer than the probe waits: both mean not ready yet, until the deadline.
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.2)
    raise StackFailed(f"the local stack was not ready in time:\n{stack.log_tail()}")


def _stop(process: subprocess.Popen[bytes]) -> int | None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    return process.returncode
