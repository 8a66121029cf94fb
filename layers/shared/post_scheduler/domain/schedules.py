"""Scheduling use cases: create, list, update, delete and the public upcoming list.

The table enforces the cross-item rules (limits, one pending post per video) atomically; this
module decides which transition a request means, checks the time rules, and keeps the
Scheduler's schedule in step with the table, undoing the table write when the Scheduler fails.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from post_scheduler.domain.plans import pending_limit
from post_scheduler.domain.preflight import check_creator_info, fresh_creator_info
from post_scheduler.domain.time_rules import (
    check_publish_time,
    posting_minute,
    schedule_fire_time,
)
from post_scheduler.errors import Conflict, DependencyUnavailable, NotFound, ValidationFailed
from post_scheduler.models.fields import TIKTOK_CAPTION_LIMIT, utf16_length
from post_scheduler.models.records import CreatorInfoSnapshot, ScheduleRecord, TikTokAccountRecord
from post_scheduler.models.requests import (
    CreateScheduleRequest,
    PostOptions,
    RetryScheduleRequest,
    UpdateScheduleRequest,
)
from post_scheduler.models.responses import (
    Quota,
    ScheduledPostDetail,
    ScheduledVideo,
    UpcomingPost,
)
from post_scheduler.timestamps import utc_now

if TYPE_CHECKING:
    from post_scheduler.domain.ports import SchedulerPort, ScheduleTablePort

logger = logging.getLogger(__name__)

# Publishing details a post loses when it becomes pending again for a new publish (only when it
# holds no TikTok publish id, or TikTok said that publish FAILED or cannot complete).
_PUBLISH_STATE_RESET = {
    "claimedAt": None,
    "claimToken": None,
    "leaseExpiresAt": None,
    "publishStartedAt": None,
    "tiktokPublishId": None,
    "uploadUrl": None,
    "uploadUrlExpiresAt": None,
    "videoEtag": None,
    "videoSizeBytes": None,
    "chunkSize": None,
    "totalChunkCount": None,
    "uploadedBytes": None,
    "uploadCompletedAt": None,
    "publishOutcome": None,
    "sweepRearms": 0,
    "publishAttempts": 0,
    "executedAt": None,
    "failedAt": None,
    "failureReason": None,
    "lastError": None,
    "cancelledAt": None,
}
# What a post holding a TikTok publish id drops when re-activated to be reconciled: the claim
# and the ending, never the publish id or its upload state.
_RECONCILE_RESET = {
    "claimToken": None,
    "leaseExpiresAt": None,
    "sweepRearms": 0,
    "executedAt": None,
    "failedAt": None,
    "cancelledAt": None,
}


@dataclass(frozen=True)
class TimeRules:
    min_lead_seconds: int = 900
    max_horizon_days: int = 365


class ScheduleService:
    """The scheduling API's use cases for one table and one Scheduler group."""

    def __init__(
        self,
        table: ScheduleTablePort,
        scheduler: SchedulerPort,
        rules: TimeRules,
        clock: Callable[[], datetime] = utc_now,
        creator_info: Callable[[TikTokAccountRecord], CreatorInfoSnapshot | None] | None = None,
    ) -> None:
        self.table = table
        self.scheduler = scheduler
        self.rules = rules
        self.clock = clock
        # Reads creator_info from TikTok when the account's cached copy is stale (None: never).
        self.creator_info = creator_info

    # --- create -------------------------------------------------------------------------------

    def create(self, user_id: str, request: CreateScheduleRequest) -> ScheduleRecord:
        """Schedule a video: one transaction in the table, then the post's one-time schedule."""
        now = self.clock()
        self._check_time(request.scheduledPublishTime, now)
        schedule = ScheduleRecord(
            scheduleId=str(uuid.uuid4()),
            userId=user_id,
            videoId=request.videoId,
            tiktokAccountId=request.tiktokAccountId,
            scheduledPublishTime=request.scheduledPublishTime,
            status="pending",
            createdAt=now,
            updatedAt=now,
            title=request.title,
            hashtags=request.hashtags,
            postOptions=request.options or PostOptions(),
            accountMinute=posting_minute(request.scheduledPublishTime),
        )
        self._check_creator(schedule, now)
        self.table.create_schedule(schedule)
        try:
            self._arm(schedule, now)
        except DependencyUnavailable:
            self._undo(lambda: self.table.release_schedule(None, expected=schedule), schedule)
            raise
        return schedule

    # --- read ---------------------------------------------------------------------------------

    def list_scheduled_videos(
        self, user_id: str, limit: int, page_token: str | None, status: str | None
    ) -> tuple[list[ScheduledVideo], str | None]:
        """A page of the user's posts with their video and account summaries."""
        schedules, next_token = self.table.list_schedules(user_id, limit, page_token, status)
        return self._with_details(user_id, schedules), next_token

    def upcoming(self, limit: int, page_token: str | None) -> tuple[list[UpcomingPost], str | None]:
        """Pending posts still to come, soonest first (public)."""
        schedules, next_token = self.table.list_upcoming(self.clock(), limit, page_token)
        return [UpcomingPost.of(s) for s in schedules], next_token

    def _with_details(self, user_id: str, schedules: list[ScheduleRecord]) -> list[ScheduledVideo]:
        videos, accounts = self.table.get_videos_and_accounts(
            user_id,
            {s.videoId for s in schedules},
            {s.tiktokAccountId for s in schedules},
        )
        return [
            ScheduledVideo.of(s, videos.get(s.videoId), accounts.get(s.tiktokAccountId))
            for s in schedules
        ]

    def get(self, user_id: str, schedule_id: str) -> ScheduledPostDetail:
        """One of the user's posts with its whole publishing state."""
        return self.detail(self._get_owned(user_id, schedule_id))

    def detail(self, schedule: ScheduleRecord) -> ScheduledPostDetail:
        """A post with its video and account summaries and its publishing state."""
        videos, accounts = self.table.get_videos_and_accounts(
            schedule.userId, {schedule.videoId}, {schedule.tiktokAccountId}
        )
        return ScheduledPostDetail.of(
            schedule, videos.get(schedule.videoId), accounts.get(schedule.tiktokAccountId)
        )

    def quota(self, user_id: str) -> Quota:
        """The user's plan, its pending-post limit and how much of it is used."""
        user = self.table.get_user(user_id)
        if user is None:
            raise NotFound("user not found")
        limit = pending_limit(user.plan) or 0
        return Quota(
            plan=user.plan,
            limit=limit,
            pending=user.pendingCount,
            remaining=max(limit - user.pendingCount, 0),
        )

    def view(self, schedule: ScheduleRecord) -> ScheduledVideo:
        """One post as the API shows it."""
        return self._with_details(schedule.userId, [schedule])[0]

    # --- update -------------------------------------------------------------------------------

    def update(
        self, user_id: str, schedule_id: str, request: UpdateScheduleRequest
    ) -> ScheduleRecord:
        """Apply a PUT: move the time, change caption/options, or change the status."""
        now = self.clock()
        current = self._get_owned(user_id, schedule_id)
        if current.status == "executed":
            raise Conflict("the post has already been published and cannot be changed")
        target = request.status or ("pending" if current.status == "pending" else current.status)
        if current.status == "publishing" and not (
            target == "pending" and _reconcilable(current, now)
        ):
            raise Conflict("the post is being published right now and cannot be changed")

        new_time = request.scheduledPublishTime or current.scheduledPublishTime
        time_moved = new_time != current.scheduledPublishTime
        if current.holds_publish and (time_moved or target == "cancelled"):
            raise _handed_to_tiktok(current)
        if not current.holds_publish and (
            request.scheduledPublishTime is not None
            or (target == "pending" and current.status != "pending")
        ):
            self._check_time(new_time, now)

        changes: dict[str, object] = {"updatedAt": now, "revision": current.revision + 1}
        for field in ("title", "hashtags"):
            if field in request.model_fields_set:
                changes[field] = getattr(request, field)
        # The request alone cannot see the stored half of the caption: check the whole of it.
        caption = current.model_copy(update=changes).caption
        if utf16_length(caption) > TIKTOK_CAPTION_LIMIT:
            message = f"title and hashtags together must fit TikTok's {TIKTOK_CAPTION_LIMIT}"
            raise ValidationFailed(
                f"{message}-character caption", [{"field": "body", "message": message}]
            )
        if "options" in request.model_fields_set:
            changes["postOptions"] = request.options or PostOptions()
        changes["scheduledPublishTime"] = new_time

        if current.status == "pending":
            if target == "pending":
                return self._edit_pending(current, changes, time_moved, now)
            return self._end_pending(current, target, changes, now)
        # cancelled, failed, or publishing with an unconfirmed outcome
        if target == "pending":
            return self.reactivate(current, new_time, now, changes)
        if target == "executed":
            raise Conflict("only a pending post can be marked executed")
        updated = current.model_copy(update={**changes, "status": target})
        if target == "cancelled" and current.status != "cancelled":
            updated = updated.model_copy(update={"cancelledAt": now})
        if _same_content(updated, current):
            return current
        self.table.replace_schedule(updated, expected=current)
        return updated

    def _edit_pending(
        self, current: ScheduleRecord, changes: dict[str, object], time_moved: bool, now: datetime
    ) -> ScheduleRecord:
        if time_moved:
            changes["version"] = current.version + 1
            changes["sweepRearms"] = 0
            changes["accountMinute"] = posting_minute(
                current.model_copy(update=changes).scheduledPublishTime
            )
        updated = current.model_copy(update=changes)
        if _same_content(updated, current):
            return current
        self.table.replace_schedule(updated, expected=current)
        if time_moved:
            try:
                self._arm(updated, now, move=True)
            except DependencyUnavailable:
                restored = current.model_copy(update={"revision": updated.revision + 1})
                self._undo(lambda: self.table.replace_schedule(restored, expected=updated), updated)
                raise
        return updated

    def _end_pending(
        self, current: ScheduleRecord, target: str, changes: dict[str, object], now: datetime
    ) -> ScheduleRecord:
        stamp = {"cancelledAt": now} if target == "cancelled" else {"executedAt": now}
        updated = current.model_copy(update={**changes, **stamp, "status": target})
        self.table.release_schedule(
            updated,
            expected=current,
            video_published_at=now if target == "executed" else None,
        )
        self._disarm(current)
        return updated

    def reactivate(
        self,
        current: ScheduleRecord,
        new_time: datetime | None,
        now: datetime,
        changes: dict[str, object] | None = None,
    ) -> ScheduleRecord:
        """Make a failed or cancelled post pending again (also the retry path).

        A post that holds no TikTok publish id, or whose publish TikTok reported FAILED (or
        could never complete), gets a new publish at `new_time`. One whose publish id TikTok
        may still honour (an unconfirmed outcome) is reconciled instead: re-armed at once with
        its publish id kept, so the publisher resumes the upload or reads TikTok's status and
        never calls init again; it cannot be re-timed (`new_time` must be None or unchanged).
        """
        changes = {"updatedAt": now, "revision": current.revision + 1, **(changes or {})}
        if current.holds_publish:
            return self._reconcile(current, new_time, changes, now)
        publish_at = new_time or current.scheduledPublishTime
        self._check_time(publish_at, now)
        updated = current.model_copy(
            update={
                **changes,
                **_PUBLISH_STATE_RESET,
                "scheduledPublishTime": publish_at,
                "status": "pending",
                "version": current.version + 1,
                "accountMinute": posting_minute(publish_at),
            }
        )
        self._check_creator(updated, now)
        self._take_slot_and_arm(current, updated, now)
        return updated

    def _reconcile(
        self,
        current: ScheduleRecord,
        new_time: datetime | None,
        changes: dict[str, object],
        now: datetime,
    ) -> ScheduleRecord:
        if new_time is not None and new_time != current.scheduledPublishTime:
            raise _handed_to_tiktok(current)
        if current.status == "publishing" and not _reconcilable(current, now):
            raise Conflict("the post is being published right now and cannot be changed")
        updated = current.model_copy(
            update={
                **changes,
                **_RECONCILE_RESET,
                "scheduledPublishTime": current.scheduledPublishTime,
                "status": "pending",
                "version": current.version + 1,
            }
        )
        # The publisher checks TikTok in the coming minute (the post's own time is past).
        fire_at = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
        if current.status == "publishing":
            # Still holds its video lock and plan slot: only the post changes.
            self.table.replace_schedule(updated, expected=current)
            try:
                self.scheduler.create(updated.scheduleId, updated.userId, updated.version, fire_at)
            except DependencyUnavailable:
                restored = current.model_copy(update={"revision": updated.revision + 1})
                self._undo(lambda: self.table.replace_schedule(restored, expected=updated), updated)
                raise
            return updated
        self._take_slot_and_arm(current, updated, now, fire_at)
        return updated

    def _take_slot_and_arm(
        self,
        current: ScheduleRecord,
        updated: ScheduleRecord,
        now: datetime,
        fire_at: datetime | None = None,
    ) -> None:
        self.table.reactivate_schedule(updated, expected=current)
        try:
            if fire_at is None:
                self._arm(updated, now)
            else:
                self.scheduler.create(updated.scheduleId, updated.userId, updated.version, fire_at)
        except DependencyUnavailable:
            restored = current.model_copy(update={"revision": updated.revision + 1})
            self._undo(lambda: self.table.release_schedule(restored, expected=updated), updated)
            raise

    # --- retry --------------------------------------------------------------------------------

    def retry(
        self, user_id: str, schedule_id: str, request: RetryScheduleRequest | None
    ) -> ScheduleRecord:
        """A failed post back to pending, at the given time or as soon as the minimum lead
        allows; through the same re-activation as a PUT (plan limit, video lock, and whatever
        re-activation does with a publish TikTok already started)."""
        now = self.clock()
        current = self._get_owned(user_id, schedule_id)
        if current.status != "failed":
            raise Conflict(
                f"only a failed post can be retried (this one is {current.client_status})",
                {"status": current.client_status},
            )
        publish_at = request.scheduledPublishTime if request else None
        if current.holds_publish:
            # TikTok may still publish it: reconcile that publish, never start a second one.
            return self.reactivate(current, publish_at, now)
        if publish_at is None:
            earliest = now + timedelta(seconds=max(self.rules.min_lead_seconds, 1))
            # Whole seconds, rounded up, so the default is never short of the minimum lead.
            publish_at = earliest.replace(microsecond=0) + timedelta(
                seconds=1 if earliest.microsecond else 0
            )
        return self.reactivate(current, publish_at, now)

    # --- delete -------------------------------------------------------------------------------

    def delete(self, user_id: str, schedule_id: str) -> ScheduleRecord:
        """Delete a post; a pending one gives its plan slot and video lock back."""
        current = self._get_owned(user_id, schedule_id)
        if current.status == "executed":
            raise Conflict("the post has already been published and cannot be deleted")
        if current.status == "publishing":
            raise Conflict("the post is being published right now and cannot be deleted")
        if current.status == "pending":
            self.table.release_schedule(None, expected=current)
            self._disarm(current)
        else:
            self.table.delete_schedule_record(current)
        return current

    # --- helpers ------------------------------------------------------------------------------

    def _get_owned(self, user_id: str, schedule_id: str) -> ScheduleRecord:
        # Keys include the owner, so another user's post is indistinguishable from a missing one.
        schedule = self.table.get_schedule(user_id, schedule_id)
        if schedule is None:
            raise NotFound("scheduled post not found")
        return schedule

    def _check_creator(self, post: ScheduleRecord, now: datetime) -> None:
        """Pre-flight: the privacy level and the video's duration against creator_info (the
        account's copy while fresh, else TikTok's answer; skipped when neither is at hand).
        A missing video or account is left to the transaction's 404."""
        videos, accounts = self.table.get_videos_and_accounts(
            post.userId, {post.videoId}, {post.tiktokAccountId}
        )
        video, account = videos.get(post.videoId), accounts.get(post.tiktokAccountId)
        if video is None or account is None:
            return
        info = fresh_creator_info(account, now)
        if info is None and self.creator_info is not None:
            info = self.creator_info(account)
        if info is not None:
            check_creator_info(
                info, account.accountId, post.postOptions.privacyLevel, video.durationSeconds
            )

    def _check_time(self, publish_at: datetime, now: datetime) -> None:
        check_publish_time(
            publish_at, now, self.rules.min_lead_seconds, self.rules.max_horizon_days
        )

    def _arm(self, schedule: ScheduleRecord, now: datetime, *, move: bool = False) -> None:
        # A pending post's schedule exists: move it with one UpdateSchedule (not a create
        # that fails with ConflictException first). Either call falls back to the other.
        arm = self.scheduler.update if move else self.scheduler.create
        arm(
            schedule.scheduleId,
            schedule.userId,
            schedule.version,
            schedule_fire_time(schedule.scheduledPublishTime, now),
        )

    def _disarm(self, schedule: ScheduleRecord) -> None:
        # The table already says the post is not pending, so a schedule that survives a failed
        # delete only wakes the publisher for a no-op, and removes itself after firing.
        try:
            self.scheduler.delete(schedule.scheduleId)
        except DependencyUnavailable:
            logger.warning(
                "schedule not removed; it will fire as a no-op",
                extra={"scheduleId": schedule.scheduleId},
            )

    @staticmethod
    def _undo(compensate: Callable[[], None], schedule: ScheduleRecord) -> None:
        try:
            compensate()
        except Exception:  # the original failure is what the client must hear about
            logger.exception(
                "could not undo the table write after a Scheduler failure",
                extra={"scheduleId": schedule.scheduleId, "userId": schedule.userId},
            )


def _reconcilable(post: ScheduleRecord, now: datetime) -> bool:
    """A publishing post no run holds whose outcome TikTok has not confirmed."""
    lapsed = post.leaseExpiresAt is None or post.leaseExpiresAt <= now
    return post.publishOutcome == "unconfirmed" and lapsed


def _handed_to_tiktok(post: ScheduleRecord) -> Conflict:
    return Conflict(
        f"the video was already handed to TikTok (publish id {post.tiktokPublishId}) and may"
        " be live there, so the post cannot be re-timed or cancelled; PUT"
        ' {"status": "pending"} without a new time checks TikTok again',
        {"tiktokPublishId": post.tiktokPublishId},
    )


def _same_content(a: ScheduleRecord, b: ScheduleRecord) -> bool:
    """True when a write would change nothing but its bookkeeping."""
    bookkeeping = {"updatedAt", "revision"}
    return a.model_dump(exclude=bookkeeping) == b.model_dump(exclude=bookkeeping)
