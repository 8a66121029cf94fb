"""PublicationStorePort's contract, run against the in-memory fake and the DynamoDB adapter
(moto): the claim, checkpoints, the end of a post, lease release, the account's refresh lease
and token rotation, and the sweep's re-arm count, each with its conditions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from post_scheduler.domain.errors import LeaseLost, TokensChanged
from post_scheduler.errors import Conflict
from post_scheduler.models.records import (
    CreatorInfoSnapshot,
    ScheduleRecord,
    TikTokAccountRecord,
    UserRecord,
    VideoRecord,
)
from tests.contract.ports import IMPLEMENTATIONS, StoreBackend, store_backend

NOW = datetime(2026, 3, 2, 9, 0, 0, 123000, tzinfo=UTC)
USER, VIDEO, ACCOUNT, POST = "user-c", "video-c", "acct-c", "post-c"

backend = pytest.fixture(params=IMPLEMENTATIONS)(store_backend)


def _later(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


@pytest.fixture
def post(backend: StoreBackend) -> ScheduleRecord:
    """A pending post as a create leaves it (video locked, plan slot taken)."""
    items = backend.items
    items.put_user(UserRecord(userId=USER, plan="basic", createdAt=NOW))
    items.put_video(VideoRecord(videoId=VIDEO, userId=USER, s3Key=f"videos/{VIDEO}", createdAt=NOW))
    items.put_account(
        TikTokAccountRecord(
            accountId=ACCOUNT,
            userId=USER,
            accessTokenCipher="access-0",
            refreshTokenCipher="refresh-0",
            refreshTokenExpiresAt=_later(86400),
            createdAt=NOW,
        )
    )
    record = ScheduleRecord(
        scheduleId=POST,
        userId=USER,
        videoId=VIDEO,
        tiktokAccountId=ACCOUNT,
        scheduledPublishTime=_later(60),
        status="pending",
        createdAt=NOW,
        updatedAt=NOW,
        accountMinute="2026-03-02T09:01",
    )
    items.create_schedule(record)
    found = items.get_schedule(USER, POST)
    assert found is not None
    return found


def _account(backend: StoreBackend) -> TikTokAccountRecord:
    found = backend.store.get_account(USER, ACCOUNT)
    assert found is not None
    return found


# --- claim --------------------------------------------------------------------------------------


def test_claim_takes_a_pending_post_of_the_events_version(
    backend: StoreBackend, post: ScheduleRecord
) -> None:
    claimed = backend.store.claim(post, NOW, _later(900), "run-a")

    assert claimed is not None
    assert (claimed.status, claimed.claimToken) == ("publishing", "run-a")
    assert claimed.leaseExpiresAt == _later(900)
    assert claimed.publishStartedAt == NOW
    assert claimed.claimedAt == NOW
    assert claimed.publishAttempts == 1
    assert claimed.revision == post.revision + 1
    assert backend.store.get(USER, POST) == claimed


def test_claim_refuses_another_version_and_a_live_lease_but_takes_over_a_lapsed_one(
    backend: StoreBackend, post: ScheduleRecord
) -> None:
    stale = post.model_copy(update={"version": post.version + 1})
    assert backend.store.claim(stale, NOW, _later(900), "run-x") is None
    first = backend.store.claim(post, NOW, _later(900), "run-a")
    assert first is not None

    assert backend.store.claim(post, _later(899), _later(1800), "run-b") is None
    taken = backend.store.claim(post, _later(900), _later(1800), "run-b")

    assert taken is not None
    assert taken.claimToken == "run-b"
    assert taken.publishAttempts == 2
    assert taken.publishStartedAt == NOW  # the first attempt's start is kept


def test_claim_refuses_a_post_that_ended_or_is_gone(
    backend: StoreBackend, post: ScheduleRecord
) -> None:
    claimed = backend.store.claim(post, NOW, _later(900), "run-a")
    assert claimed is not None
    backend.store.finish(claimed, "run-a", claimed.model_copy(update={"status": "failed"}), None)

    assert backend.store.claim(post, _later(1000), _later(1900), "run-b") is None
    missing = post.model_copy(update={"scheduleId": "post-none"})
    assert backend.store.claim(missing, NOW, _later(900), "run-b") is None


# --- checkpoint and release ---------------------------------------------------------------------


def test_checkpoint_writes_while_the_claim_is_held_and_none_removes(
    backend: StoreBackend, post: ScheduleRecord
) -> None:
    claimed = backend.store.claim(post, NOW, _later(900), "run-a")
    assert claimed is not None

    saved = backend.store.checkpoint(
        claimed, "run-a", tiktokPublishId="pub-1", uploadedBytes=10, updatedAt=_later(1)
    )
    cleared = backend.store.checkpoint(saved, "run-a", uploadedBytes=None)

    assert saved.tiktokPublishId == "pub-1"
    assert saved.uploadedBytes == 10
    assert saved.revision == claimed.revision + 1
    assert cleared.uploadedBytes is None
    assert cleared.tiktokPublishId == "pub-1"
    assert backend.store.get(USER, POST) == cleared


def test_checkpoint_with_a_token_that_lost_the_post_raises_lease_lost(
    backend: StoreBackend, post: ScheduleRecord
) -> None:
    assert backend.store.claim(post, NOW, _later(10), "run-a") is not None
    taken = backend.store.claim(post, _later(10), _later(900), "run-b")
    assert taken is not None

    with pytest.raises(LeaseLost):
        backend.store.checkpoint(post, "run-a", uploadedBytes=5)
    assert backend.store.get(USER, POST) == taken


def test_release_lease_ends_the_lease_now_and_a_stale_token_changes_nothing(
    backend: StoreBackend, post: ScheduleRecord
) -> None:
    claimed = backend.store.claim(post, NOW, _later(900), "run-a")
    assert claimed is not None

    backend.store.release_lease(claimed, "run-z", _later(5), "not mine")
    assert backend.store.get(USER, POST) == claimed
    backend.store.release_lease(claimed, "run-a", _later(5), "x" * 1200)

    released = backend.store.get(USER, POST)
    assert released is not None
    assert released.leaseExpiresAt == _later(5)
    assert released.lastError == "x" * 1000
    assert released.status == "publishing"
    # Released: the next run claims it at once.
    assert backend.store.claim(post, _later(5), _later(900), "run-b") is not None


# --- finish -------------------------------------------------------------------------------------


def test_finish_ends_the_post_and_releases_the_video_and_the_plan_slot(
    backend: StoreBackend, post: ScheduleRecord
) -> None:
    claimed = backend.store.claim(post, NOW, _later(900), "run-a")
    assert claimed is not None
    final = claimed.model_copy(
        update={"status": "executed", "claimToken": None, "executedAt": _later(30)}
    )

    backend.store.finish(claimed, "run-a", final, video_published_at=_later(30))

    ended = backend.store.get(USER, POST)
    assert ended is not None
    assert (ended.status, ended.claimToken, ended.accountMinute) == ("executed", None, None)
    video = backend.items.get_video(USER, VIDEO)
    assert video is not None
    assert (video.status, video.pendingScheduleId) == ("published", None)
    assert video.publishedAt == _later(30)
    user = backend.items.get_user(USER)
    assert user is not None
    assert user.pendingCount == 0


def test_finish_with_a_lost_claim_raises_lease_lost_and_changes_nothing(
    backend: StoreBackend, post: ScheduleRecord
) -> None:
    claimed = backend.store.claim(post, NOW, _later(10), "run-a")
    assert claimed is not None
    taken = backend.store.claim(post, _later(10), _later(900), "run-b")
    assert taken is not None

    with pytest.raises(LeaseLost):
        backend.store.finish(
            claimed, "run-a", claimed.model_copy(update={"status": "failed"}), None
        )

    assert backend.store.get(USER, POST) == taken
    user = backend.items.get_user(USER)
    assert user is not None
    assert user.pendingCount == 1


def test_finish_without_a_token_needs_the_post_unchanged_since_read(
    backend: StoreBackend, post: ScheduleRecord
) -> None:
    backend.store.finish(post, None, post.model_copy(update={"status": "failed"}), None)
    ended = backend.store.get(USER, POST)
    assert ended is not None
    assert ended.status == "failed"

    with pytest.raises(Conflict):
        backend.store.finish(post, None, post.model_copy(update={"status": "failed"}), None)


def test_finish_ends_the_post_even_when_the_video_lock_names_another(
    backend: StoreBackend, post: ScheduleRecord
) -> None:
    video = backend.items.get_video(USER, VIDEO)
    assert video is not None
    backend.items.put_video(video.model_copy(update={"pendingScheduleId": "someone-else"}))
    claimed = backend.store.claim(post, NOW, _later(900), "run-a")
    assert claimed is not None

    backend.store.finish(claimed, "run-a", claimed.model_copy(update={"status": "failed"}), None)

    ended = backend.store.get(USER, POST)
    assert ended is not None
    assert ended.status == "failed"
    untouched = backend.items.get_video(USER, VIDEO)
    assert untouched is not None
    assert untouched.pendingScheduleId == "someone-else"
    user = backend.items.get_user(USER)
    assert user is not None
    assert user.pendingCount == 0


# --- the account's tokens -----------------------------------------------------------------------


def test_the_refresh_lease_is_one_runs_until_it_lapses_or_is_released(
    backend: StoreBackend, post: ScheduleRecord
) -> None:
    account = _account(backend)
    store = backend.store

    assert store.take_refresh_lease(account, "lease-a", NOW, _later(30))
    assert not store.take_refresh_lease(account, "lease-b", _later(29), _later(60))
    store.release_refresh_lease(account, "lease-b")  # not its lease: no-op
    assert _account(backend).refreshLeaseToken == "lease-a"
    assert store.take_refresh_lease(account, "lease-b", _later(30), _later(60))

    store.release_refresh_lease(account, "lease-b")
    released = _account(backend)
    assert (released.refreshLeaseToken, released.refreshLeaseUntil) == (None, None)


def test_the_refresh_lease_is_refused_for_a_token_version_already_rotated(
    backend: StoreBackend, post: ScheduleRecord
) -> None:
    account = _account(backend)
    backend.store.save_tokens(account, accessTokenCipher="access-1")

    assert not backend.store.take_refresh_lease(account, "lease-a", NOW, _later(30))


def test_save_tokens_rotates_once_per_version_read(
    backend: StoreBackend, post: ScheduleRecord
) -> None:
    account = _account(backend)
    assert backend.store.take_refresh_lease(account, "lease-a", NOW, _later(30))

    saved = backend.store.save_tokens(
        account,
        accessTokenCipher="access-1",
        refreshTokenCipher="refresh-1",
        accessTokenExpiresAt=_later(86400),
        refreshLeaseToken=None,
        refreshLeaseUntil=None,
        updatedAt=NOW,
    )

    assert saved.tokenVersion == account.tokenVersion + 1
    assert (saved.accessTokenCipher, saved.refreshTokenCipher) == ("access-1", "refresh-1")
    assert (saved.refreshLeaseToken, saved.refreshLeaseUntil) == (None, None)
    assert _account(backend) == saved
    with pytest.raises(TokensChanged):
        backend.store.save_tokens(account, accessTokenCipher="access-2")
    assert _account(backend) == saved


def test_mark_needs_reconnection_records_why_and_drops_the_refresh_lease(
    backend: StoreBackend, post: ScheduleRecord
) -> None:
    account = _account(backend)
    assert backend.store.take_refresh_lease(account, "lease-a", NOW, _later(30))

    backend.store.mark_needs_reconnection(account, "r" * 1200, _later(1))

    marked = _account(backend)
    assert marked.needsReconnection == "r" * 1000
    assert marked.refreshLeaseToken is None
    assert marked.updatedAt == _later(1)


def test_creator_info_is_cached_unless_a_newer_copy_is_held(
    backend: StoreBackend, post: ScheduleRecord
) -> None:
    newer = CreatorInfoSnapshot(privacyLevelOptions=["SELF_ONLY"], maxVideoPostDurationSec=60)
    older = CreatorInfoSnapshot(
        privacyLevelOptions=["PUBLIC_TO_EVERYONE"], maxVideoPostDurationSec=9
    )

    backend.store.save_creator_info(USER, ACCOUNT, newer, _later(10))
    backend.store.save_creator_info(USER, ACCOUNT, older, _later(5))
    backend.store.save_creator_info(USER, "acct-none", older, _later(5))  # gone: no-op

    account = _account(backend)
    assert account.creatorInfo == newer
    assert account.creatorInfoAt == _later(10)
    assert backend.store.get_account(USER, "acct-none") is None


# --- the sweep ----------------------------------------------------------------------------------


def test_due_posts_and_mark_rearmed_count_each_rearm_once(
    backend: StoreBackend, post: ScheduleRecord
) -> None:
    assert list(backend.store.due_posts(_later(60))) == []  # due at NOW+60, not before
    (due,) = list(backend.store.due_posts(_later(61)))
    assert (due.scheduleId, due.version, due.sweepRearms) == (POST, post.version, 0)

    rearmed = backend.store.mark_rearmed(due, _later(120), max_rearms=2)

    assert rearmed is not None
    assert rearmed.sweepRearms == 1
    assert backend.store.mark_rearmed(due, _later(120), max_rearms=2) is None  # read before
    (again,) = list(backend.store.due_posts(_later(121)))
    assert backend.store.mark_rearmed(again, _later(121), max_rearms=1) is None  # at the cap


def test_mark_rearmed_leaves_a_post_a_live_run_holds(
    backend: StoreBackend, post: ScheduleRecord
) -> None:
    assert backend.store.claim(post, NOW, _later(900), "run-a") is not None
    (due,) = list(backend.store.due_posts(_later(61)))

    assert backend.store.mark_rearmed(due, _later(120), max_rearms=5) is None
    assert backend.store.mark_rearmed(due, _later(900), max_rearms=5) is not None
