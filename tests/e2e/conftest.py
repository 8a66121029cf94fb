"""The local stack for the end-to-end tests: `python -m local` started once per session as a
subprocess on free ports, with a short minimum lead and fixed demo keys, and stopped at the end
(terminate, then kill)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
NODE_FOLDER = Path(__file__).resolve().parent / "node"
MIN_LEAD_SECONDS = 5
START_TIMEOUT_SECONDS = 90
DEMO_KEYS = {
    "free": "psk_e2e_free_0000000000000000000000000000",
    "basic": "psk_e2e_basic_000000000000000000000000000",
    "professional": "psk_e2e_professional_00000000000000000000",
}


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            probe.bind(("127.0.0.1", 0))
            sockets.append(probe)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for probe in sockets:
            probe.close()


@dataclass
class RunningStack:
    api_url: str
    stub_url: str
    moto_url: str
    keys: dict[str, str]
    log_path: Path
    min_lead_seconds: int

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def aws(self, service: str) -> Any:
        """A client of the stack's moto server (to look behind the API)."""
        return boto3.client(
            service,
            endpoint_url=self.moto_url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def call(
        self, method: str, path: str, plan: str | None = "basic", **kwargs: Any
    ) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if plan is not None:
            headers["Authorization"] = f"Bearer {self.keys[plan]}"
        return requests.request(
            method, f"{self.api_url}{path}", headers=headers, timeout=30, **kwargs
        )

    def stub_posts(self) -> list[dict[str, Any]]:
        response = requests.get(f"{self.stub_url}/_inspect/posts", timeout=10)
        response.raise_for_status()
        posts: list[dict[str, Any]] = response.json()
        return posts


def _environment(ports: list[int]) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_ENDPOINT_URL", "DEMO_API_KEY_"))
    }
    env.update(
        {
            "PORT": str(ports[0]),
            "TIKTOK_STUB_PORT": str(ports[1]),
            "MOTO_PORT": str(ports[2]),
            "MIN_SCHEDULE_LEAD_SECONDS": str(MIN_LEAD_SECONDS),
            "ASYNC_RETRY_DELAY_SECONDS": "1",
            "PYTHONUNBUFFERED": "1",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    env.update({f"DEMO_API_KEY_{plan.upper()}": key for plan, key in DEMO_KEYS.items()})
    return env


def _wait_until_ready(process: subprocess.Popen[bytes], stack: RunningStack) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"the local stack exited with {process.returncode}:\n{stack.log_tail()}",
                pytrace=False,
            )
        try:
            response = requests.get(f"{stack.api_url}/api/v1/schedule/upcoming", timeout=2)
            if response.status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the local stack was not ready in time:\n{stack.log_tail()}", pytrace=False)


def _stop(process: subprocess.Popen[bytes]) -> int | None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    return process.returncode


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    ports = _free_ports(3)
    log_path = tmp_path_factory.mktemp("local-stack") / "stack.log"
    stack = RunningStack(
        api_url=f"http://127.0.0.1:{ports[0]}",
        stub_url=f"http://127.0.0.1:{ports[1]}",
        moto_url=f"http://127.0.0.1:{ports[2]}",
        keys=dict(DEMO_KEYS),
        log_path=log_path,
        min_lead_seconds=MIN_LEAD_SECONDS,
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "local"],
            cwd=ROOT,
            env=_environment(ports),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            _wait_until_ready(process, stack)
            yield stack
        finally:
            code = _stop(process)
    assert code == 0, f"the local stack did not stop cleanly ({code}):\n{stack.log_tail()}"


@pytest.fixture(scope="session")
def node_example() -> Path:
    """The reference's axios example with its dependencies installed from the lock file."""
    node, npm = _which("node"), _which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed for the axios example")
    installed = NODE_FOLDER / "node_modules" / ".package-lock.json"
    lock = NODE_FOLDER / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_FOLDER,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"
    return NODE_FOLDER / "schedule_video.mjs"


def _which(name: str) -> str | None:
    from shutil import which

    return which(name)
