"""The write-sharded due index: posts spread over the shards, and the public upcoming list and
the sweep merge them back in time order, with paging across shards and opaque tokens."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from post_scheduler.adapters.publication_store import PublicationStore
from post_scheduler.adapters.table import DUE_INDEX, DUE_PROJECTION, DUE_SHARDS
from tests.support import AwsStack, assert_error, assert_ok

PATH = "/api/v1/schedule/upcoming"


def _pages(stack: AwsStack, limit: int) -> list[list[dict[str, Any]]]:
    pages, token = [], None
    while True:
        query = f"limit={limit}" + (f"&nextToken={token}" if token else "")
        data = assert_ok(stack.call("GET", PATH, query=query))
        pages.append(data["upcomingPosts"])
        token = data.get("nextToken")
        if not token:
            return pages


def _same_second_posts(stack: AwsStack, count: int) -> list[str]:
    """`count` posts of two users, most of them due in the very same second."""
    ids: list[str] = []
    for plan in ("professional", "basic"):
        user = stack.user(plan)
        ids += user.stored_posts(count // 2, start_minutes=30)
        # Half of them at one second: the hot case the shards exist for.
        for schedule_id in ids[-(count // 4) :]:
            item = user.post_item(schedule_id)
            assert item is not None
            moment = "2099-01-01T18:00:00.000Z"
            stack.table.client.update_item(
                TableName=stack.table.name,
                Key={"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}},
                UpdateExpression="SET scheduledPublishTime = :t, dueAt = :d, gsi1sk = :g",
                ExpressionAttributeValues={
                    ":t": {"S": moment},
                    ":d": {"S": f"{moment}#{schedule_id}"},
                    ":g": {"S": f"SCHEDULE#{moment}#{schedule_id}"},
                },
            )
    return ids


def test_posts_spread_over_the_shards(stack: AwsStack) -> None:
    ids = _same_second_posts(stack, 64)
    shards = set()
    for schedule_id in ids:
        items = stack.table.client.scan(
            TableName=stack.table.name,
            FilterExpression="scheduleId = :id",
            ExpressionAttributeValues={":id": {"S": schedule_id}},
        )["Items"]
        shards.add(items[0]["dueShard"]["S"])
    assert len(shards) >= DUE_SHARDS // 2  # 64 posts: nearly every shard gets some


def test_the_index_projects_only_what_its_readers_need(stack: AwsStack) -> None:
    (schedule_id,) = stack.user("basic").stored_posts(1)
    (entry,) = stack.table.client.query(
        TableName=stack.table.name,
        IndexName=DUE_INDEX,
        KeyConditionExpression="dueShard = :s AND dueAt > :a",
        ExpressionAttributeValues={
            ":s": {"S": _shard_of(stack, schedule_id)},
            ":a": {"S": "2000"},
        },
    )["Items"]
    keys = {"pk", "sk", "dueShard", "dueAt"}
    assert set(entry) <= keys | set(DUE_PROJECTION)
    assert "title" not in entry
    assert "uploadedBytes" not in entry


def _shard_of(stack: AwsStack, schedule_id: str) -> str:
    from post_scheduler.adapters.table import due_shard

    return due_shard(schedule_id)


def test_upcoming_pages_through_all_shards_in_time_order(stack: AwsStack) -> None:
    ids = _same_second_posts(stack, 40)

    pages = _pages(stack, limit=7)

    listed = [post for page in pages for post in page]
    assert all(len(page) == 7 for page in pages[:-1])
    assert sorted(p["scheduleId"] for p in listed) == sorted(ids)  # each once, none missing
    order = [(p["publishTime"], p["scheduleId"]) for p in listed]
    assert order == sorted(order)  # soonest first across shards, ties by id


def test_upcoming_tokens_are_opaque_and_checked(stack: AwsStack) -> None:
    _same_second_posts(stack, 8)
    data = assert_ok(stack.call("GET", PATH, query="limit=3"))
    token = data["nextToken"]
    assert "DUE#" not in token
    assert "USER#" not in token
    for forged in (
        {"dueAt": "not a position"},
        {"dueAt": "2099-01-01T18:00:00.000Z#x", "dueShard": "DUE#00"},
        {"pk": "USER#x", "sk": "SCHEDULE#y", "dueShard": "DUE", "dueAt": "2030"},
    ):
        raw = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
        assert_error(stack.call("GET", PATH, query=f"nextToken={raw}"), 400, "VALIDATION_ERROR")
    assert_error(stack.call("GET", PATH, query=f"nextToken={token[:-2]}"), 400, "VALIDATION_ERROR")


def test_the_sweep_reads_the_oldest_missed_posts_of_every_shard(stack: AwsStack) -> None:
    user = stack.user("professional")
    missed = user.stored_posts(30, start_minutes=-60)  # a minute apart, oldest first
    user.stored_posts(5, start_minutes=30)  # still to come: not due

    overdue = PublicationStore(stack.table).due_posts(datetime.now(UTC) - timedelta(minutes=3), 4)
    due = list(islice(overdue, 12))

    assert [p.scheduleId for p in due] == missed[:12]
    assert len({_shard_of(stack, p.scheduleId) for p in due}) > 1
    # Read on, page after page of every shard, it is every missed post, oldest first.
    assert [p.scheduleId for p in overdue] == missed[12:]
