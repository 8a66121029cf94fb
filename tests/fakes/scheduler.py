"""EventBridge Scheduler in memory, as `adapters/scheduler.py` drives it: one one-time schedule
per post (create replaces a leftover, update recreates a missing one, delete of a missing one
is fine), and the sweep's re-arms under names of their own that are never replaced."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from post_scheduler.errors import DependencyUnavailable

_NAME = re.compile(r"^[0-9a-zA-Z_.-]{1,64}$")


@dataclass(frozen=True)
class Armed:
    """One schedule: when it fires (Scheduler's whole-minute `at()`) and the event it carries."""

    fire_at: datetime
    schedule_id: str
    user_id: str
    version: int


class FakeScheduler:
    def __init__(self) -> None:
        self.schedules: dict[str, Armed] = {}
        self.calls: list[str] = []
        self._failures: dict[str, int] = {}

    def fail_next(self, action: str, times: int = 1) -> None:
        """The next `times` calls of `action` (create, update, delete) fail as AWS outages do."""
        self._failures[action] = self._failures.get(action, 0) + times

    def heal(self) -> None:
        """No more failures."""
        self._failures.clear()

    def create(self, schedule_id: str, user_id: str, version: int, fire_at: datetime) -> None:
        self._call("create")
        self.schedules[_name("post-", schedule_id)] = _armed(schedule_id, user_id, version, fire_at)

    def update(self, schedule_id: str, user_id: str, version: int, fire_at: datetime) -> None:
        self._call("update")
        self.schedules[_name("post-", schedule_id)] = _armed(schedule_id, user_id, version, fire_at)

    def delete(self, schedule_id: str) -> None:
        self._call("delete")
        self.schedules.pop(_name("post-", schedule_id), None)

    def rearm(
        self, schedule_id: str, user_id: str, version: int, rearm: int, fire_at: datetime
    ) -> None:
        self._call("create")
        name = _name("rearm-", f"{schedule_id}-{version}-{rearm}")
        # A name that exists is the same re-arm made by a concurrent sweep: left as it is.
        self.schedules.setdefault(name, _armed(schedule_id, user_id, version, fire_at))

    def post_schedule(self, schedule_id: str) -> Armed | None:
        return self.schedules.get(_name("post-", schedule_id))

    def _call(self, action: str) -> None:
        self.calls.append(action)
        if self._failures.get(action, 0) > 0:
            self._failures[action] -= 1
            raise DependencyUnavailable(
                f"the scheduling service could not {action} the post's schedule; nothing was"
                " changed, retry shortly"
            )


def _name(prefix: str, rest: str) -> str:
    name = prefix + rest
    if not _NAME.fullmatch(name):
        raise ValueError(f"schedule name {name!r} breaks Scheduler's naming rule")
    return name


def _armed(schedule_id: str, user_id: str, version: int, fire_at: datetime) -> Armed:
    minute = fire_at.astimezone(UTC).replace(second=0, microsecond=0)
    return Armed(minute, schedule_id, user_id, version)
