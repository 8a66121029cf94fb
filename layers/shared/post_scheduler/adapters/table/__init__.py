"""The DynamoDB table adapter, one module per entity over a shared base.

layout (the keys and the layout's description), codec (records <-> items), base (client,
transactions, paged queries), users, api_keys, videos, accounts, schedules (a post's writes),
schedule_conditions (their shared transaction items), schedule_lists (lists and the due index).
`SchedulingTable` is all of them; the names below are what other modules import from here.
"""

from __future__ import annotations

from post_scheduler.adapters.table.accounts import Accounts
from post_scheduler.adapters.table.api_keys import ApiKeys
from post_scheduler.adapters.table.codec import (
    expression_values,
    from_item,
    schedule_item,
    to_item,
)
from post_scheduler.adapters.table.layout import (
    ACTIVE_STATUSES,
    DUE_INDEX,
    DUE_PROJECTION,
    DUE_SHARDS,
    USER_INDEX,
    account_key,
    account_minute_key,
    api_key_key,
    due_shard,
    oauth_state_key,
    schedule_key,
    user_key,
    video_key,
)
from post_scheduler.adapters.table.schedule_conditions import LockDrifted
from post_scheduler.adapters.table.schedule_lists import ScheduleLists
from post_scheduler.adapters.table.schedules import Schedules
from post_scheduler.adapters.table.users import Users
from post_scheduler.adapters.table.videos import Videos

__all__ = [
    "ACTIVE_STATUSES",
    "DUE_INDEX",
    "DUE_PROJECTION",
    "DUE_SHARDS",
    "USER_INDEX",
    "LockDrifted",
    "SchedulingTable",
    "account_key",
    "account_minute_key",
    "api_key_key",
    "due_shard",
    "expression_values",
    "from_item",
    "oauth_state_key",
    "schedule_item",
    "schedule_key",
    "to_item",
    "user_key",
    "video_key",
]


class SchedulingTable(Users, ApiKeys, Videos, Accounts, Schedules, ScheduleLists):
    """Typed access to the table. Methods raise the API's errors where a condition fails."""
