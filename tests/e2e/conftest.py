"""The local stack for the end-to-end tests: `python -m local` started once per session as a
subprocess on free ports, with a short minimum lead and fixed demo keys, and stopped at the end
(terminate, then kill)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from local.launcher import RunningStack, StackFailed, launched_stack

__all__ = ["DEMO_KEYS", "MIN_LEAD_SECONDS", "RunningStack", "stack_for_tests"]

NODE_FOLDER = Path(__file__).resolve().parent / "node"
MIN_LEAD_SECONDS = 5
DEMO_KEYS = {
    "free": "psk_e2e_free_0000000000000000000000000000",
    "basic": "psk_e2e_basic_000000000000000000000000000",
    "professional": "psk_e2e_professional_00000000000000000000",
}


@contextmanager
def stack_for_tests(log_path: Path, name: str) -> Iterator[RunningStack]:
    """A local stack for a test session: a start-up failure fails the tests with the stack's
    log, and the stack must stop cleanly."""
    try:
        with launched_stack(log_path, DEMO_KEYS, MIN_LEAD_SECONDS) as stack:
            yield stack
    except StackFailed as failure:
        pytest.fail(str(failure), pytrace=False)
    assert stack.exit_code == 0, (
        f"the {name} did not stop cleanly ({stack.exit_code}):\n{stack.log_tail()}"
    )


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    log_path = tmp_path_factory.mktemp("local-stack") / "stack.log"
    with stack_for_tests(log_path, "local stack") as stack:
        yield stack


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
