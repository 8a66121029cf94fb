"""The transaction items a post's writes share (the video's lock, the account check, the plan's
counter, the account-minute slot, the post's own guard) and what their failures mean."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from post_scheduler.adapters.table.base import TableBase
from post_scheduler.adapters.table.codec import expression_values, from_item
from post_scheduler.adapters.table.layout import (
    ACCOUNT_MINUTE_TTL,
    account_key,
    account_minute_key,
    user_key,
    video_key,
)
from post_scheduler.domain.plans import PENDING_POST_LIMITS
from post_scheduler.domain.time_rules import ACCOUNT_POSTS_PER_MINUTE
from post_scheduler.errors import (
    Conflict,
    Forbidden,
    NotFound,
    SchedulingLimitExceeded,
    Unprocessable,
)
from post_scheduler.models.records import ScheduleRecord


class LockDrifted(Conflict):
    """Ending a post failed only because the video's lock does not name it (the lock drifted:
    changed by hand, or lost); the post itself is as expected."""


class MinuteCounterGone(Exception):
    """Only the release of an account-minute counter failed: the counter no longer exists."""


def changed_meanwhile() -> Conflict:
    return Conflict("the scheduled post changed while this request ran; fetch it and retry")


def account_minute_full(reason: dict[str, Any]) -> Unprocessable:
    counter = from_item(reason.get("Item") or {})
    minute = counter.get("postingMinute")
    return Unprocessable(
        f"the TikTok account already has {ACCOUNT_POSTS_PER_MINUTE} posts due in that minute,"
        f" TikTok's limit of {ACCOUNT_POSTS_PER_MINUTE} posts per minute per account;"
        " choose another minute",
        {
            "reason": "TIKTOK_ACCOUNT_MINUTE_FULL",
            "tiktokAccountId": counter.get("tiktokAccountId"),
            "minute": f"{minute}Z" if minute else None,
            "limit": ACCOUNT_POSTS_PER_MINUTE,
        },
    )


def unchanged_condition(expected: ScheduleRecord) -> dict[str, Any]:
    """The post still has the status and revision it had when read."""
    return {
        "ConditionExpression": "#status = :expectedStatus AND revision = :expectedRevision",
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": expression_values(
            expectedStatus=expected.status, expectedRevision=expected.revision
        ),
    }


class ScheduleConditions(TableBase):
    """Builds the items of a post's transactions."""

    def _lock_video_item(self, user_id: str, video_id: str, schedule_id: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.name,
                "Key": video_key(user_id, video_id),
                "UpdateExpression": "SET pendingScheduleId = :sid",
                "ConditionExpression": (
                    "attribute_exists(pk) AND #status = :ready"
                    " AND attribute_not_exists(pendingScheduleId)"
                ),
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": expression_values(sid=schedule_id, ready="ready"),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def _account_exists_item(self, user_id: str, account_id: str, now: datetime) -> dict[str, Any]:
        # Pre-flight: the account's tokens can still be refreshed now (a revoked grant has none;
        # an expired refresh token cannot; a valid access token still works). Each publish
        # rotates the refresh token, so its expiry now, not at a far publish time, is the rule.
        return {
            "ConditionCheck": {
                "TableName": self.name,
                "Key": account_key(user_id, account_id),
                "ConditionExpression": (
                    "attribute_exists(pk) AND size(refreshTokenCipher) > :zero AND ("
                    " refreshTokenExpiresAt > :now OR accessTokenExpiresAt > :now"
                    " OR attribute_not_exists(refreshTokenExpiresAt))"
                ),
                "ExpressionAttributeValues": expression_values(zero=0, now=now),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def _count_pending_item(self, user_id: str) -> dict[str, Any]:
        # The plan is read from the user item inside the condition itself, so a plan change and
        # concurrent creates can never slip past the limit.
        clauses: list[str] = []
        values: dict[str, Any] = {}
        for index, (plan, limit) in enumerate(sorted(PENDING_POST_LIMITS.items())):
            clauses.append(f"(#plan = :plan{index} AND pendingCount < :limit{index})")
            values[f"plan{index}"] = plan
            values[f"limit{index}"] = limit
        return {
            "Update": {
                "TableName": self.name,
                "Key": user_key(user_id),
                "UpdateExpression": "ADD pendingCount :one",
                "ConditionExpression": f"attribute_exists(pk) AND ({' OR '.join(clauses)})",
                "ExpressionAttributeNames": {"#plan": "plan"},
                "ExpressionAttributeValues": expression_values(one=1, **values),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def _take_minute_items(self, schedule: ScheduleRecord) -> list[dict[str, Any]]:
        """The post takes a slot of its account's minute (none when it holds no minute)."""
        minute = schedule.accountMinute
        if minute is None:
            return []
        ends = datetime.fromisoformat(f"{minute}:00+00:00") + ACCOUNT_MINUTE_TTL
        return [
            {
                "Update": {
                    "TableName": self.name,
                    "Key": account_minute_key(schedule.userId, schedule.tiktokAccountId, minute),
                    "UpdateExpression": (
                        "ADD postCount :one SET entity = :entity, tiktokAccountId = :account,"
                        " postingMinute = :minute, expiresAt = :expires"
                    ),
                    "ConditionExpression": "attribute_not_exists(postCount) OR postCount < :limit",
                    "ExpressionAttributeValues": expression_values(
                        one=1,
                        entity="accountMinute",
                        account=schedule.tiktokAccountId,
                        minute=minute,
                        expires=int(ends.timestamp()),
                        limit=ACCOUNT_POSTS_PER_MINUTE,
                    ),
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
        ]

    def _release_minute_items(self, held: ScheduleRecord) -> list[dict[str, Any]]:
        """The post gives its account-minute slot back (none when it holds none)."""
        if held.accountMinute is None:
            return []
        return [
            {
                "Update": {
                    "TableName": self.name,
                    "Key": account_minute_key(
                        held.userId, held.tiktokAccountId, held.accountMinute
                    ),
                    "UpdateExpression": "ADD postCount :minus",
                    "ConditionExpression": "postCount > :zero",
                    "ExpressionAttributeValues": expression_values(minus=-1, zero=0),
                }
            }
        ]

    @staticmethod
    def _explain_lock_failure(reasons: list[dict[str, Any]]) -> Exception:
        """Why a create/reactivate transaction was cancelled, in order of what the client should
        fix first. Reasons align with the items: video lock, account, user counter, schedule,
        then the account-minute counter."""
        failed = [r.get("Code") == "ConditionalCheckFailed" for r in reasons]
        video_old = reasons[0].get("Item")
        user_old = reasons[2].get("Item") if len(reasons) > 2 else None
        if failed[2] and user_old is not None:
            plan = user_old.get("plan", {}).get("S", "free")
            if plan not in PENDING_POST_LIMITS:
                return Forbidden(
                    f"the {plan} plan does not include scheduling;"
                    " upgrade to Basic or Professional",
                    {"plan": plan},
                )
        if failed[0] and video_old is None:
            return NotFound("video not found")
        if failed[1]:
            account_old = reasons[1].get("Item")
            if account_old is None:
                return NotFound("TikTok account not found")
            account = from_item(account_old)
            return Unprocessable(
                "the TikTok account's authorization has expired or was revoked, so the post"
                " could not be published; reconnect the account, then schedule again",
                {
                    "reason": "TIKTOK_AUTHORIZATION_EXPIRED",
                    "tiktokAccountId": account.get("accountId"),
                    "refreshTokenExpiresAt": account.get("refreshTokenExpiresAt"),
                },
            )
        if failed[0] and video_old is not None:
            video = from_item(video_old)
            if video.get("status") == "published":
                return Conflict(
                    "the video has already been published", {"videoId": video["videoId"]}
                )
            if video.get("pendingScheduleId"):
                return Conflict(
                    "the video already has a pending scheduled post",
                    {"videoId": video["videoId"], "scheduleId": video["pendingScheduleId"]},
                )
            return Unprocessable(
                f"the video is not ready to publish (status: {video.get('status')})",
                {"videoId": video["videoId"], "videoStatus": video.get("status")},
            )
        if failed[2]:
            if user_old is None:
                return NotFound("user not found")
            plan = user_old.get("plan", {}).get("S", "")
            limit = PENDING_POST_LIMITS[plan]
            return SchedulingLimitExceeded(
                f"the {plan} plan allows {limit} pending scheduled posts",
                {"plan": plan, "limit": limit},
            )
        if len(failed) > 4 and failed[4]:
            return account_minute_full(reasons[4])
        return Conflict("the post changed while this request ran; retry")
