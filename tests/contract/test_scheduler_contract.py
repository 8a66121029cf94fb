"""SchedulerPort's contract, run against the in-memory fake and the EventBridge Scheduler
adapter (moto): what create, update, delete and the sweep's re-arm leave armed, and that an
outage is DependencyUnavailable with nothing changed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from post_scheduler.errors import DependencyUnavailable
from tests.contract.ports import IMPLEMENTATIONS, SchedulerBackend, scheduler_backend
from tests.fakes.scheduler import Armed

AT = datetime(2026, 3, 2, 9, 41, 27, 500000, tzinfo=UTC)
MINUTE = datetime(2026, 3, 2, 9, 41, tzinfo=UTC)  # Scheduler's at() has whole minutes
LATER = datetime(2026, 3, 2, 11, 5, tzinfo=UTC)

backend = pytest.fixture(params=IMPLEMENTATIONS)(scheduler_backend)


def test_create_arms_the_posts_schedule_for_its_minute(backend: SchedulerBackend) -> None:
    backend.port.create("post-1", "user-1", 3, AT)

    assert backend.armed() == {"post-post-1": Armed(MINUTE, "post-1", "user-1", 3)}


def test_create_over_a_leftover_schedule_replaces_it(backend: SchedulerBackend) -> None:
    backend.port.create("post-1", "user-1", 1, AT)

    backend.port.create("post-1", "user-1", 2, LATER)

    assert backend.armed() == {"post-post-1": Armed(LATER, "post-1", "user-1", 2)}


def test_update_moves_the_schedule_or_recreates_a_missing_one(backend: SchedulerBackend) -> None:
    backend.port.create("post-1", "user-1", 1, AT)

    backend.port.update("post-1", "user-1", 2, LATER)
    backend.port.update("post-2", "user-1", 1, AT)

    assert backend.armed() == {
        "post-post-1": Armed(LATER, "post-1", "user-1", 2),
        "post-post-2": Armed(MINUTE, "post-2", "user-1", 1),
    }


def test_delete_removes_the_schedule_and_a_missing_one_is_fine(backend: SchedulerBackend) -> None:
    backend.port.create("post-1", "user-1", 1, AT)

    backend.port.delete("post-1")
    backend.port.delete("post-1")

    assert backend.armed() == {}


def test_rearm_has_a_name_of_its_own_and_is_never_replaced(backend: SchedulerBackend) -> None:
    backend.port.create("post-1", "user-1", 2, LATER)

    backend.port.rearm("post-1", "user-1", 1, 1, AT)
    backend.port.rearm("post-1", "user-1", 1, 1, LATER)  # a concurrent sweep's same re-arm

    assert backend.armed() == {
        "post-post-1": Armed(LATER, "post-1", "user-1", 2),
        "rearm-post-1-1-1": Armed(MINUTE, "post-1", "user-1", 1),
    }


@pytest.mark.parametrize("action", ["create", "update", "delete"])
def test_an_outage_is_dependency_unavailable_and_changes_nothing(
    backend: SchedulerBackend, action: str
) -> None:
    backend.port.create("post-1", "user-1", 1, AT)
    before = backend.armed()

    calls = {
        "create": lambda: backend.port.create("post-1", "user-1", 2, LATER),
        "update": lambda: backend.port.update("post-1", "user-1", 2, LATER),
        "delete": lambda: backend.port.delete("post-1"),
    }

    with backend.outage(action), pytest.raises(DependencyUnavailable):
        calls[action]()

    assert backend.armed() == before
