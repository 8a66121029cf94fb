"""Lists of posts: a user's posts by time, their active posts, and the due index read across
its shards (the public upcoming list and the sweep's missed posts)."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import cache
from itertools import islice
from typing import Any

from post_scheduler.adapters.paging import invalid_page_token
from post_scheduler.adapters.table.base import TableBase
from post_scheduler.adapters.table.codec import expression_values, from_item
from post_scheduler.adapters.table.layout import (
    DUE_INDEX,
    DUE_POSITION,
    DUE_SHARDS,
    SCHEDULE_PREFIX,
    USER_INDEX,
    account_key,
    due_shards,
    user_partition,
    video_key,
)
from post_scheduler.models.records import (
    DueEntry,
    ScheduleRecord,
    TikTokAccountRecord,
    VideoRecord,
)
from post_scheduler.timestamps import format_utc


@cache
def _shard_readers() -> ThreadPoolExecutor:
    """Threads that query the due shards side by side (created on first use)."""
    return ThreadPoolExecutor(max_workers=DUE_SHARDS, thread_name_prefix="due-shard")


class ScheduleLists(TableBase):
    """The reads of posts in bulk."""

    def list_schedules(
        self, user_id: str, limit: int, page_token: str | None, status: str | None = None
    ) -> tuple[list[ScheduleRecord], str | None]:
        """The user's posts by scheduled time; with `status`, only those (filtered server-side;
        pages are still full, see `_page`)."""
        partition = user_partition(user_id)
        request: dict[str, Any] = {
            "TableName": self.name,
            "IndexName": USER_INDEX,
            "KeyConditionExpression": "gsi1pk = :pk AND begins_with(gsi1sk, :prefix)",
            "ExpressionAttributeValues": expression_values(pk=partition, prefix=SCHEDULE_PREFIX),
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
            if not start["gsi1sk"]["S"].startswith(SCHEDULE_PREFIX):
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

    def get_videos_and_accounts(
        self, user_id: str, video_ids: set[str], account_ids: set[str]
    ) -> tuple[dict[str, VideoRecord], dict[str, TikTokAccountRecord]]:
        """The user's videos and accounts with these ids, as listed posts show them (one
        BatchGetItem per 100 keys)."""
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
        values = {"pk": user_partition(user_id), "prefix": SCHEDULE_PREFIX, "pending": "pending"}
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
        return [
            ScheduleRecord.model_validate(from_item(item))
            for response in self._query_pages(request)
            for item in response["Items"]
        ]

    # --- the due index, across its shards -------------------------------------------------------

    def list_upcoming(
        self, now: datetime, limit: int, page_token: str | None
    ) -> tuple[list[DueEntry], str | None]:
        """Pending posts due after `now`, soonest first, across all users: the shards' posts,
        merged. The page token is the (sealed) position of the last post returned (its
        `<time>#<id>`), so the next page is every shard's posts after it."""
        after = format_utc(now)
        start = self.pages.decode(page_token, "upcoming", {}, frozenset({"dueAt"}))
        if start is not None:
            position = start["dueAt"]["S"]
            if not DUE_POSITION.fullmatch(position):
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

        # One item more than the page tells whether another page follows.
        items = list(islice(self._merged_shards(request, limit + 1), limit + 1))
        page = items[:limit]
        more = len(items) > limit
        token = self.pages.encode({"dueAt": page[-1]["dueAt"]}, "upcoming") if more else None
        return [DueEntry.model_validate(from_item(i)) for i in page], token

    def list_due(self, due_before: datetime, page_size: int = 100) -> Iterator[DueEntry]:
        """Every pending or publishing post whose time is before `due_before`, oldest first
        across the shards, read page by page as the caller goes (it stops reading when the
        caller stops)."""
        before = format_utc(due_before)

        def request(shard: str) -> dict[str, Any]:
            return {
                "TableName": self.name,
                "IndexName": DUE_INDEX,
                "KeyConditionExpression": "dueShard = :shard AND dueAt < :before",
                "ExpressionAttributeValues": expression_values(shard=shard, before=before),
            }

        for item in self._merged_shards(request, page_size):
            yield DueEntry.model_validate(from_item(item))

    def _merged_shards(
        self, request: Callable[[str], dict[str, Any]], page_size: int
    ) -> Iterator[dict[str, Any]]:
        """The items of `request(shard)` in every due shard, merged by `dueAt`. The shards'
        first pages are read side by side when the caller asks for the first item; later pages
        of a shard only when the merge reaches its end, so a caller that stops early reads no
        more (a filter may leave a page short or empty: reading goes on until the shard ends).
        """

        def first_page(shard: str) -> tuple[dict[str, Any], dict[str, Any]]:
            query = {**request(shard), "Limit": page_size}
            return query, self.client.query(**query)

        def shard_items(
            query: dict[str, Any], response: dict[str, Any]
        ) -> Iterator[dict[str, Any]]:
            while True:
                yield from response["Items"]
                last = response.get("LastEvaluatedKey")
                if last is None:
                    return
                query["ExclusiveStartKey"] = last
                response = self.client.query(**query)

        firsts = list(_shard_readers().map(first_page, due_shards()))
        shards = [shard_items(query, response) for query, response in firsts]
        yield from heapq.merge(*shards, key=lambda item: str(item["dueAt"]["S"]))
