"""Scheduled posts: creating, changing, reactivating and ending one, each all or nothing with
the video's lock, the plan's counter and the account-minute slot."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from post_scheduler.adapters.table.codec import expression_values, record, schedule_item
from post_scheduler.adapters.table.layout import schedule_key, user_key, video_key
from post_scheduler.adapters.table.schedule_conditions import (
    LockDrifted,
    MinuteCounterGone,
    ScheduleConditions,
    account_minute_full,
    changed_meanwhile,
    unchanged_condition,
)
from post_scheduler.models.records import ScheduleRecord


class Schedules(ScheduleConditions):
    """The writes of a scheduled post."""

    def get_schedule(self, user_id: str, schedule_id: str) -> ScheduleRecord | None:
        return record(ScheduleRecord, self._get(schedule_key(user_id, schedule_id)))

    def create_schedule(self, schedule: ScheduleRecord) -> None:
        """Write a new pending post in one transaction that also takes the video's pending-post
        lock, checks the account, and counts the post against the user's plan limit."""
        user_id, schedule_id = schedule.userId, schedule.scheduleId
        items = [
            self._lock_video_item(user_id, schedule.videoId, schedule_id),
            self._account_exists_item(user_id, schedule.tiktokAccountId, schedule.updatedAt),
            self._count_pending_item(user_id),
            {
                "Put": {
                    "TableName": self.name,
                    "Item": schedule_item(schedule),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            *self._take_minute_items(schedule),
        ]
        self._transact(items, self._explain_lock_failure)

    def replace_schedule(self, schedule: ScheduleRecord, expected: ScheduleRecord) -> None:
        """Overwrite a post that still has the status and version it had when read; a post
        moved to another minute moves its account-minute slot in the same transaction."""
        if schedule.accountMinute != expected.accountMinute:
            self._move_schedule(schedule, expected)
            return
        try:
            self.client.put_item(
                TableName=self.name,
                Item=schedule_item(schedule),
                **unchanged_condition(expected),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise changed_meanwhile() from None

    def _move_schedule(self, schedule: ScheduleRecord, expected: ScheduleRecord) -> None:
        post = {
            "Put": {
                "TableName": self.name,
                "Item": schedule_item(schedule),
                **unchanged_condition(expected),
            }
        }
        take = self._take_minute_items(schedule)
        release = self._release_minute_items(expected)

        def explain(reasons: list[dict[str, Any]]) -> Exception:
            failed = [r.get("Code") == "ConditionalCheckFailed" for r in reasons]
            if failed[0]:
                return changed_meanwhile()
            if take and failed[1]:
                return account_minute_full(reasons[1])
            return MinuteCounterGone()

        try:
            self._transact([post, *take, *release], explain)
        except MinuteCounterGone:
            # The old minute's counter is gone (expired): there is no slot to give back.
            self._transact([post, *take], explain)

    def reactivate_schedule(self, schedule: ScheduleRecord, expected: ScheduleRecord) -> None:
        """Make a cancelled or failed post pending again: the same locks and limit as a create."""
        user_id, schedule_id = schedule.userId, schedule.scheduleId
        items = [
            self._lock_video_item(user_id, schedule.videoId, schedule_id),
            self._account_exists_item(user_id, schedule.tiktokAccountId, schedule.updatedAt),
            self._count_pending_item(user_id),
            {
                "Put": {
                    "TableName": self.name,
                    "Item": schedule_item(schedule),
                    **unchanged_condition(expected),
                }
            },
            *self._take_minute_items(schedule),
        ]
        self._transact(items, self._explain_lock_failure)

    def release_schedule(
        self,
        schedule: ScheduleRecord | None,
        expected: ScheduleRecord,
        *,
        video_published_at: datetime | None = None,
        condition: tuple[str, dict[str, Any]] | None = None,
        video_lock: bool = True,
    ) -> None:
        """End a pending (or publishing) post: write `schedule` (or delete the post when None),
        release the video's lock (marking the video published when `video_published_at` is set)
        and give the plan slot and the account-minute slot back, all or nothing. LockDrifted
        when only the lock's condition failed; `video_lock=False` then ends the post without
        touching the video."""
        user_id = expected.userId
        if schedule is not None and schedule.accountMinute is not None:
            schedule = schedule.model_copy(update={"accountMinute": None})
        if condition is None:
            guard = unchanged_condition(expected)
        else:
            expression, values = condition
            guard = {
                "ConditionExpression": expression,
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": expression_values(**values),
            }
        if schedule is None:
            post_item: dict[str, Any] = {
                "Delete": {
                    "TableName": self.name,
                    "Key": schedule_key(user_id, expected.scheduleId),
                    **guard,
                }
            }
        else:
            post_item = {"Put": {"TableName": self.name, "Item": schedule_item(schedule), **guard}}
        video_update = "REMOVE pendingScheduleId"
        video_values: dict[str, Any] = {"sid": expected.scheduleId}
        if video_published_at is not None:
            video_update = "SET #status = :published, publishedAt = :at " + video_update
            video_values.update(published="published", at=video_published_at)
        video_item = {
            "Update": {
                "TableName": self.name,
                "Key": video_key(user_id, expected.videoId),
                "UpdateExpression": video_update,
                "ConditionExpression": "pendingScheduleId = :sid",
                **(
                    {"ExpressionAttributeNames": {"#status": "status"}}
                    if video_published_at is not None
                    else {}
                ),
                "ExpressionAttributeValues": expression_values(**video_values),
            }
        }
        slot_item = {
            "Update": {
                "TableName": self.name,
                "Key": user_key(user_id),
                "UpdateExpression": "ADD pendingCount :minus",
                "ConditionExpression": "pendingCount > :zero",
                "ExpressionAttributeValues": expression_values(minus=-1, zero=0),
            }
        }
        items = [post_item, video_item, slot_item] if video_lock else [post_item, slot_item]
        minute_items = self._release_minute_items(expected)

        def explain(reasons: list[dict[str, Any]]) -> Exception:
            failed = [r.get("Code") == "ConditionalCheckFailed" for r in reasons]
            if any(failed[len(items) :]) and not any(failed[: len(items)]):
                return MinuteCounterGone()
            if video_lock and failed[:3] == [False, True, False]:
                return LockDrifted("the video's pending-post lock does not name this post")
            return changed_meanwhile()

        try:
            self._transact([*items, *minute_items], explain)
        except MinuteCounterGone:
            # The minute's counter is gone (expired): the post still ends.
            self._transact(items, explain)

    def delete_schedule_record(self, expected: ScheduleRecord) -> None:
        """Delete a post that holds no lock (cancelled or failed)."""
        try:
            self.client.delete_item(
                TableName=self.name,
                Key=schedule_key(expected.userId, expected.scheduleId),
                **unchanged_condition(expected),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise changed_meanwhile() from None
