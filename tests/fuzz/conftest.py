"""A local stack of the fuzz tests' own, started like the end-to-end tests' (`python -m local` on
free ports with fixed demo keys) and stopped when they end: fuzzing deletes demo accounts, fills
the API key quota, connects nothing but leaves OAuth states behind, which other tests must not
see."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import RunningStack, stack_for_tests


@pytest.fixture(scope="package")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    log_path = tmp_path_factory.mktemp("fuzz-stack") / "stack.log"
    with stack_for_tests(log_path, "fuzz stack") as stack:
        yield stack
