"""ScheduleTablePort's contract (what the schedule rules use of the table), run against the
in-memory fake and the DynamoDB adapter (moto): the create and re-activate transaction's
locks and limits with the error each refusal gives, edits guarded by status and revision, and
ending a post giving its video, plan slot and account-minute slot back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from post_scheduler.domain.time_rules import ACCOUNT_POSTS_PER_MINUTE, posting_minute
from post_scheduler.errors import (
    ApiError,
    Conflict,
    Forbidden,
    NotFound,
    SchedulingLimitExceeded,
    Unprocessable,
)
from post_scheduler.models.records import (
    ScheduleRecord,
    TikTokAccountRecord,
    UserRecord,
    VideoRecord,
)
from tests.contract.ports import IMPLEMENTATIONS, TableBackend, table_backend

NOW = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
USER, ACCOUNT = "user-t", "acct-t"

backend = pytest.fixture(params=IMPLEMENTATIONS)(table_backend)


@pytest.fixture
def new_post(backend: TableBackend) -> Callable[..., ScheduleRecord]:
    """A basic user with a connected account; each call adds a ready video and returns a post
    of it (not yet written), `minutes` after NOW."""
    backend.items.put_user(UserRecord(userId=USER, plan="basic", createdAt=NOW))
    backend.items.put_account(
        TikTokAccountRecord(
            accountId=ACCOUNT,
            userId=USER,
            refreshTokenCipher="sealed",
            refreshTokenExpiresAt=NOW + timedelta(days=30),
            createdAt=NOW,
        )
    )
    counter = iter(range(1000))

    def make(minutes: float = 60, video_id: str | None = None) -> ScheduleRecord:
        number = next(counter)
        if video_id is None:
            video_id = f"video-{number}"
            backend.items.put_video(
                VideoRecord(videoId=video_id, userId=USER, s3Key=video_id, createdAt=NOW)
            )
        at = NOW + timedelta(minutes=minutes)
        return ScheduleRecord(
            scheduleId=f"post-{number}",
            userId=USER,
            videoId=video_id,
            tiktokAccountId=ACCOUNT,
            scheduledPublishTime=at,
            status="pending",
            createdAt=NOW,
            updatedAt=NOW,
            accountMinute=posting_minute(at),
        )

    return make


def _pending_count(backend: TableBackend) -> int:
    user = backend.items.get_user(USER)
    assert user is not None
    return user.pendingCount


def _refused(backend: TableBackend, post: ScheduleRecord, error: type[ApiError]) -> ApiError:
    before = _pending_count(backend)
    with pytest.raises(error) as refused:
        backend.table.create_schedule(post)
    assert backend.table.get_schedule(USER, post.scheduleId) is None
    assert _pending_count(backend) == before
    return refused.value


def test_create_locks_the_video_and_takes_a_plan_slot(
    backend: TableBackend, new_post: Callable[..., ScheduleRecord]
) -> None:
    post = new_post()

    backend.table.create_schedule(post)

    assert backend.table.get_schedule(USER, post.scheduleId) == post
    video = backend.items.get_video(USER, post.videoId)
    assert video is not None
    assert video.pendingScheduleId == post.scheduleId
    assert _pending_count(backend) == 1


def test_create_refuses_past_the_plan_limit(
    backend: TableBackend, new_post: Callable[..., ScheduleRecord]
) -> None:
    for minute in range(10):
        backend.table.create_schedule(new_post(minutes=60 + minute))

    refused = _refused(backend, new_post(minutes=90), SchedulingLimitExceeded)

    assert refused.details == {"plan": "basic", "limit": 10}


def test_create_refuses_a_plan_without_scheduling(
    backend: TableBackend, new_post: Callable[..., ScheduleRecord]
) -> None:
    post = new_post()
    backend.items.put_user(UserRecord(userId=USER, plan="free", createdAt=NOW))

    assert _refused(backend, post, Forbidden).details == {"plan": "free"}


def test_create_refuses_a_video_with_a_pending_post_or_none_at_all(
    backend: TableBackend, new_post: Callable[..., ScheduleRecord]
) -> None:
    first = new_post()
    backend.table.create_schedule(first)

    second = _refused(backend, new_post(video_id=first.videoId), Conflict)
    missing = _refused(backend, new_post(video_id="video-none"), NotFound)

    assert second.details == {"videoId": first.videoId, "scheduleId": first.scheduleId}
    assert missing.message == "video not found"


def test_create_refuses_an_account_whose_authorization_expired(
    backend: TableBackend, new_post: Callable[..., ScheduleRecord]
) -> None:
    post = new_post()
    account = backend.items.get_account(USER, ACCOUNT)
    assert account is not None
    backend.items.put_account(
        account.model_copy(update={"refreshTokenExpiresAt": NOW - timedelta(seconds=1)})
    )

    refused = _refused(backend, post, Unprocessable)

    assert refused.details["reason"] == "TIKTOK_AUTHORIZATION_EXPIRED"


def test_create_refuses_a_full_account_minute(
    backend: TableBackend, new_post: Callable[..., ScheduleRecord]
) -> None:
    for _ in range(ACCOUNT_POSTS_PER_MINUTE):
        backend.table.create_schedule(new_post(minutes=60))

    refused = _refused(backend, new_post(minutes=60), Unprocessable)

    assert refused.details["reason"] == "TIKTOK_ACCOUNT_MINUTE_FULL"
    # Another minute still has room.
    backend.table.create_schedule(new_post(minutes=61))


def test_replace_needs_the_status_and_revision_read(
    backend: TableBackend, new_post: Callable[..., ScheduleRecord]
) -> None:
    post = new_post()
    backend.table.create_schedule(post)
    edited = post.model_copy(update={"title": "Edited", "revision": post.revision + 1})
    backend.table.replace_schedule(edited, expected=post)

    with pytest.raises(Conflict):
        backend.table.replace_schedule(
            post.model_copy(update={"title": "Lost", "revision": 2}), expected=post
        )
    assert backend.table.get_schedule(USER, post.scheduleId) == edited


def test_a_move_to_another_minute_moves_its_slot(
    backend: TableBackend, new_post: Callable[..., ScheduleRecord]
) -> None:
    for _ in range(ACCOUNT_POSTS_PER_MINUTE):
        backend.table.create_schedule(new_post(minutes=60))
    mover = backend.table.get_schedule(USER, "post-0")
    assert mover is not None
    at = NOW + timedelta(minutes=120)
    moved = mover.model_copy(
        update={"scheduledPublishTime": at, "accountMinute": posting_minute(at), "revision": 2}
    )

    backend.table.replace_schedule(moved, expected=mover)

    # The old minute has room again; the new one holds the moved post.
    backend.table.create_schedule(new_post(minutes=60))


def test_release_ends_the_post_and_gives_everything_back(
    backend: TableBackend, new_post: Callable[..., ScheduleRecord]
) -> None:
    post = new_post()
    backend.table.create_schedule(post)
    cancelled = post.model_copy(update={"status": "cancelled", "revision": 2})

    backend.table.release_schedule(cancelled, expected=post)

    ended = backend.table.get_schedule(USER, post.scheduleId)
    assert ended is not None
    assert (ended.status, ended.accountMinute) == ("cancelled", None)
    video = backend.items.get_video(USER, post.videoId)
    assert video is not None
    assert video.pendingScheduleId is None
    assert _pending_count(backend) == 0
    with pytest.raises(Conflict):
        backend.table.release_schedule(None, expected=post)  # it changed since `post` was read


def test_reactivate_takes_the_locks_again_under_the_read_revision(
    backend: TableBackend, new_post: Callable[..., ScheduleRecord]
) -> None:
    post = new_post()
    backend.table.create_schedule(post)
    cancelled = post.model_copy(update={"status": "cancelled", "revision": 2})
    backend.table.release_schedule(cancelled, expected=post)
    stored = backend.table.get_schedule(USER, post.scheduleId)
    assert stored is not None
    again = stored.model_copy(
        update={
            "status": "pending",
            "version": 2,
            "revision": 3,
            "accountMinute": post.accountMinute,
        }
    )

    backend.table.reactivate_schedule(again, expected=stored)

    assert backend.table.get_schedule(USER, post.scheduleId) == again
    assert _pending_count(backend) == 1
    with pytest.raises(Conflict):
        backend.table.reactivate_schedule(again, expected=stored)  # the video is locked


def test_delete_schedule_record_needs_it_unchanged(
    backend: TableBackend, new_post: Callable[..., ScheduleRecord]
) -> None:
    post = new_post()
    backend.table.create_schedule(post)
    failed = post.model_copy(update={"status": "failed", "revision": 2})
    backend.table.release_schedule(failed, expected=post)

    with pytest.raises(Conflict):
        backend.table.delete_schedule_record(post)
    stored = backend.table.get_schedule(USER, post.scheduleId)
    assert stored is not None
    backend.table.delete_schedule_record(stored)

    assert backend.table.get_schedule(USER, post.scheduleId) is None


def test_lists_and_lookups(backend: TableBackend, new_post: Callable[..., ScheduleRecord]) -> None:
    late, early = new_post(minutes=120), new_post(minutes=60)
    backend.table.create_schedule(late)
    backend.table.create_schedule(early)
    cancelled = late.model_copy(update={"status": "cancelled", "revision": 2})
    backend.table.release_schedule(cancelled, expected=late)

    page, token = backend.table.list_schedules(USER, 1, None)
    rest, end = backend.table.list_schedules(USER, 1, token)
    pending, _ = backend.table.list_schedules(USER, 10, None, status="pending")
    upcoming, _ = backend.table.list_upcoming(NOW, 10, None)
    videos, accounts = backend.table.get_videos_and_accounts(
        USER, {early.videoId, "video-none"}, {ACCOUNT}
    )

    assert [p.scheduleId for p in page + rest] == [early.scheduleId, late.scheduleId]
    assert end is None
    assert [p.scheduleId for p in pending] == [early.scheduleId]
    assert [p.scheduleId for p in upcoming] == [early.scheduleId]
    assert set(videos) == {early.videoId}
    assert set(accounts) == {ACCOUNT}
