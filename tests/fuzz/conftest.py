"""A local stack of the fuzz tests' own, started like the end-to-end tests' (`python -m local` on
free ports with fixed demo keys) and stopped when they end: fuzzing deletes demo accounts, fills
the API key quota, connects nothing but leaves OAuth states behind, which other tests must not
see."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import (
    DEMO_KEYS,
    MIN_LEAD_SECONDS,
    ROOT,
    RunningStack,
    _environment,
    _free_ports,
    _stop,
    _wait_until_ready,
)


@pytest.fixture(scope="package")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    ports = _free_ports(3)
    log_path = tmp_path_factory.mktemp("fuzz-stack") / "stack.log"
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
    assert code == 0, f"the fuzz stack did not stop cleanly ({code}):\n{stack.log_tail()}"
