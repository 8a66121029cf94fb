"""The DynamoDB table: one table, every entity, keyed so each access pattern is one request.

Layout (pk / sk):
    USER#<userId>   / PROFILE                 user: plan, pendingCount
    APIKEY#<sha256> / APIKEY                  API key (hash only); gsi1 USER#<userId> / APIKEY#..
    USER#<userId>   / VIDEO#<videoId>         video; `pendingScheduleId` = one-pending-post lock;
                                              while uploading, `expiresAt` (TTL) and `uploadId`
    USER#<userId>   / ACCOUNT#<accountId>     TikTok account (tokens encrypted)
    OAUTH#<sha256>  / STATE                   a TikTok connect flow, by its state's hash (TTL)
    USER#<userId>   / POSTMINUTE#<accountId>#<minute>   postCount: the account's pending posts
                                              due in that UTC minute (TikTok's init limit; TTL)
    USER#<userId>   / SCHEDULE#<scheduleId>   scheduled post
        gsi1 (UserIndex): USER#<userId> / SCHEDULE#<time>#<scheduleId>   the user's posts by time
        DueShardIndex: DUE#<nn> / <time>#<scheduleId>   only while pending or publishing
            (sparse); write-sharded over DUE_SHARDS partitions by the post's id, so posts due
            in the same second spread out; reads merge the shards. Projects only DUE_PROJECTION.

Every rule that spans items (plan limit, one pending post per video, exact counters) is a
condition inside one transaction, never a read followed by a write.
"""

from __future__ import annotations

import hashlib
import heapq
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from pydantic import BaseModel

from post_scheduler.adapters.aws import aws_client
from post_scheduler.adapters.paging import PageTokens, invalid_page_token
from post_scheduler.domain.plans import PENDING_POST_LIMITS
from post_scheduler.domain.time_rules import ACCOUNT_POSTS_PER_MINUTE
from post_scheduler.errors import (
    Conflict,
    DependencyUnavailable,
    Forbidden,
    NotFound,
    SchedulingLimitExceeded,
    Unprocessable,
)
from post_scheduler.models.accounts import OAuthStateRecord
from post_scheduler.models.records import (
    ApiKeyRecord,
    CreatorInfoSnapshot,
    DueEntry,
    ScheduleRecord,
    TikTokAccountRecord,
    UserRecord,
    VideoRecord,
)
from post_scheduler.models.videos import VideoFileRecord
from post_scheduler.timestamps import format_utc

if TYPE_CHECKING:
    from post_scheduler.adapters.page_seal import TokenSealer

# Attempts of a transaction cancelled by a conflicting one, with jittered exponential backoff.
_TRANSACTION_ATTEMPTS = 4
_TRANSACTION_BACKOFF_SECONDS = 0.025

USER_INDEX = "UserIndex"
DUE_INDEX = "DueShardIndex"
# One DynamoDB partition takes about 1,000 writes a second; every create, move, claim and end
# of a post writes the due index, so its writes are spread over this many partition keys.
DUE_SHARDS = 16
# What the due index carries besides the keys: exactly what upcoming and the sweep read.
DUE_PROJECTION = (
    "scheduleId",
    "userId",
    "status",
    "version",
    "scheduledPublishTime",
    "tiktokAccountId",
    "leaseExpiresAt",
    "sweepRearms",
)
_DUE_POSITION = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z(#[0-9A-Za-z-]{1,64})?$")
ACTIVE_STATUSES = ("pending", "publishing")

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


# --- keys -------------------------------------------------------------------------------------


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def user_key(user_id: str) -> dict[str, Any]:
    return _key(f"USER#{user_id}", "PROFILE")


def api_key_key(key_hash: str) -> dict[str, Any]:
    return _key(f"APIKEY#{key_hash}", "APIKEY")


def video_key(user_id: str, video_id: str) -> dict[str, Any]:
    return _key(f"USER#{user_id}", f"VIDEO#{video_id}")


def account_key(user_id: str, account_id: str) -> dict[str, Any]:
    return _key(f"USER#{user_id}", f"ACCOUNT#{account_id}")


def schedule_key(user_id: str, schedule_id: str) -> dict[str, Any]:
    return _key(f"USER#{user_id}", f"SCHEDULE#{schedule_id}")


def account_minute_key(user_id: str, account_id: str, minute: str) -> dict[str, Any]:
    return _key(f"USER#{user_id}", f"POSTMINUTE#{account_id}#{minute}")


# A minute's counter outlives its minute by far more than any post can stay publishing.
_ACCOUNT_MINUTE_TTL = timedelta(days=30)


# --- item <-> record --------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_utc(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def to_item(record: BaseModel, key: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """A record as a low-level DynamoDB item, with its key and index attributes."""
    data = _plain(record.model_dump(mode="python", exclude_none=True))
    data.update({k: v for k, v in extra.items() if v is not None})
    item = {name: _serializer.serialize(value) for name, value in data.items()}
    item.update(key)
    return item


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A low-level item as plain Python values (numbers come back as Decimal)."""
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def _record[M: BaseModel](model: type[M], item: Mapping[str, Any] | None) -> M | None:
    return None if item is None else model.model_validate(from_item(item))


def due_shard(schedule_id: str) -> str:
    """The due index partition of a post: fixed by its id, so a move stays in its shard."""
    number = int.from_bytes(hashlib.sha256(schedule_id.encode()).digest()[:4], "big")
    return f"DUE#{number % DUE_SHARDS:02d}"


def schedule_item(schedule: ScheduleRecord) -> dict[str, Any]:
    """A schedule with its index attributes: always in the user's index, in the due index only
    while it still has to be published."""
    moment = f"{format_utc(schedule.scheduledPublishTime)}#{schedule.scheduleId}"
    active = schedule.status in ACTIVE_STATUSES
    return to_item(
        schedule,
        schedule_key(schedule.userId, schedule.scheduleId),
        entity="schedule",
        gsi1pk=f"USER#{schedule.userId}",
        gsi1sk=f"SCHEDULE#{moment}",
        dueShard=due_shard(schedule.scheduleId) if active else None,
        dueAt=moment if active else None,
    )


@cache
def _shard_readers() -> ThreadPoolExecutor:
    """Threads that query the due shards side by side (created on first use)."""
    return ThreadPoolExecutor(max_workers=DUE_SHARDS, thread_name_prefix="due-shard")


def expression_values(**values: Any) -> dict[str, Any]:
    """`:name` placeholders with their serialised values, for an expression."""
    return {f":{name}": _serializer.serialize(_plain(v)) for name, v in values.items()}


class LockDrifted(Conflict):
    """Ending a post failed only because the video's lock does not name it (the lock drifted:
    changed by hand, or lost); the post itself is as expected."""


class SchedulingTable:
    """Typed access to the table. Methods raise the API's errors where a condition fails."""

    def __init__(
        self, table_name: str, client: Any = None, pages: PageTokens | None = None
    ) -> None:
        self.name = table_name
        self.client = client if client is not None else aws_client("dynamodb")
        self.pages = pages or PageTokens(_deployment_sealer)

    @staticmethod
    def decode_item(item: Mapping[str, Any]) -> dict[str, Any]:
        """A low-level item (as a stream record carries it) as plain Python values."""
        return from_item(item)

    # --- single items -------------------------------------------------------------------------

    def _get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        response = self.client.get_item(TableName=self.name, Key=key, ConsistentRead=True)
        item: dict[str, Any] | None = response.get("Item")
        return item

    def get_user(self, user_id: str) -> UserRecord | None:
        return _record(UserRecord, self._get(user_key(user_id)))

    def get_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        return _record(ApiKeyRecord, self._get(api_key_key(key_hash)))

    def get_video(self, user_id: str, video_id: str) -> VideoRecord | None:
        return _record(VideoRecord, self._get(video_key(user_id, video_id)))

    def get_account(self, user_id: str, account_id: str) -> TikTokAccountRecord | None:
        return _record(TikTokAccountRecord, self._get(account_key(user_id, account_id)))

    def get_schedule(self, user_id: str, schedule_id: str) -> ScheduleRecord | None:
        return _record(ScheduleRecord, self._get(schedule_key(user_id, schedule_id)))

    def put_user(self, user: UserRecord) -> None:
        self.client.put_item(
            TableName=self.name, Item=to_item(user, user_key(user.userId), entity="user")
        )

    def put_api_key(self, api_key: ApiKeyRecord) -> None:
        self.client.put_item(
            TableName=self.name,
            Item=to_item(
                api_key,
                api_key_key(api_key.keyHash),
                entity="apiKey",
                gsi1pk=f"USER#{api_key.userId}",
                gsi1sk=f"APIKEY#{format_utc(api_key.createdAt)}#{api_key.keyId}",
            ),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def put_video(self, video: VideoRecord) -> None:
        self.client.put_item(
            TableName=self.name,
            Item=to_item(video, video_key(video.userId, video.videoId), entity="video"),
        )

    def put_account(self, account: TikTokAccountRecord) -> None:
        self.client.put_item(
            TableName=self.name,
            Item=to_item(account, account_key(account.userId, account.accountId), entity="account"),
        )

    # --- creating a post ----------------------------------------------------------------------

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
        ends = datetime.fromisoformat(f"{minute}:00+00:00") + _ACCOUNT_MINUTE_TTL
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
            return _account_minute_full(reasons[4])
        return Conflict("the post changed while this request ran; retry")

    def _transact(self, items: list[dict[str, Any]], explain: Any) -> None:
        for attempt in range(_TRANSACTION_ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=items)
                return
            except self.client.exceptions.TransactionCanceledException as exc:
                reasons = exc.response.get("CancellationReasons") or []
                if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
                    raise explain(reasons) from None
                # Nothing was written: another transaction held one of the items at that moment
                # (TransactionConflict: concurrent creates share the user's counter) or a
                # partition was throttled. botocore does not retry these; try again shortly.
                if attempt + 1 == _TRANSACTION_ATTEMPTS:
                    raise DependencyUnavailable(
                        "the database is busy with this data; nothing was changed, retry shortly",
                        {"reasons": sorted({str(r.get("Code")) for r in reasons} - {"None"})},
                    ) from exc
            time.sleep(random.uniform(0, _TRANSACTION_BACKOFF_SECONDS * 2**attempt))  # noqa: S311

    # --- changing a post ----------------------------------------------------------------------

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
                **self._unchanged_condition(expected),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise _changed_meanwhile() from None

    def _move_schedule(self, schedule: ScheduleRecord, expected: ScheduleRecord) -> None:
        post = {
            "Put": {
                "TableName": self.name,
                "Item": schedule_item(schedule),
                **self._unchanged_condition(expected),
            }
        }
        take = self._take_minute_items(schedule)
        release = self._release_minute_items(expected)

        def explain(reasons: list[dict[str, Any]]) -> Exception:
            failed = [r.get("Code") == "ConditionalCheckFailed" for r in reasons]
            if failed[0]:
                return _changed_meanwhile()
            if take and failed[1]:
                return _account_minute_full(reasons[1])
            return _MinuteCounterGone()

        try:
            self._transact([post, *take, *release], explain)
        except _MinuteCounterGone:
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
                    **self._unchanged_condition(expected),
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
            guard = self._unchanged_condition(expected)
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
                return _MinuteCounterGone()
            if video_lock and failed[:3] == [False, True, False]:
                return LockDrifted("the video's pending-post lock does not name this post")
            return _changed_meanwhile()

        try:
            self._transact([*items, *minute_items], explain)
        except _MinuteCounterGone:
            # The minute's counter is gone (expired): the post still ends.
            self._transact(items, explain)

    def delete_schedule_record(self, expected: ScheduleRecord) -> None:
        """Delete a post that holds no lock (cancelled or failed)."""
        try:
            self.client.delete_item(
                TableName=self.name,
                Key=schedule_key(expected.userId, expected.scheduleId),
                **self._unchanged_condition(expected),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise _changed_meanwhile() from None

    @staticmethod
    def _unchanged_condition(expected: ScheduleRecord) -> dict[str, Any]:
        return {
            "ConditionExpression": "#status = :expectedStatus AND revision = :expectedRevision",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": expression_values(
                expectedStatus=expected.status, expectedRevision=expected.revision
            ),
        }

    # --- lists --------------------------------------------------------------------------------

    def list_schedules(
        self, user_id: str, limit: int, page_token: str | None, status: str | None = None
    ) -> tuple[list[ScheduleRecord], str | None]:
        """The user's posts by scheduled time; with `status`, only those (filtered server-side;
        pages are still full, see `_page`)."""
        partition = f"USER#{user_id}"
        request: dict[str, Any] = {
            "TableName": self.name,
            "IndexName": USER_INDEX,
            "KeyConditionExpression": "gsi1pk = :pk AND begins_with(gsi1sk, :prefix)",
            "ExpressionAttributeValues": expression_values(pk=partition, prefix="SCHEDULE#"),
            "Limit": limit,
        }
        scope = f"schedules\n{partition}"
        start = self.pages.decode(
            page_token,
            scope,
            {"gsi1pk": partition, "pk": partition},
            frozenset({"pk", "sk", "gsi1pk", "gsi1sk"}),
        )
        if start is not None:
            if not start["gsi1sk"]["S"].startswith("SCHEDULE#"):
                raise invalid_page_token()
            request["ExclusiveStartKey"] = start
        if status is not None:
            statuses = ("pending", "publishing") if status == "pending" else (status,)
            placeholders = [f":s{i}" for i in range(len(statuses))]
            request["FilterExpression"] = f"#status IN ({', '.join(placeholders)})"
            request["ExpressionAttributeNames"] = {"#status": "status"}
            request["ExpressionAttributeValues"].update(
                expression_values(**{f"s{i}": s for i, s in enumerate(statuses)})
            )
        items, token = self._page(request, limit, ("pk", "sk", "gsi1pk", "gsi1sk"), scope)
        return [ScheduleRecord.model_validate(from_item(i)) for i in items], token

    def list_upcoming(
        self, now: datetime, limit: int, page_token: str | None
    ) -> tuple[list[DueEntry], str | None]:
        """Pending posts due after `now`, soonest first, across all users: each shard's next
        posts, merged. The page token is the (sealed) position of the last post returned (its
        `<time>#<id>`), so the next page is every shard's posts after it."""
        after = format_utc(now)
        start = self.pages.decode(page_token, "upcoming", {}, frozenset({"dueAt"}))
        if start is not None:
            position = start["dueAt"]["S"]
            if not _DUE_POSITION.fullmatch(position):
                raise invalid_page_token()
            # A page read a while ago may end at a post whose time has passed since: the rest
            # of the list starts now.
            after = max(after, position)

        def request(shard: str) -> dict[str, Any]:
            return {
                "TableName": self.name,
                "IndexName": DUE_INDEX,
                "KeyConditionExpression": "dueShard = :shard AND dueAt > :after",
                "FilterExpression": "#status = :pending",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": expression_values(
                    shard=shard, after=after, pending="pending"
                ),
            }

        items = self._merged_shards(request, limit + 1)
        page = items[:limit]
        more = len(items) > limit
        token = self.pages.encode({"dueAt": page[-1]["dueAt"]}, "upcoming") if more else None
        return [DueEntry.model_validate(from_item(i)) for i in page], token

    def list_due(self, due_before: datetime, page_size: int = 100) -> Iterator[DueEntry]:
        """Every pending or publishing post whose time is before `due_before`, oldest first
        across the shards, read page by page as the caller goes (it stops reading when the
        caller stops)."""

        def shard_items(shard: str) -> Iterator[dict[str, Any]]:
            request: dict[str, Any] = {
                "TableName": self.name,
                "IndexName": DUE_INDEX,
                "KeyConditionExpression": "dueShard = :shard AND dueAt < :before",
                "ExpressionAttributeValues": expression_values(
                    shard=shard, before=format_utc(due_before)
                ),
                "Limit": page_size,
            }
            while True:
                response = self.client.query(**request)
                yield from response["Items"]
                if "LastEvaluatedKey" not in response:
                    return
                request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

        shards = [shard_items(f"DUE#{n:02d}") for n in range(DUE_SHARDS)]
        for item in heapq.merge(*shards, key=lambda item: str(item["dueAt"]["S"])):
            yield DueEntry.model_validate(from_item(item))

    def _merged_shards(
        self, request: Callable[[str], dict[str, Any]], want: int
    ) -> list[dict[str, Any]]:
        """Up to `want` items from each due shard (queried in parallel), merged by `dueAt`."""

        def read(shard: str) -> list[dict[str, Any]]:
            query = request(shard)
            items: list[dict[str, Any]] = []
            while len(items) < want:
                query["Limit"] = want - len(items)
                response = self.client.query(**query)
                items.extend(response["Items"])
                if "LastEvaluatedKey" not in response:
                    break
                query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
            return items

        shards = [f"DUE#{n:02d}" for n in range(DUE_SHARDS)]
        merged = [item for items in _shard_readers().map(read, shards) for item in items]
        merged.sort(key=lambda item: str(item["dueAt"]["S"]))
        return merged

    def list_user_items[M: BaseModel](
        self, user_id: str, prefix: str, model: type[M], limit: int, page_token: str | None
    ) -> tuple[list[M], str | None]:
        """A page of the user's items of one kind (videos, accounts), by id."""
        partition = f"USER#{user_id}"
        request: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": expression_values(pk=partition, prefix=prefix),
            "Limit": limit,
        }
        scope = f"items\n{prefix}\n{partition}"
        start = self.pages.decode(page_token, scope, {"pk": partition}, frozenset({"pk", "sk"}))
        if start is not None:
            if not start["sk"]["S"].startswith(prefix):
                raise invalid_page_token()
            request["ExclusiveStartKey"] = start
        items, token = self._page(request, limit, ("pk", "sk"), scope)
        return [model.model_validate(from_item(i)) for i in items], token

    def list_videos(
        self, user_id: str, limit: int, page_token: str | None
    ) -> tuple[list[VideoFileRecord], str | None]:
        """A page of the user's videos, by id."""
        return self.list_user_items(user_id, "VIDEO#", VideoFileRecord, limit, page_token)

    def list_accounts(
        self, user_id: str, limit: int, page_token: str | None
    ) -> tuple[list[TikTokAccountRecord], str | None]:
        """A page of the user's TikTok accounts, by id."""
        return self.list_user_items(user_id, "ACCOUNT#", TikTokAccountRecord, limit, page_token)

    def _page(
        self, request: dict[str, Any], limit: int, key_names: tuple[str, ...], scope: str
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Up to `limit` items of a Query, and a page token only if another item exists.

        DynamoDB returns a LastEvaluatedKey whenever it stops at `Limit`, even when nothing
        follows, and a filter may leave a page short. So read until one item more than asked
        is found or the data ends, and point the token at the last item returned.
        """
        items: list[dict[str, Any]] = []
        while True:
            request["Limit"] = limit + 1 - len(items)
            response = self.client.query(**request)
            items.extend(response["Items"])
            last = response.get("LastEvaluatedKey")
            if len(items) > limit or last is None:
                break
            request["ExclusiveStartKey"] = last
        if len(items) <= limit:
            return items, None
        items = items[:limit]
        return items, self.pages.encode({name: items[-1][name] for name in key_names}, scope)

    def get_videos_and_accounts(
        self, user_id: str, video_ids: set[str], account_ids: set[str]
    ) -> tuple[dict[str, VideoRecord], dict[str, TikTokAccountRecord]]:
        """The user's videos and accounts with these ids (one BatchGetItem per 100 keys)."""
        keys = [video_key(user_id, v) for v in video_ids]
        keys += [account_key(user_id, a) for a in account_ids]
        found = self.get_many(keys) if keys else {}
        videos = {
            item["videoId"]: VideoRecord.model_validate(item)
            for item in found.values()
            if item.get("entity") == "video"
        }
        accounts = {
            item["accountId"]: TikTokAccountRecord.model_validate(item)
            for item in found.values()
            if item.get("entity") == "account"
        }
        return videos, accounts

    def get_many(self, keys: Iterable[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
        """BatchGetItem for up to 100 keys, retrying unprocessed ones; results by (pk, sk)."""
        pending = list({(k["pk"]["S"], k["sk"]["S"]): k for k in keys}.values())
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for start in range(0, len(pending), 100):
            request = {self.name: {"Keys": pending[start : start + 100]}}
            for _attempt in range(5):
                response = self.client.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self.name, []):
                    found[(item["pk"]["S"], item["sk"]["S"])] = from_item(item)
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
        return found

    # --- videos: uploads ----------------------------------------------------------------------

    def create_video(self, video: VideoFileRecord) -> None:
        """Write a new video (normally `uploading`); its id must be new."""
        self.client.put_item(
            TableName=self.name,
            Item=to_item(video, video_key(video.userId, video.videoId), entity="video"),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def get_video_file(self, user_id: str, video_id: str) -> VideoFileRecord | None:
        """The video with its upload bookkeeping."""
        return _record(VideoFileRecord, self._get(video_key(user_id, video_id)))

    def finish_video_upload(
        self,
        user_id: str,
        video_id: str,
        *,
        accepted: bool,
        reason: str | None,
        etag: str | None,
        now: datetime,
        version_id: str | None = None,
        duration_seconds: float | None = None,
    ) -> VideoFileRecord | None:
        """Move an `uploading` video to `ready` (or `rejected` with a reason). None when the
        video is gone or was already decided (S3 events may arrive twice)."""
        sets = ["#status = :status"]
        values: dict[str, Any] = {"uploading": "uploading"}
        if accepted:
            sets += ["readyAt = :now", "objectETag = :etag"]
            values.update(status="ready", now=now, etag=etag or "")
            if version_id:
                sets.append("objectVersionId = :version")
                values["version"] = version_id
            if duration_seconds is not None:
                sets.append("durationSeconds = :duration")
                values["duration"] = Decimal(str(round(duration_seconds, 3)))
        else:
            sets.append("statusReason = :reason")
            values.update(status="rejected", reason=reason or "rejected")
        try:
            response = self.client.update_item(
                TableName=self.name,
                Key=video_key(user_id, video_id),
                UpdateExpression=f"SET {', '.join(sets)} REMOVE uploadId, expiresAt",
                ConditionExpression="attribute_exists(pk) AND #status = :uploading",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=expression_values(**values),
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        return _record(VideoFileRecord, response["Attributes"])

    def delete_video(self, user_id: str, video_id: str) -> VideoFileRecord:
        """Delete a video no pending post uses (one condition, so a post created meanwhile
        either sees the video gone or keeps it)."""
        try:
            response = self.client.delete_item(
                TableName=self.name,
                Key=video_key(user_id, video_id),
                ConditionExpression=(
                    "attribute_exists(pk) AND attribute_not_exists(pendingScheduleId)"
                ),
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            old = exc.response.get("Item")
            if old is None:
                raise NotFound("video not found") from None
            raise Conflict(
                "a pending scheduled post uses this video; cancel or delete that post first",
                {"videoId": video_id, "scheduleId": from_item(old).get("pendingScheduleId")},
            ) from None
        deleted = _record(VideoFileRecord, response["Attributes"])
        assert deleted is not None
        return deleted

    # --- TikTok accounts: connecting and disconnecting ----------------------------------------

    def put_oauth_state(self, state: OAuthStateRecord) -> None:
        """Remember a connect flow until its callback (the TTL removes it if none comes)."""
        self.client.put_item(
            TableName=self.name,
            Item=to_item(state, oauth_state_key(state.stateHash), entity="oauthState"),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def take_oauth_state(self, state_hash: str, user_id: str) -> OAuthStateRecord | None:
        """Consume a connect flow of this user: delete it and return what it was, so a `state`
        works once, and only for the user it was issued to, even when two completions race.
        None when there is no such flow, or it is another user's (which stays untouched)."""
        try:
            response = self.client.delete_item(
                TableName=self.name,
                Key=oauth_state_key(state_hash),
                ConditionExpression="userId = :user",
                ExpressionAttributeValues=expression_values(user=user_id),
                ReturnValues="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        return _record(OAuthStateRecord, response.get("Attributes"))

    def find_account_by_open_id(self, user_id: str, open_id: str) -> TikTokAccountRecord | None:
        """The user's account for this TikTok user, if connected before."""
        request: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "FilterExpression": "openId = :openId",
            "ExpressionAttributeValues": expression_values(
                pk=f"USER#{user_id}", prefix="ACCOUNT#", openId=open_id
            ),
            "ConsistentRead": True,
        }
        return self._first_match(request, TikTokAccountRecord)

    def save_account_grant(self, account: TikTokAccountRecord) -> bool:
        """Create the account or refresh its profile and tokens (one write; `createdAt` is kept
        and `tokenVersion` moves on, so a publisher refreshing the old tokens notices). True
        when the account is new."""
        fields = account.model_dump(
            include={
                "accountId", "userId", "openId", "username", "displayName", "scope",
                "accessTokenCipher", "refreshTokenCipher", "accessTokenExpiresAt",
                "refreshTokenExpiresAt", "creatorInfo", "creatorInfoAt", "updatedAt",
            },
            exclude_none=True,
        )  # fmt: skip
        names = {f"#{name}": name for name in fields}
        sets = [f"#{name} = :{name}" for name in fields]
        sets += [
            "entity = :entity",
            "createdAt = if_not_exists(createdAt, :createdAt)",
            "tokenVersion = if_not_exists(tokenVersion, :zero) + :one",
        ]
        # A new grant makes the account usable again and ends any refresh in flight.
        removes = " REMOVE needsReconnection, refreshLeaseToken, refreshLeaseUntil"
        try:
            response = self.client.update_item(
                TableName=self.name,
                Key=account_key(account.userId, account.accountId),
                UpdateExpression="SET " + ", ".join(sets) + removes,
                ConditionExpression="attribute_not_exists(pk) OR #openId = :openId",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=expression_values(
                    **fields, entity="account", createdAt=account.createdAt, zero=0, one=1
                ),
                ReturnValues="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise Conflict("another TikTok user is connected under this account id") from None
        return not response.get("Attributes")

    def save_creator_info(
        self, user_id: str, account_id: str, info: CreatorInfoSnapshot, at: datetime
    ) -> None:
        """Cache what creator_info said on the account (no-op when the account is gone, or
        holds a newer copy)."""
        with suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(
                TableName=self.name,
                Key=account_key(user_id, account_id),
                UpdateExpression="SET creatorInfo = :info, creatorInfoAt = :at",
                ConditionExpression=(
                    "attribute_exists(pk)"
                    " AND (attribute_not_exists(creatorInfoAt) OR creatorInfoAt <= :at)"
                ),
                ExpressionAttributeValues=expression_values(info=info.model_dump(), at=at),
            )

    def delete_account(self, user_id: str, account_id: str) -> None:
        try:
            self.client.delete_item(
                TableName=self.name,
                Key=account_key(user_id, account_id),
                ConditionExpression="attribute_exists(pk)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise NotFound("TikTok account not found") from None

    def list_active_schedules_of_account(
        self, user_id: str, account_id: str
    ) -> list[ScheduleRecord]:
        """The user's pending and publishing posts to one TikTok account (strongly
        consistent)."""
        return self._active_schedules(user_id, account_id)

    def list_active_schedules_of_user(self, user_id: str) -> list[ScheduleRecord]:
        """All of the user's pending and publishing posts (strongly consistent)."""
        return self._active_schedules(user_id)

    def _active_schedules(
        self, user_id: str, account_id: str | None = None
    ) -> list[ScheduleRecord]:
        condition = "#status IN (:pending, :publishing)"
        values = {"pk": f"USER#{user_id}", "prefix": "SCHEDULE#", "pending": "pending"}
        values["publishing"] = "publishing"
        if account_id is not None:
            condition = f"tiktokAccountId = :account AND {condition}"
            values["account"] = account_id
        request: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "FilterExpression": condition,
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": expression_values(**values),
            "ConsistentRead": True,
        }
        found: list[ScheduleRecord] = []
        while True:
            response = self.client.query(**request)
            found.extend(ScheduleRecord.model_validate(from_item(i)) for i in response["Items"])
            if "LastEvaluatedKey" not in response:
                return found
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # --- API keys: the user's list ------------------------------------------------------------

    def _api_key_query(self, user_id: str) -> dict[str, Any]:
        return {
            "TableName": self.name,
            "IndexName": USER_INDEX,
            "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk BETWEEN :from AND :to",
            "ExpressionAttributeValues": expression_values(
                pk=f"USER#{user_id}", **{"from": _API_KEY_SK_FIRST, "to": _API_KEY_SK_LAST}
            ),
        }

    def count_api_keys(self, user_id: str) -> int:
        request = {**self._api_key_query(user_id), "Select": "COUNT"}
        total = 0
        while True:
            response = self.client.query(**request)
            total += int(response["Count"])
            if "LastEvaluatedKey" not in response:
                return total
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def list_api_keys(
        self, user_id: str, limit: int, page_token: str | None
    ) -> tuple[list[ApiKeyRecord], str | None]:
        """A page of the user's keys, oldest first. The page token holds only the index's sort
        key (never the table key, which is the key's hash)."""
        request = self._api_key_query(user_id)
        scope = f"apiKeys\nUSER#{user_id}"
        after = self.pages.decode(page_token, scope, {}, frozenset({"gsi1sk"}))
        skip = None
        request["Limit"] = limit
        if after is not None:
            skip = after["gsi1sk"]["S"]
            if not skip.startswith(_API_KEY_SK_FIRST):
                raise invalid_page_token()
            request["ExpressionAttributeValues"][":from"] = {"S": skip}
            request["Limit"] = limit + 1  # BETWEEN includes the last item of the previous page
        response = self.client.query(**request)
        items = [from_item(i) for i in response["Items"]]
        items = [i for i in items if i["gsi1sk"] != skip][:limit]
        records = [ApiKeyRecord.model_validate(i) for i in items]
        more = "LastEvaluatedKey" in response and items
        token = self.pages.encode({"gsi1sk": {"S": items[-1]["gsi1sk"]}}, scope) if more else None
        return records, token

    def find_api_key(self, user_id: str, key_id: str) -> ApiKeyRecord | None:
        """The user's key with this id (looked up in the user's index: keys are stored under
        their hash)."""
        request = {
            **self._api_key_query(user_id),
            "FilterExpression": "keyId = :keyId",
        }
        request["ExpressionAttributeValues"].update(expression_values(keyId=key_id))
        return self._first_match(request, ApiKeyRecord)

    def _first_match[M: BaseModel](self, request: dict[str, Any], model: type[M]) -> M | None:
        """The first item a filtered query finds, reading page after page (a filter may leave
        whole pages empty)."""
        while True:
            response = self.client.query(**request)
            for item in response["Items"]:
                return model.model_validate(from_item(item))
            if "LastEvaluatedKey" not in response:
                return None
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def delete_api_key(self, api_key: ApiKeyRecord) -> None:
        """Revoke: the authorizer finds the key no more (once its cached answer expires)."""
        try:
            self.client.delete_item(
                TableName=self.name,
                Key=api_key_key(api_key.keyHash),
                ConditionExpression="userId = :userId",
                ExpressionAttributeValues=expression_values(userId=api_key.userId),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise NotFound("API key not found") from None

    def touch_api_key(self, key_hash: str, now: datetime, interval_seconds: int = 60) -> None:
        """Record that the key was used, at most once per `interval_seconds`."""
        cutoff = now - timedelta(seconds=interval_seconds)
        # A failed condition means used within the interval (or revoked): nothing to record.
        with suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(
                TableName=self.name,
                Key=api_key_key(key_hash),
                UpdateExpression="SET lastUsedAt = :now",
                ConditionExpression=(
                    "attribute_exists(pk) AND"
                    " (attribute_not_exists(lastUsedAt) OR lastUsedAt < :cutoff)"
                ),
                ExpressionAttributeValues=expression_values(now=now, cutoff=cutoff),
            )

    # --- users: operators' changes ------------------------------------------------------------

    def create_user(self, user: UserRecord) -> None:
        try:
            self.client.put_item(
                TableName=self.name,
                Item=to_item(user, user_key(user.userId), entity="user"),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise Conflict(f"user {user.userId} already exists") from None

    def change_plan(self, user_id: str, plan: str, max_pending: int | None) -> UserRecord:
        """Set the user's plan; with `max_pending`, only while the user has at most that many
        pending posts (checked in the same write, so no create can slip in between)."""
        condition = "attribute_exists(pk)"
        values: dict[str, Any] = {"plan": plan}
        if max_pending is not None:
            condition += " AND (attribute_not_exists(pendingCount) OR pendingCount <= :max)"
            values["max"] = max_pending
        try:
            response = self.client.update_item(
                TableName=self.name,
                Key=user_key(user_id),
                UpdateExpression="SET #plan = :plan",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#plan": "plan"},
                ExpressionAttributeValues=expression_values(**values),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            old = exc.response.get("Item")
            if old is None:
                raise NotFound(f"user {user_id} not found") from None
            pending = int(from_item(old).get("pendingCount", 0))
            raise Conflict(
                f"user {user_id} has {pending} pending posts, more than {max_pending}",
                {"pendingCount": pending},
            ) from None
        changed = _record(UserRecord, response["Attributes"])
        assert changed is not None
        return changed

    def list_users(
        self, limit: int, start: dict[str, Any] | None
    ) -> tuple[list[UserRecord], dict[str, Any] | None]:
        """A page of users and the key to continue from (a scan: for operators, not for request
        paths; the key never leaves the process, so it is not sealed)."""
        request: dict[str, Any] = {
            "TableName": self.name,
            "FilterExpression": "entity = :user",
            "ExpressionAttributeValues": expression_values(user="user"),
            "Limit": limit,
        }
        if start is not None:
            request["ExclusiveStartKey"] = start
        response = self.client.scan(**request)
        users = [UserRecord.model_validate(from_item(i)) for i in response["Items"]]
        return users, response.get("LastEvaluatedKey")


def _changed_meanwhile() -> Conflict:
    return Conflict("the scheduled post changed while this request ran; fetch it and retry")


class _MinuteCounterGone(Exception):
    """Only the release of an account-minute counter failed: the counter no longer exists."""


def _account_minute_full(reason: dict[str, Any]) -> Unprocessable:
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


# --- keys of the onboarding items ---------------------------------------------------------------

# Every API key's UserIndex sort key lies in this range ("$" sorts right after "#").
_API_KEY_SK_FIRST = "APIKEY#"
_API_KEY_SK_LAST = "APIKEY$"


def _deployment_sealer() -> TokenSealer:
    from post_scheduler.wiring import page_token_sealer

    return page_token_sealer()


def oauth_state_key(state_hash: str) -> dict[str, Any]:
    return _key(f"OAUTH#{state_hash}", "STATE")
