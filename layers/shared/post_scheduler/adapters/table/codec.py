"""Records <-> low-level DynamoDB items: attribute values, expression values, index attributes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from pydantic import BaseModel

from post_scheduler.adapters.table.layout import (
    ACTIVE_STATUSES,
    SCHEDULE_PREFIX,
    due_shard,
    schedule_key,
    user_partition,
)
from post_scheduler.models.records import ScheduleRecord
from post_scheduler.timestamps import format_utc

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


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


def record[M: BaseModel](model: type[M], item: Mapping[str, Any] | None) -> M | None:
    """A low-level item as a record of `model` (None for no item)."""
    return None if item is None else model.model_validate(from_item(item))


def expression_values(**values: Any) -> dict[str, Any]:
    """`:name` placeholders with their serialised values, for an expression."""
    return {f":{name}": _serializer.serialize(_plain(v)) for name, v in values.items()}


def schedule_item(schedule: ScheduleRecord) -> dict[str, Any]:
    """A schedule with its index attributes: always in the user's index, in the due index only
    while it still has to be published."""
    moment = f"{format_utc(schedule.scheduledPublishTime)}#{schedule.scheduleId}"
    active = schedule.status in ACTIVE_STATUSES
    return to_item(
        schedule,
        schedule_key(schedule.userId, schedule.scheduleId),
        entity="schedule",
        gsi1pk=user_partition(schedule.userId),
        gsi1sk=f"{SCHEDULE_PREFIX}{moment}",
        dueShard=due_shard(schedule.scheduleId) if active else None,
        dueAt=moment if active else None,
    )
