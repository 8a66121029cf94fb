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

This module holds the names and keys of that layout: no other module spells these keys
(webhooks and their deliveries, in the same partitions, are webhook_store's).
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

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
# A due index sort key, `<time>#<scheduleId>` (what an upcoming page token may hold).
DUE_POSITION = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z(#[0-9A-Za-z-]{1,64})?$")
ACTIVE_STATUSES = ("pending", "publishing")

# Sort-key prefixes of the user's items (`USER#<userId>` partition, and its UserIndex).
VIDEO_PREFIX = "VIDEO#"
ACCOUNT_PREFIX = "ACCOUNT#"
SCHEDULE_PREFIX = "SCHEDULE#"
# Every API key's UserIndex sort key lies in this range ("$" sorts right after "#").
API_KEY_SK_FIRST = "APIKEY#"
API_KEY_SK_LAST = "APIKEY$"

# A minute's counter outlives its minute by far more than any post can stay publishing.
ACCOUNT_MINUTE_TTL = timedelta(days=30)


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def user_partition(user_id: str) -> str:
    """The partition (and UserIndex partition) of everything a user owns."""
    return f"USER#{user_id}"


def user_key(user_id: str) -> dict[str, Any]:
    return _key(user_partition(user_id), "PROFILE")


def api_key_key(key_hash: str) -> dict[str, Any]:
    return _key(f"APIKEY#{key_hash}", "APIKEY")


def video_key(user_id: str, video_id: str) -> dict[str, Any]:
    return _key(user_partition(user_id), f"{VIDEO_PREFIX}{video_id}")


def account_key(user_id: str, account_id: str) -> dict[str, Any]:
    return _key(user_partition(user_id), f"{ACCOUNT_PREFIX}{account_id}")


def schedule_key(user_id: str, schedule_id: str) -> dict[str, Any]:
    return _key(user_partition(user_id), f"{SCHEDULE_PREFIX}{schedule_id}")


def account_minute_key(user_id: str, account_id: str, minute: str) -> dict[str, Any]:
    return _key(user_partition(user_id), f"POSTMINUTE#{account_id}#{minute}")


def oauth_state_key(state_hash: str) -> dict[str, Any]:
    return _key(f"OAUTH#{state_hash}", "STATE")


def due_shard(schedule_id: str) -> str:
    """The due index partition of a post: fixed by its id, so a move stays in its shard."""
    number = int.from_bytes(hashlib.sha256(schedule_id.encode()).digest()[:4], "big")
    return f"DUE#{number % DUE_SHARDS:02d}"


def due_shards() -> list[str]:
    """Every partition key of the due index."""
    return [f"DUE#{n:02d}" for n in range(DUE_SHARDS)]
