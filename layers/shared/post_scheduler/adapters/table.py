"""The DynamoDB table: one table, every entity, keyed so each access pattern is one request.

Layout (pk / sk):
    USER#<userId>   / PROFILE                 user: plan, pendingCount
    APIKEY#<sha256> / APIKEY                  API key (hash only); gsi1 USER#<userId> / APIKEY#..
    USER#<userId>   / VIDEO#<videoId>         video; `pendingScheduleId` = one-pending-post lock
    USER#<userId>   / ACCOUNT#<accountId>     TikTok account (tokens encrypted)
    USER#<userId>   / SCHEDULE#<scheduleId>   scheduled post
        gsi1 (UserIndex): USER#<userId> / SCHEDULE#<time>#<scheduleId>   the user's posts by time
        DueIndex: DUE / <time>#<scheduleId>   only while pending or publishing (sparse)

Every rule that spans items (plan limit, one pending post per video, exact counters) is a
condition inside one transaction, never a read followed by a write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from pydantic import BaseModel

from post_scheduler.adapters.aws import aws_client
from post_scheduler.adapters.paging import (
    decode_page_token,
    encode_page_token,
    invalid_page_token,
)
from post_scheduler.domain.plans import PENDING_POST_LIMITS
from post_scheduler.errors import (
    Conflict,
    Forbidden,
    NotFound,
    SchedulingLimitExceeded,
    Unprocessable,
)
from post_scheduler.models.records import (
    ApiKeyRecord,
    ScheduleRecord,
    TikTokAccountRecord,
    UserRecord,
    VideoRecord,
)
from post_scheduler.timestamps import format_utc

USER_INDEX = "UserIndex"
DUE_INDEX = "DueIndex"
DUE_SHARD = "DUE"
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
        dueShard=DUE_SHARD if active else None,
        dueAt=moment if active else None,
    )


def _values(**values: Any) -> dict[str, Any]:
    return {f":{name}": _serializer.serialize(_plain(v)) for name, v in values.items()}


class SchedulingTable:
    """Typed access to the table. Methods raise the API's errors where a condition fails."""

    def __init__(self, table_name: str, client: Any = None) -> None:
        self.name = table_name
        self.client = client if client is not None else aws_client("dynamodb")

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
            self._account_exists_item(user_id, schedule.tiktokAccountId),
            self._count_pending_item(user_id),
            {
                "Put": {
                    "TableName": self.name,
                    "Item": schedule_item(schedule),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
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
                "ExpressionAttributeValues": _values(sid=schedule_id, ready="ready"),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def _account_exists_item(self, user_id: str, account_id: str) -> dict[str, Any]:
        return {
            "ConditionCheck": {
                "TableName": self.name,
                "Key": account_key(user_id, account_id),
                "ConditionExpression": "attribute_exists(pk)",
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
                "ExpressionAttributeValues": _values(one=1, **values),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    @staticmethod
    def _explain_lock_failure(reasons: list[dict[str, Any]]) -> Exception:
        """Why a create/reactivate transaction was cancelled, in order of what the client should
        fix first. Reasons align with the items: video lock, account, user counter, schedule."""
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
            return NotFound("TikTok account not found")
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
        return Conflict("the post changed while this request ran; retry")

    def _transact(self, items: list[dict[str, Any]], explain: Any) -> None:
        try:
            self.client.transact_write_items(TransactItems=items)
        except self.client.exceptions.TransactionCanceledException as exc:
            reasons = exc.response.get("CancellationReasons") or []
            if not any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
                raise  # throttling or a conflicting transaction: a fault, not the client's doing
            raise explain(reasons) from None

    # --- changing a post ----------------------------------------------------------------------

    def replace_schedule(self, schedule: ScheduleRecord, expected: ScheduleRecord) -> None:
        """Overwrite a post that still has the status and version it had when read."""
        try:
            self.client.put_item(
                TableName=self.name,
                Item=schedule_item(schedule),
                **self._unchanged_condition(expected),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise _changed_meanwhile() from None

    def reactivate_schedule(self, schedule: ScheduleRecord, expected: ScheduleRecord) -> None:
        """Make a cancelled or failed post pending again: the same locks and limit as a create."""
        user_id, schedule_id = schedule.userId, schedule.scheduleId
        items = [
            self._lock_video_item(user_id, schedule.videoId, schedule_id),
            self._account_exists_item(user_id, schedule.tiktokAccountId),
            self._count_pending_item(user_id),
            {
                "Put": {
                    "TableName": self.name,
                    "Item": schedule_item(schedule),
                    **self._unchanged_condition(expected),
                }
            },
        ]
        self._transact(items, self._explain_lock_failure)

    def release_schedule(
        self,
        schedule: ScheduleRecord | None,
        expected: ScheduleRecord,
        *,
        video_published_at: datetime | None = None,
        condition: tuple[str, dict[str, Any]] | None = None,
    ) -> None:
        """End a pending (or publishing) post: write `schedule` (or delete the post when None),
        release the video's lock (marking the video published when `video_published_at` is set)
        and give the plan slot back, all or nothing."""
        user_id = expected.userId
        if condition is None:
            guard = self._unchanged_condition(expected)
        else:
            expression, values = condition
            guard = {
                "ConditionExpression": expression,
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": _values(**values),
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
        items = [
            post_item,
            {
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
                    "ExpressionAttributeValues": _values(**video_values),
                }
            },
            {
                "Update": {
                    "TableName": self.name,
                    "Key": user_key(user_id),
                    "UpdateExpression": "ADD pendingCount :minus",
                    "ConditionExpression": "pendingCount > :zero",
                    "ExpressionAttributeValues": _values(minus=-1, zero=0),
                }
            },
        ]
        self._transact(items, lambda _reasons: _changed_meanwhile())

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
            "ExpressionAttributeValues": _values(
                expectedStatus=expected.status, expectedRevision=expected.revision
            ),
        }

    # --- lists --------------------------------------------------------------------------------

    def list_schedules(
        self, user_id: str, limit: int, page_token: str | None, status: str | None = None
    ) -> tuple[list[ScheduleRecord], str | None]:
        """The user's posts by scheduled time; with `status`, only those (filtered server-side,
        pages may then be shorter than `limit`)."""
        partition = f"USER#{user_id}"
        request: dict[str, Any] = {
            "TableName": self.name,
            "IndexName": USER_INDEX,
            "KeyConditionExpression": "gsi1pk = :pk AND begins_with(gsi1sk, :prefix)",
            "ExpressionAttributeValues": _values(pk=partition, prefix="SCHEDULE#"),
            "Limit": limit,
        }
        start = decode_page_token(
            page_token,
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
                _values(**{f"s{i}": s for i, s in enumerate(statuses)})
            )
        records: list[ScheduleRecord] = []
        # A filtered page may come back short; keep reading until it is full or the data ends.
        while True:
            response = self.client.query(**request)
            records.extend(ScheduleRecord.model_validate(from_item(i)) for i in response["Items"])
            last = response.get("LastEvaluatedKey")
            if status is None or last is None or len(records) >= limit:
                break
            request["ExclusiveStartKey"] = last
            request["Limit"] = limit - len(records)
        return records, encode_page_token(last)

    def list_upcoming(
        self, now: datetime, limit: int, page_token: str | None
    ) -> tuple[list[ScheduleRecord], str | None]:
        """Pending posts due after `now`, soonest first, across all users."""
        request: dict[str, Any] = {
            "TableName": self.name,
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": "dueShard = :shard AND dueAt > :now",
            "FilterExpression": "#status = :pending",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": _values(
                shard=DUE_SHARD, now=format_utc(now), pending="pending"
            ),
            "Limit": limit,
        }
        start = decode_page_token(
            page_token, {"dueShard": DUE_SHARD}, frozenset({"pk", "sk", "dueShard", "dueAt"})
        )
        if start is not None:
            request["ExclusiveStartKey"] = start
        records: list[ScheduleRecord] = []
        while True:
            response = self.client.query(**request)
            records.extend(ScheduleRecord.model_validate(from_item(i)) for i in response["Items"])
            last = response.get("LastEvaluatedKey")
            if last is None or len(records) >= limit:
                break
            request["ExclusiveStartKey"] = last
            request["Limit"] = limit - len(records)
        return records, encode_page_token(last)

    def list_due(self, due_before: datetime, limit: int = 100) -> list[ScheduleRecord]:
        """Pending or publishing posts whose time is before `due_before`, oldest first."""
        response = self.client.query(
            TableName=self.name,
            IndexName=DUE_INDEX,
            KeyConditionExpression="dueShard = :shard AND dueAt < :before",
            ExpressionAttributeValues=_values(shard=DUE_SHARD, before=format_utc(due_before)),
            Limit=limit,
        )
        return [ScheduleRecord.model_validate(from_item(i)) for i in response["Items"]]

    def list_user_items[M: BaseModel](
        self, user_id: str, prefix: str, model: type[M], limit: int, page_token: str | None
    ) -> tuple[list[M], str | None]:
        """A page of the user's items of one kind (videos, accounts), by id."""
        partition = f"USER#{user_id}"
        request: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": _values(pk=partition, prefix=prefix),
            "Limit": limit,
        }
        start = decode_page_token(page_token, {"pk": partition}, frozenset({"pk", "sk"}))
        if start is not None:
            if not start["sk"]["S"].startswith(prefix):
                raise invalid_page_token()
            request["ExclusiveStartKey"] = start
        response = self.client.query(**request)
        records = [model.model_validate(from_item(i)) for i in response["Items"]]
        return records, encode_page_token(response.get("LastEvaluatedKey"))

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


def _changed_meanwhile() -> Conflict:
    return Conflict("the scheduled post changed while this request ran; fetch it and retry")
