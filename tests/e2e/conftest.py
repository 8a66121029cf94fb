"""The local stack for the end-to-end tests: `python -m local` started once per session as a
subprocess on free ports, with a short minimum lead and fixed demo keys, and stopped at the end
(terminate, then kill).

It runs as AWS behaves at its worst: schedules fire anywhere in their minute and one in five
asynchronous events is delivered twice. A run is replayed by setting the seed a failure names
(`LOCAL_SCHEDULER_SEED=... pytest tests/e2e`); these variables in the test process's own
environment override the defaults below."""

from __future__ import annotations

import os
import random
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from local.launcher import RunningStack, StackFailed, launched_stack

__all__ = ["DEMO_KEYS", "MIN_LEAD_SECONDS", "RunningStack", "e2e_settings", "stack_for_tests"]

NODE_FOLDER = Path(__file__).resolve().parent / "node"
MIN_LEAD_SECONDS = 5
E2E_DEFAULTS = {"LOCAL_SCHEDULER_JITTER_SECONDS": "59", "LOCAL_DUPLICATE_DELIVERY": "0.2"}


def e2e_settings(**forced: str) -> dict[str, str]:
    """The stack's jitter, duplicate and seed settings: `forced`, else this process's
    environment, else the end-to-end defaults (and a fresh seed)."""
    settings = {name: os.environ.get(name) or value for name, value in E2E_DEFAULTS.items()}
    seed = os.environ.get("LOCAL_SCHEDULER_SEED") or str(random.randrange(10**9))
    settings["LOCAL_SCHEDULER_SEED"] = seed
    settings.update(forced)
    return settings


DEMO_KEYS = {
    "free": "psk_e2e_free_0000000000000000000000000000",
    "basic": "psk_e2e_basic_000000000000000000000000000",
    "professional": "psk_e2e_professional_00000000000000000000",
}


@contextmanager
def stack_for_tests(
    log_path: Path, name: str, settings: Mapping[str, str] | None = None
) -> Iterator[RunningStack]:
    """A local stack for a test session (`settings`: those of `e2e_settings()` by default): a
    start-up failure fails the tests with the stack's log, and the stack must stop cleanly."""
    settings = e2e_settings() if settings is None else settings
    try:
        with launched_stack(log_path, DEMO_KEYS, MIN_LEAD_SECONDS, settings=settings) as stack:
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
