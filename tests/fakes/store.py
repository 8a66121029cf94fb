"""The scheduling table in memory, with the conditions of `adapters/publication_store.py` and
`adapters/table/`: each method is one atomic request that either meets its condition and
writes, or writes nothing and fails as the real store does."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from post_scheduler.domain.errors import LeaseLost, TokensChanged
from post_scheduler.domain.plans import PENDING_POST_LIMITS
from post_scheduler.domain.time_rules import ACCOUNT_POSTS_PER_MINUTE
from post_scheduler.errors import (
    Conflict,
    Forbidden,
    NotFound,
    SchedulingLimitExceeded,
    Unprocessable,
)
from post_scheduler.models.records import (
    CreatorInfoSnapshot,
    DueEntry,
    ScheduleRecord,
    TikTokAccountRecord,
    UserRecord,
    VideoRecord,
)

ACTIVE_STATUSES = ("pending", "publishing")


class FakeThrottled(Exception):
    """What a throttled request raises here (the store says it is worth retrying)."""


def stored[M: BaseModel](record: M) -> M:
    """`record` as the table gives it back: times to the millisecond, a copy of its own."""
    return type(record).model_validate(_to_ms(record.model_dump()))


def _to_ms(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    if isinstance(value, dict):
        return {k: _to_ms(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_ms(v) for v in value]
    return value


def _ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass
class MemoryTable:
    """The items, shared by the fake stores (as the real ones share one DynamoDB table)."""

    users: dict[str, UserRecord] = field(default_factory=dict)
    videos: dict[tuple[str, str], VideoRecord] = field(default_factory=dict)
    accounts: dict[tuple[str, str], TikTokAccountRecord] = field(default_factory=dict)
    schedules: dict[tuple[str, str], ScheduleRecord] = field(default_factory=dict)
    minutes: dict[tuple[str, str, str], int] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    # Requests to fail with FakeThrottled before they run, by method name.
    throttle: dict[str, int] = field(default_factory=dict)

    def put_user(self, user: UserRecord) -> None:
        self.users[user.userId] = stored(user)

    def put_video(self, video: VideoRecord) -> None:
        self.videos[(video.userId, video.videoId)] = stored(video)

    def put_account(self, account: TikTokAccountRecord) -> None:
        self.accounts[(account.userId, account.accountId)] = stored(account)

    def put_schedule(self, schedule: ScheduleRecord) -> None:
        self.schedules[(schedule.userId, schedule.scheduleId)] = stored(schedule)

    def schedule(self, user_id: str, schedule_id: str) -> ScheduleRecord | None:
        found = self.schedules.get((user_id, schedule_id))
        return None if found is None else stored(found)

    def _throttled(self, method: str) -> None:
        if self.throttle.get(method, 0) > 0:
            self.throttle[method] -= 1
            raise FakeThrottled(method)

    # --- the shared transaction that ends or deletes a pending/publishing post ----------------

    def release(
        self,
        schedule: ScheduleRecord | None,
        expected: ScheduleRecord,
        *,
        guard_ok: bool,
        video_published_at: datetime | None = None,
        video_lock: bool = True,
    ) -> None:
        """`SchedulingTable.release_schedule`: the post written (or deleted), the video's lock
        released, the plan slot and the account-minute slot given back, all or nothing."""
        key = (expected.userId, expected.scheduleId)
        user = self.users.get(expected.userId)
        video = self.videos.get((expected.userId, expected.videoId))
        slot_ok = user is not None and user.pendingCount > 0
        lock_ok = video is not None and video.pendingScheduleId == expected.scheduleId
        if not guard_ok or not slot_ok:
            raise _changed_meanwhile()
        if video_lock and not lock_ok:
            raise LockDrifted("the video's pending-post lock does not name this post")
        assert user is not None
        if schedule is None:
            self.schedules.pop(key, None)
        else:
            self.schedules[key] = stored(schedule.model_copy(update={"accountMinute": None}))
        if video_lock and video is not None:
            changes: dict[str, Any] = {"pendingScheduleId": None}
            if video_published_at is not None:
                changes.update(status="published", publishedAt=_ms(video_published_at))
            self.videos[(video.userId, video.videoId)] = video.model_copy(update=changes)
        self.users[user.userId] = user.model_copy(update={"pendingCount": user.pendingCount - 1})
        self._release_minute(expected)

    def _release_minute(self, held: ScheduleRecord) -> None:
        if held.accountMinute is None:
            return
        key = (held.userId, held.tiktokAccountId, held.accountMinute)
        # A counter that expired (gone) has no slot to give back; the post still ends.
        if self.minutes.get(key, 0) > 0:
            self.minutes[key] -= 1

    def unchanged(self, expected: ScheduleRecord) -> bool:
        current = self.schedules.get((expected.userId, expected.scheduleId))
        return (
            current is not None
            and current.status == expected.status
            and current.revision == expected.revision
        )


class LockDrifted(Conflict):
    """As `adapters.table.LockDrifted`: only the video lock's condition failed."""


def _changed_meanwhile() -> Conflict:
    return Conflict("the scheduled post changed while this request ran; fetch it and retry")


class FakePublicationStore:
    """`PublicationStorePort` over a `MemoryTable`."""

    def __init__(self, table: MemoryTable | None = None) -> None:
        self.table = table if table is not None else MemoryTable()
        self.writes: list[str] = []

    def get(self, user_id: str, schedule_id: str) -> ScheduleRecord | None:
        with self.table.lock:
            return self.table.schedule(user_id, schedule_id)

    def claim(
        self, post: ScheduleRecord, now: datetime, lease_until: datetime, token: str
    ) -> ScheduleRecord | None:
        with self.table.lock:
            self.table._throttled("claim")
            current = self.table.schedules.get((post.userId, post.scheduleId))
            if current is None or current.version != post.version:
                return None
            lapsed = current.leaseExpiresAt is not None and current.leaseExpiresAt <= _ms(now)
            if not (current.status == "pending" or (current.status == "publishing" and lapsed)):
                return None
            claimed = current.model_copy(
                update={
                    "status": "publishing",
                    "claimToken": token,
                    "claimedAt": now,
                    "leaseExpiresAt": lease_until,
                    "publishAttempts": current.publishAttempts + 1,
                    "publishStartedAt": current.publishStartedAt or now,
                    "revision": current.revision + 1,
                    "updatedAt": now,
                }
            )
            self.table.put_schedule(claimed)
            self.writes.append("claim")
            return self.table.schedule(post.userId, post.scheduleId)

    def checkpoint(self, post: ScheduleRecord, token: str, **fields: Any) -> ScheduleRecord:
        with self.table.lock:
            current = self.table.schedules.get((post.userId, post.scheduleId))
            if current is None or current.status != "publishing" or current.claimToken != token:
                raise LeaseLost(post.scheduleId)
            # Validated like a record read back (a field the record lacks is refused).
            data = {**current.model_dump(), **fields, "revision": current.revision + 1}
            self.table.put_schedule(ScheduleRecord.model_validate(data))
            self.writes.append("checkpoint")
            found = self.table.schedule(post.userId, post.scheduleId)
            assert found is not None
            return found

    def release_lease(self, post: ScheduleRecord, token: str, now: datetime, error: str) -> None:
        with suppress(LeaseLost):
            self.checkpoint(post, token, leaseExpiresAt=now, lastError=error[:1000], updatedAt=now)

    def finish(
        self,
        post: ScheduleRecord,
        token: str | None,
        final: ScheduleRecord,
        video_published_at: datetime | None,
    ) -> None:
        with self.table.lock:
            current = self.table.schedules.get((post.userId, post.scheduleId))
            if token is None:
                guard_ok = self.table.unchanged(post)
            else:
                guard_ok = (
                    current is not None
                    and current.status == "publishing"
                    and current.claimToken == token
                )
            try:
                try:
                    self.table.release(
                        final, post, guard_ok=guard_ok, video_published_at=video_published_at
                    )
                except LockDrifted:
                    self.table.release(final, post, guard_ok=guard_ok, video_lock=False)
            except Conflict:
                if token is None:
                    raise
                raise LeaseLost(post.scheduleId) from None
            self.writes.append("finish")

    def get_account(self, user_id: str, account_id: str) -> TikTokAccountRecord | None:
        with self.table.lock:
            found = self.table.accounts.get((user_id, account_id))
            return None if found is None else stored(found)

    def get_video(self, user_id: str, video_id: str) -> VideoRecord | None:
        with self.table.lock:
            found = self.table.videos.get((user_id, video_id))
            return None if found is None else stored(found)

    def is_throttling(self, error: BaseException) -> bool:
        return isinstance(error, FakeThrottled)

    def save_creator_info(
        self, user_id: str, account_id: str, info: CreatorInfoSnapshot, at: datetime
    ) -> None:
        with self.table.lock:
            account = self.table.accounts.get((user_id, account_id))
            if account is None or (
                account.creatorInfoAt is not None and account.creatorInfoAt > _ms(at)
            ):
                return
            self.table.put_account(
                account.model_copy(update={"creatorInfo": info, "creatorInfoAt": at})
            )

    def take_refresh_lease(
        self, account: TikTokAccountRecord, lease: str, now: datetime, until: datetime
    ) -> bool:
        with self.table.lock:
            current = self.table.accounts.get((account.userId, account.accountId))
            if current is None or current.tokenVersion != account.tokenVersion:
                return False
            if current.refreshLeaseUntil is not None and current.refreshLeaseUntil > _ms(now):
                return False
            self.table.put_account(
                current.model_copy(update={"refreshLeaseToken": lease, "refreshLeaseUntil": until})
            )
            return True

    def release_refresh_lease(self, account: TikTokAccountRecord, lease: str) -> None:
        with self.table.lock:
            current = self.table.accounts.get((account.userId, account.accountId))
            if current is None or current.refreshLeaseToken != lease:
                return
            self.table.put_account(
                current.model_copy(update={"refreshLeaseToken": None, "refreshLeaseUntil": None})
            )

    def mark_needs_reconnection(
        self, account: TikTokAccountRecord, reason: str, now: datetime
    ) -> None:
        with self.table.lock:
            current = self.table.accounts.get((account.userId, account.accountId))
            if current is None:
                return
            self.table.put_account(
                current.model_copy(
                    update={
                        "needsReconnection": reason[:1000],
                        "updatedAt": now,
                        "refreshLeaseToken": None,
                        "refreshLeaseUntil": None,
                    }
                )
            )

    def save_tokens(self, account: TikTokAccountRecord, **fields: Any) -> TikTokAccountRecord:
        with self.table.lock:
            self.table._throttled("save_tokens")
            current = self.table.accounts.get((account.userId, account.accountId))
            if current is None or current.tokenVersion != account.tokenVersion:
                raise TokensChanged(account.accountId)
            data = {**current.model_dump(), **fields, "tokenVersion": account.tokenVersion + 1}
            self.table.put_account(TikTokAccountRecord.model_validate(data))
            found = self.table.accounts[(account.userId, account.accountId)]
            return stored(found)

    def due_posts(self, due_before: datetime, page_size: int = 100) -> Iterator[DueEntry]:
        with self.table.lock:
            due = sorted(
                (
                    s
                    for s in self.table.schedules.values()
                    if s.status in ACTIVE_STATUSES and s.scheduledPublishTime < _ms(due_before)
                ),
                key=lambda s: (s.scheduledPublishTime, s.scheduleId),
            )
            entries = [DueEntry.model_validate(s.model_dump()) for s in due]
        return iter(entries)

    def mark_rearmed(self, post: DueEntry, now: datetime, max_rearms: int) -> ScheduleRecord | None:
        with self.table.lock:
            current = self.table.schedules.get((post.userId, post.scheduleId))
            if current is None or current.version != post.version:
                return None
            lapsed = current.leaseExpiresAt is not None and current.leaseExpiresAt <= _ms(now)
            if not (current.status == "pending" or (current.status == "publishing" and lapsed)):
                return None
            if current.sweepRearms != post.sweepRearms or current.sweepRearms >= max_rearms:
                return None
            self.table.put_schedule(
                current.model_copy(
                    update={
                        "sweepRearms": current.sweepRearms + 1,
                        "revision": current.revision + 1,
                        "updatedAt": now,
                    }
                )
            )
            return self.table.schedule(post.userId, post.scheduleId)


class FakeScheduleTable:
    """The parts of `SchedulingTablePort` the schedule rules use (`ScheduleTablePort`), with the
    table's cross-item rules: the video's one-pending-post lock, the account check, the plan's
    pending-post limit, TikTok's posts-per-minute per account, and unchanged-since-read."""

    def __init__(self, table: MemoryTable | None = None) -> None:
        self.table = table if table is not None else MemoryTable()

    def get_schedule(self, user_id: str, schedule_id: str) -> ScheduleRecord | None:
        with self.table.lock:
            return self.table.schedule(user_id, schedule_id)

    def get_user(self, user_id: str) -> UserRecord | None:
        with self.table.lock:
            found = self.table.users.get(user_id)
            return None if found is None else stored(found)

    def get_videos_and_accounts(
        self, user_id: str, video_ids: set[str], account_ids: set[str]
    ) -> tuple[dict[str, VideoRecord], dict[str, TikTokAccountRecord]]:
        with self.table.lock:
            videos = {
                v: stored(self.table.videos[(user_id, v)])
                for v in video_ids
                if (user_id, v) in self.table.videos
            }
            accounts = {
                a: stored(self.table.accounts[(user_id, a)])
                for a in account_ids
                if (user_id, a) in self.table.accounts
            }
            return videos, accounts

    def list_schedules(
        self, user_id: str, limit: int, page_token: str | None, status: str | None = None
    ) -> tuple[list[ScheduleRecord], str | None]:
        with self.table.lock:
            statuses = ("pending", "publishing") if status == "pending" else (status,)
            mine = sorted(
                (
                    s
                    for (owner, _), s in self.table.schedules.items()
                    if owner == user_id and (status is None or s.status in statuses)
                ),
                key=lambda s: (s.scheduledPublishTime, s.scheduleId),
            )
            start = int(page_token or 0)
            page = [stored(s) for s in mine[start : start + limit]]
            more = start + limit < len(mine)
            return page, str(start + limit) if more else None

    def list_upcoming(
        self, now: datetime, limit: int, page_token: str | None
    ) -> tuple[list[DueEntry], str | None]:
        with self.table.lock:
            coming = sorted(
                (
                    s
                    for s in self.table.schedules.values()
                    if s.status == "pending" and s.scheduledPublishTime > _ms(now)
                ),
                key=lambda s: (s.scheduledPublishTime, s.scheduleId),
            )
            start = int(page_token or 0)
            page = [DueEntry.model_validate(s.model_dump()) for s in coming[start : start + limit]]
            more = start + limit < len(coming)
            return page, str(start + limit) if more else None

    def create_schedule(self, schedule: ScheduleRecord) -> None:
        with self.table.lock:
            exists = (schedule.userId, schedule.scheduleId) in self.table.schedules
            self._take_locks(schedule, schedule_ok=not exists)

    def reactivate_schedule(self, schedule: ScheduleRecord, expected: ScheduleRecord) -> None:
        with self.table.lock:
            self._take_locks(schedule, schedule_ok=self.table.unchanged(expected))

    def replace_schedule(self, schedule: ScheduleRecord, expected: ScheduleRecord) -> None:
        with self.table.lock:
            if not self.table.unchanged(expected):
                raise _changed_meanwhile()
            if schedule.accountMinute != expected.accountMinute:
                self._take_minute(schedule)
                self.table._release_minute(expected)
            self.table.put_schedule(schedule)

    def release_schedule(
        self,
        schedule: ScheduleRecord | None,
        expected: ScheduleRecord,
        *,
        video_published_at: datetime | None = None,
        condition: tuple[str, dict[str, Any]] | None = None,
        video_lock: bool = True,
    ) -> None:
        if condition is not None:
            raise NotImplementedError("the schedule rules never pass a condition expression")
        with self.table.lock:
            self.table.release(
                schedule,
                expected,
                guard_ok=self.table.unchanged(expected),
                video_published_at=video_published_at,
                video_lock=video_lock,
            )

    def delete_schedule_record(self, expected: ScheduleRecord) -> None:
        with self.table.lock:
            if not self.table.unchanged(expected):
                raise _changed_meanwhile()
            del self.table.schedules[(expected.userId, expected.scheduleId)]

    # --- the create/reactivate transaction ------------------------------------------------------

    def _take_locks(self, schedule: ScheduleRecord, schedule_ok: bool) -> None:
        """Video lock, account check, plan counter, the post, the account-minute slot: the
        first failing condition, in the order `SchedulingTable._explain_lock_failure` reports
        them, cancels everything."""
        user_id = schedule.userId
        video = self.table.videos.get((user_id, schedule.videoId))
        account = self.table.accounts.get((user_id, schedule.tiktokAccountId))
        user = self.table.users.get(user_id)
        now = _ms(schedule.updatedAt)
        video_ok = video is not None and video.status == "ready" and not video.pendingScheduleId
        account_ok = (
            account is not None
            and bool(account.refreshTokenCipher)
            and (
                account.refreshTokenExpiresAt is None
                or account.refreshTokenExpiresAt > now
                or (account.accessTokenExpiresAt is not None and account.accessTokenExpiresAt > now)
            )
        )
        limit = PENDING_POST_LIMITS.get(user.plan) if user is not None else None
        user_ok = user is not None and limit is not None and user.pendingCount < limit
        if user is not None and limit is None:
            raise Forbidden(
                f"the {user.plan} plan does not include scheduling;"
                " upgrade to Basic or Professional",
                {"plan": user.plan},
            )
        if video is None:
            raise NotFound("video not found")
        if not account_ok:
            if account is None:
                raise NotFound("TikTok account not found")
            raise Unprocessable(
                "the TikTok account's authorization has expired or was revoked, so the post"
                " could not be published; reconnect the account, then schedule again",
                {"reason": "TIKTOK_AUTHORIZATION_EXPIRED", "tiktokAccountId": account.accountId},
            )
        if not video_ok:
            if video.status == "published":
                raise Conflict("the video has already been published", {"videoId": video.videoId})
            if video.pendingScheduleId:
                raise Conflict(
                    "the video already has a pending scheduled post",
                    {"videoId": video.videoId, "scheduleId": video.pendingScheduleId},
                )
            raise Unprocessable(
                f"the video is not ready to publish (status: {video.status})",
                {"videoId": video.videoId, "videoStatus": video.status},
            )
        if not user_ok:
            if user is None:
                raise NotFound("user not found")
            assert limit is not None
            raise SchedulingLimitExceeded(
                f"the {user.plan} plan allows {limit} pending scheduled posts",
                {"plan": user.plan, "limit": limit},
            )
        self._check_minute(schedule)
        if not schedule_ok:
            raise Conflict("the post changed while this request ran; retry")
        assert user is not None
        self.table.videos[(user_id, video.videoId)] = video.model_copy(
            update={"pendingScheduleId": schedule.scheduleId}
        )
        self.table.users[user_id] = user.model_copy(update={"pendingCount": user.pendingCount + 1})
        self.table.put_schedule(schedule)
        self._take_minute(schedule)

    def _check_minute(self, schedule: ScheduleRecord) -> None:
        minute = schedule.accountMinute
        if minute is None:
            return
        if self.table.minutes.get((schedule.userId, schedule.tiktokAccountId, minute), 0) >= (
            ACCOUNT_POSTS_PER_MINUTE
        ):
            raise Unprocessable(
                f"the TikTok account already has {ACCOUNT_POSTS_PER_MINUTE} posts due in that"
                f" minute, TikTok's limit of {ACCOUNT_POSTS_PER_MINUTE} posts per minute per"
                " account; choose another minute",
                {
                    "reason": "TIKTOK_ACCOUNT_MINUTE_FULL",
                    "tiktokAccountId": schedule.tiktokAccountId,
                    "minute": f"{minute}Z",
                    "limit": ACCOUNT_POSTS_PER_MINUTE,
                },
            )

    def _take_minute(self, schedule: ScheduleRecord) -> None:
        self._check_minute(schedule)
        if schedule.accountMinute is not None:
            key = (schedule.userId, schedule.tiktokAccountId, schedule.accountMinute)
            self.table.minutes[key] = self.table.minutes.get(key, 0) + 1
