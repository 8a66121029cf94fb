"""The schedule rules (`domain/schedules.py`) over the in-memory table and Scheduler: create,
move, cancel, re-activate, retry and delete, with the plan limit, the video lock, versions, and
the Scheduler kept in step (a Scheduler failure undoes the table write)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from post_scheduler.domain.ports import SchedulerPort, ScheduleTablePort
from post_scheduler.domain.schedules import ScheduleService
from post_scheduler.errors import (
    Conflict,
    DependencyUnavailable,
    Forbidden,
    SchedulingLimitExceeded,
    Unprocessable,
)
from post_scheduler.models.records import ScheduleRecord
from post_scheduler.models.requests import (
    CreateScheduleRequest,
    RetryScheduleRequest,
    UpdateScheduleRequest,
)
from post_scheduler.timestamps import format_utc
from tests.fakes import FakeScheduler, FakeScheduleTable, MemoryTable
from tests.fakes.world import START, World


def test_the_fakes_are_the_ports() -> None:
    """mypy checks these assignments (the fakes implement the domain's Protocols)."""
    table: ScheduleTablePort = FakeScheduleTable(MemoryTable())
    scheduler: SchedulerPort = FakeScheduler()
    assert table is not None
    assert scheduler is not None


@pytest.fixture
def world() -> World:
    world = World()
    world.user("basic")
    world.account()
    return world


@pytest.fixture
def service(world: World) -> ScheduleService:
    return world.schedules()


def _at(minutes: float) -> datetime:
    return (START + timedelta(minutes=minutes)).replace(microsecond=0)


def _wire(moment: datetime) -> str:
    return format_utc(moment)


def _create(service: ScheduleService, world: World, minutes: float = 60) -> ScheduleRecord:
    video_id, _ = world.video()
    request = CreateScheduleRequest.model_validate(
        {
            "videoId": video_id,
            "tiktokAccountId": "acct-1",
            "scheduledPublishTime": _wire(_at(minutes)),
            "title": "Launch",
        },
        strict=False,
    )
    return service.create(world.user_id, request)


def _update(**fields: object) -> UpdateScheduleRequest:
    return UpdateScheduleRequest.model_validate(fields, strict=False)


def test_create_takes_the_video_lock_and_a_plan_slot_and_arms_the_minute_before(
    world: World, service: ScheduleService
) -> None:
    post = _create(service, world, minutes=60)

    stored = world.post(post.scheduleId)
    assert (stored.status, stored.version) == ("pending", 1)
    assert world.video_record(post.videoId).pendingScheduleId == post.scheduleId
    assert world.pending_count() == 1
    armed = world.scheduler.post_schedule(post.scheduleId)
    assert armed is not None
    assert armed.fire_at == _at(59)
    assert armed.version == 1


def test_the_plan_limit_refuses_the_next_post_and_writes_nothing(
    world: World, service: ScheduleService
) -> None:
    for minute in range(10):  # basic: 10 pending posts
        _create(service, world, minutes=60 + minute)
    calls = list(world.scheduler.calls)

    with pytest.raises(SchedulingLimitExceeded) as refused:
        _create(service, world, minutes=90)

    assert refused.value.details == {"plan": "basic", "limit": 10}
    assert world.pending_count() == 10
    assert len(world.table.schedules) == 10
    assert world.scheduler.calls == calls


def test_a_plan_without_scheduling_is_forbidden(world: World) -> None:
    world.user("free")

    with pytest.raises(Forbidden):
        _create(world.schedules(), world)


def test_a_video_with_a_pending_post_cannot_get_a_second(
    world: World, service: ScheduleService
) -> None:
    post = _create(service, world)
    request = CreateScheduleRequest.model_validate(
        {
            "videoId": post.videoId,
            "tiktokAccountId": "acct-1",
            "scheduledPublishTime": _wire(_at(120)),
        },
        strict=False,
    )

    with pytest.raises(Conflict, match="already has a pending scheduled post"):
        service.create(world.user_id, request)
    assert world.pending_count() == 1


def test_too_short_a_lead_is_refused(world: World, service: ScheduleService) -> None:
    with pytest.raises(Unprocessable, match="at least 900 seconds"):
        _create(service, world, minutes=10)
    assert world.table.schedules == {}


def test_a_scheduler_failure_on_create_undoes_the_table_write(
    world: World, service: ScheduleService
) -> None:
    world.scheduler.fail_next("create")

    with pytest.raises(DependencyUnavailable):
        _create(service, world)

    assert world.table.schedules == {}
    assert world.pending_count() == 0
    assert all(v.pendingScheduleId is None for v in world.table.videos.values())


def test_a_move_bumps_the_version_and_moves_the_schedule(
    world: World, service: ScheduleService
) -> None:
    post = _create(service, world, minutes=60)

    moved = service.update(
        world.user_id, post.scheduleId, _update(scheduledPublishTime=_wire(_at(180)))
    )

    assert moved.version == 2
    armed = world.scheduler.post_schedule(post.scheduleId)
    assert armed is not None
    assert (armed.fire_at, armed.version) == (_at(179), 2)
    assert world.scheduler.calls == ["create", "update"]
    assert world.post(post.scheduleId).scheduledPublishTime == _at(180)


def test_a_failed_move_restores_the_post(world: World, service: ScheduleService) -> None:
    post = _create(service, world, minutes=60)
    world.scheduler.fail_next("update")

    with pytest.raises(DependencyUnavailable):
        service.update(
            world.user_id, post.scheduleId, _update(scheduledPublishTime=_wire(_at(180)))
        )

    restored = world.post(post.scheduleId)
    assert (restored.scheduledPublishTime, restored.version) == (_at(60), 1)


def test_an_edit_based_on_a_stale_read_is_refused(world: World, service: ScheduleService) -> None:
    post = _create(service, world)
    read_before = world.post(post.scheduleId)
    service.update(world.user_id, post.scheduleId, _update(title="Edited"))

    with pytest.raises(Conflict, match="changed while this request ran"):
        world.schedule_table.replace_schedule(
            read_before.model_copy(update={"title": "Lost update"}), expected=read_before
        )
    assert world.post(post.scheduleId).title == "Edited"


def test_cancel_releases_the_lock_and_slot_and_removes_the_schedule(
    world: World, service: ScheduleService
) -> None:
    post = _create(service, world)

    cancelled = service.update(world.user_id, post.scheduleId, _update(status="cancelled"))

    assert cancelled.status == "cancelled"
    assert world.pending_count() == 0
    assert world.video_record(post.videoId).pendingScheduleId is None
    assert world.scheduler.post_schedule(post.scheduleId) is None


def test_reactivating_a_cancelled_post_takes_the_slot_again_under_a_new_version(
    world: World, service: ScheduleService
) -> None:
    post = _create(service, world)
    service.update(world.user_id, post.scheduleId, _update(status="cancelled"))

    again = service.update(
        world.user_id,
        post.scheduleId,
        _update(status="pending", scheduledPublishTime=_wire(_at(240))),
    )

    assert (again.status, again.version) == ("pending", 2)
    assert world.pending_count() == 1
    armed = world.scheduler.post_schedule(post.scheduleId)
    assert armed is not None
    assert (armed.fire_at, armed.version) == (_at(239), 2)


def test_reactivation_counts_against_the_plan_limit(world: World, service: ScheduleService) -> None:
    first = _create(service, world, minutes=60)
    service.update(world.user_id, first.scheduleId, _update(status="cancelled"))
    for minute in range(10):
        _create(service, world, minutes=61 + minute)

    with pytest.raises(SchedulingLimitExceeded):
        service.update(world.user_id, first.scheduleId, _update(status="pending"))
    assert world.post(first.scheduleId).status == "cancelled"


def test_retry_of_a_failed_post_is_pending_again_at_the_minimum_lead(
    world: World, service: ScheduleService
) -> None:
    post = _create(service, world, minutes=20)
    current = world.post(post.scheduleId)
    world.schedule_table.release_schedule(
        current.model_copy(update={"status": "failed", "failureReason": "x", "revision": 9}),
        expected=current,
    )

    retried = service.retry(world.user_id, post.scheduleId, None)

    assert (retried.status, retried.version) == ("pending", 2)
    assert retried.scheduledPublishTime == START + timedelta(seconds=900)
    assert retried.failureReason is None
    assert world.pending_count() == 1


def test_retry_of_an_unconfirmed_publish_reconciles_it_and_keeps_the_publish_id(
    world: World, service: ScheduleService
) -> None:
    post = _create(service, world, minutes=20)
    current = world.post(post.scheduleId)
    world.schedule_table.release_schedule(
        current.model_copy(
            update={
                "status": "failed",
                "tiktokPublishId": "v_pub_1",
                "publishOutcome": "unconfirmed",
                "revision": 9,
            }
        ),
        expected=current,
    )
    world.clock.advance(3600)  # long after the post's own time

    with pytest.raises(Conflict, match="already handed to TikTok"):
        service.retry(
            world.user_id,
            post.scheduleId,
            RetryScheduleRequest.model_validate(
                {"scheduledPublishTime": _wire(_at(200))}, strict=False
            ),
        )
    retried = service.retry(world.user_id, post.scheduleId, None)

    assert retried.status == "pending"
    assert retried.tiktokPublishId == "v_pub_1"  # never a second TikTok publish
    armed = world.scheduler.post_schedule(post.scheduleId)
    assert armed is not None
    assert armed.fire_at == _at(61)  # the coming minute


def test_only_a_failed_post_can_be_retried(world: World, service: ScheduleService) -> None:
    post = _create(service, world)

    with pytest.raises(Conflict, match="only a failed post can be retried"):
        service.retry(world.user_id, post.scheduleId, None)


def test_a_publishing_post_cannot_be_changed_or_deleted(
    world: World, service: ScheduleService
) -> None:
    post = _create(service, world)
    current = world.post(post.scheduleId)
    world.table.put_schedule(current.model_copy(update={"status": "publishing"}))

    with pytest.raises(Conflict, match="being published right now"):
        service.update(world.user_id, post.scheduleId, _update(title="x"))
    with pytest.raises(Conflict, match="being published right now"):
        service.delete(world.user_id, post.scheduleId)


def test_delete_of_a_pending_post_gives_everything_back(
    world: World, service: ScheduleService
) -> None:
    post = _create(service, world)

    service.delete(world.user_id, post.scheduleId)

    assert world.table.schedules == {}
    assert world.pending_count() == 0
    assert world.video_record(post.videoId).pendingScheduleId is None
    assert world.scheduler.post_schedule(post.scheduleId) is None
