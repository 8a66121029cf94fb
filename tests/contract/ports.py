"""Backends for the port contract tests: each fake of `tests/fakes` beside the real adapter over
the template's resources in moto, behind one small interface, so the same test functions run
against both and a fake cannot drift from what it stands in for."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import pytest

from post_scheduler import wiring
from post_scheduler.adapters.publication_store import PublicationStore
from post_scheduler.domain.ports import PublicationStorePort, SchedulerPort, ScheduleTablePort
from post_scheduler.models.records import (
    ScheduleRecord,
    TikTokAccountRecord,
    UserRecord,
    VideoRecord,
)
from tests.fakes import FakePublicationStore, FakeScheduler, FakeScheduleTable, MemoryTable
from tests.fakes.scheduler import Armed
from tests.support import AwsStack, failing_aws_call

IMPLEMENTATIONS = ("fake", "moto")


class Items(Protocol):
    """Writing and reading the items a contract test sets up and checks."""

    def put_user(self, user: UserRecord) -> None: ...
    def put_video(self, video: VideoRecord) -> None: ...
    def put_account(self, account: TikTokAccountRecord) -> None: ...
    def create_schedule(self, schedule: ScheduleRecord) -> None: ...
    def get_user(self, user_id: str) -> UserRecord | None: ...
    def get_video(self, user_id: str, video_id: str) -> VideoRecord | None: ...
    def get_account(self, user_id: str, account_id: str) -> TikTokAccountRecord | None: ...
    def get_schedule(self, user_id: str, schedule_id: str) -> ScheduleRecord | None: ...


@dataclass
class StoreBackend:
    store: PublicationStorePort
    items: Items


class _FakeItems:
    def __init__(self, table: MemoryTable) -> None:
        self.table = table
        self.schedules = FakeScheduleTable(table)
        self.put_user = table.put_user
        self.put_video = table.put_video
        self.put_account = table.put_account
        self.create_schedule = self.schedules.create_schedule
        self.get_user = self.schedules.get_user
        self.get_schedule = self.schedules.get_schedule

    def get_video(self, user_id: str, video_id: str) -> VideoRecord | None:
        found = self.table.videos.get((user_id, video_id))
        return None if found is None else found.model_copy()

    def get_account(self, user_id: str, account_id: str) -> TikTokAccountRecord | None:
        found = self.table.accounts.get((user_id, account_id))
        return None if found is None else found.model_copy()


def store_backend(request: pytest.FixtureRequest) -> StoreBackend:
    if request.param == "fake":
        table = MemoryTable()
        return StoreBackend(FakePublicationStore(table), _FakeItems(table))
    stack: AwsStack = request.getfixturevalue("stack")
    return StoreBackend(PublicationStore(stack.table), stack.table)


@dataclass
class SchedulerBackend:
    """A Scheduler port, what is armed in it (by schedule name), and an outage of one action
    (create, update or delete) while a `with` block runs."""

    port: SchedulerPort
    armed: Callable[[], dict[str, Armed]]
    outage: Callable[[str], AbstractContextManager[object]]


def scheduler_backend(request: pytest.FixtureRequest) -> SchedulerBackend:
    if request.param == "fake":
        fake = FakeScheduler()

        @contextmanager
        def fake_outage(action: str) -> Iterator[None]:
            fake.fail_next(action, times=100)
            try:
                yield
            finally:
                fake.heal()

        return SchedulerBackend(fake, lambda: dict(fake.schedules), fake_outage)
    stack: AwsStack = request.getfixturevalue("stack")
    real = wiring.publish_scheduler()
    group = stack.environment["SCHEDULE_GROUP"]

    def armed() -> dict[str, Armed]:
        found: dict[str, Armed] = {}
        pages = real.client.get_paginator("list_schedules").paginate(GroupName=group)
        for page in pages:
            for summary in page["Schedules"]:
                detail = real.client.get_schedule(Name=summary["Name"], GroupName=group)
                event = json.loads(detail["Target"]["Input"])
                moment = detail["ScheduleExpression"][len("at(") : -1]
                found[summary["Name"]] = Armed(
                    datetime.fromisoformat(moment).replace(tzinfo=UTC),
                    event["scheduleId"],
                    event["userId"],
                    event["version"],
                )
        return found

    def real_outage(action: str) -> AbstractContextManager[object]:
        operation = {"create": "CreateSchedule", "update": "UpdateSchedule"}.get(
            action, "DeleteSchedule"
        )
        return failing_aws_call("scheduler", operation)

    return SchedulerBackend(real, armed, real_outage)


@dataclass
class TableBackend:
    table: ScheduleTablePort
    items: Items


def table_backend(request: pytest.FixtureRequest) -> TableBackend:
    if request.param == "fake":
        memory = MemoryTable()
        return TableBackend(FakeScheduleTable(memory), _FakeItems(memory))
    stack: AwsStack = request.getfixturevalue("stack")
    return TableBackend(stack.table, stack.table)
