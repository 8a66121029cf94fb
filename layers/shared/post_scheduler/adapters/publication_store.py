"""The publisher's side of the table: claiming a post, checkpointing progress, finishing it, and
rotating an account's TikTok tokens. Every write is conditional on the claim it holds, so a run
that lost its claim (or a stale event) can never overwrite another run's progress."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from datetime import datetime
from typing import Any

from post_scheduler.adapters.table import (
    LockDrifted,
    SchedulingTable,
    account_key,
    expression_values,
    from_item,
    schedule_key,
)
from post_scheduler.adapters.throttling import is_throttling
from post_scheduler.domain.errors import LeaseLost as LeaseLost
from post_scheduler.domain.errors import TokensChanged as TokensChanged
from post_scheduler.errors import Conflict
from post_scheduler.models.records import (
    CreatorInfoSnapshot,
    DueEntry,
    ScheduleRecord,
    TikTokAccountRecord,
    VideoRecord,
)


def _update_parts(
    fields: dict[str, Any], *extra_sets: str
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """SET/REMOVE expression for `fields` (None removes the attribute), plus `extra_sets`."""
    sets, removes = list(extra_sets), []
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    for index, (name, value) in enumerate(fields.items()):
        names[f"#f{index}"] = name
        if value is None:
            removes.append(f"#f{index}")
        else:
            sets.append(f"#f{index} = :f{index}")
            values.update(expression_values(**{f"f{index}": value}))
    expression = ""
    if sets:
        expression += "SET " + ", ".join(sets)
    if removes:
        expression += " REMOVE " + ", ".join(removes)
    return expression.strip(), names, values


class PublicationStore:
    """Publishing state transitions on top of the scheduling table."""

    def __init__(self, table: SchedulingTable) -> None:
        self.table = table
        self.client = table.client

    def get(self, user_id: str, schedule_id: str) -> ScheduleRecord | None:
        return self.table.get_schedule(user_id, schedule_id)

    def claim(
        self, post: ScheduleRecord, now: datetime, lease_until: datetime, token: str
    ) -> ScheduleRecord | None:
        """Move the post to `publishing` for this run, or None when it is not ours to take:
        only a pending post of the same version, or a publishing one whose previous run's lease
        has run out (that run is gone), can be claimed."""
        try:
            response = self.client.update_item(
                TableName=self.table.name,
                Key=schedule_key(post.userId, post.scheduleId),
                UpdateExpression=(
                    "SET #status = :publishing, claimToken = :token, claimedAt = :now,"
                    " leaseExpiresAt = :lease, publishAttempts = if_not_exists(publishAttempts,"
                    " :zero) + :one, publishStartedAt = if_not_exists(publishStartedAt, :now),"
                    " revision = revision + :one, updatedAt = :now"
                ),
                ConditionExpression=(
                    "version = :version AND (#status = :pending OR"
                    " (#status = :publishing AND leaseExpiresAt <= :now))"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=expression_values(
                    publishing="publishing",
                    pending="pending",
                    token=token,
                    now=now,
                    lease=lease_until,
                    zero=0,
                    one=1,
                    version=post.version,
                ),
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        return ScheduleRecord.model_validate(from_item(response["Attributes"]))

    def checkpoint(self, post: ScheduleRecord, token: str, **fields: Any) -> ScheduleRecord:
        """Record progress while we still hold the claim; LeaseLost otherwise."""
        expression, names, values = _update_parts(fields, "revision = revision + :one")
        names["#status"] = "status"
        values.update(expression_values(publishing="publishing", token=token, one=1))
        try:
            response = self.client.update_item(
                TableName=self.table.name,
                Key=schedule_key(post.userId, post.scheduleId),
                UpdateExpression=expression,
                ConditionExpression="#status = :publishing AND claimToken = :token",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise LeaseLost(post.scheduleId) from None
        return ScheduleRecord.model_validate(from_item(response["Attributes"]))

    def release_lease(self, post: ScheduleRecord, token: str, now: datetime, error: str) -> None:
        """Give the claim up early (a retry should not wait for the lease to run out)."""
        with suppress(LeaseLost):
            self.checkpoint(post, token, leaseExpiresAt=now, lastError=error[:1000], updatedAt=now)

    def finish(
        self,
        post: ScheduleRecord,
        token: str | None,
        final: ScheduleRecord,
        video_published_at: datetime | None,
    ) -> None:
        """End the post (executed or failed): write `final`, release the video lock (marking the
        video published on success) and the plan slot, in one transaction. With `token`, only
        while this run holds the claim; without, only if the post is unchanged since read."""
        condition = (
            None
            if token is None
            else (
                "#status = :publishing AND claimToken = :token",
                {"publishing": "publishing", "token": token},
            )
        )
        try:
            try:
                self.table.release_schedule(
                    final,
                    expected=post,
                    video_published_at=video_published_at,
                    condition=condition,
                )
            except LockDrifted:
                # The video's lock names another post (or none): there is no lock of ours to
                # release, but the post must still end and give its plan slot back.
                self.table.release_schedule(
                    final, expected=post, condition=condition, video_lock=False
                )
        except Conflict:
            if token is None:
                raise
            raise LeaseLost(post.scheduleId) from None

    # --- TikTok tokens ------------------------------------------------------------------------

    def get_account(self, user_id: str, account_id: str) -> TikTokAccountRecord | None:
        return self.table.get_account(user_id, account_id)

    def save_creator_info(
        self, user_id: str, account_id: str, info: CreatorInfoSnapshot, at: datetime
    ) -> None:
        """Cache what creator_info said on the account, for the pre-flight checks at create."""
        self.table.save_creator_info(user_id, account_id, info, at)

    def get_video(self, user_id: str, video_id: str) -> VideoRecord | None:
        """The post's video as the table holds it (its checked version and ETag)."""
        return self.table.get_video(user_id, video_id)

    @staticmethod
    def is_throttling(error: BaseException) -> bool:
        """Whether `error` is DynamoDB saying "too fast" (worth retrying in the run)."""
        return is_throttling(error)

    def take_refresh_lease(
        self, account: TikTokAccountRecord, lease: str, now: datetime, until: datetime
    ) -> bool:
        """Take the account's short refresh lease, only for the token version read and only if
        no other run holds a live one."""
        try:
            self.client.update_item(
                TableName=self.table.name,
                Key=account_key(account.userId, account.accountId),
                UpdateExpression="SET refreshLeaseToken = :lease, refreshLeaseUntil = :until",
                ConditionExpression=(
                    "attribute_exists(pk)"
                    " AND (tokenVersion = :seen OR attribute_not_exists(tokenVersion))"
                    " AND (attribute_not_exists(refreshLeaseUntil) OR refreshLeaseUntil <= :now)"
                ),
                ExpressionAttributeValues=expression_values(
                    lease=lease, until=until, seen=account.tokenVersion, now=now
                ),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def release_refresh_lease(self, account: TikTokAccountRecord, lease: str) -> None:
        """Give the refresh lease back (no-op when it is no longer ours)."""
        with suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(
                TableName=self.table.name,
                Key=account_key(account.userId, account.accountId),
                UpdateExpression="REMOVE refreshLeaseToken, refreshLeaseUntil",
                ConditionExpression="refreshLeaseToken = :lease",
                ExpressionAttributeValues=expression_values(lease=lease),
            )

    def mark_needs_reconnection(
        self, account: TikTokAccountRecord, reason: str, now: datetime
    ) -> None:
        """Record that the account's tokens are unusable until the user reconnects it."""
        with suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(
                TableName=self.table.name,
                Key=account_key(account.userId, account.accountId),
                UpdateExpression=(
                    "SET needsReconnection = :reason, updatedAt = :now"
                    " REMOVE refreshLeaseToken, refreshLeaseUntil"
                ),
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=expression_values(reason=reason[:1000], now=now),
            )

    def save_tokens(self, account: TikTokAccountRecord, **fields: Any) -> TikTokAccountRecord:
        """Store rotated tokens, unless another run rotated them first (TokensChanged)."""
        expression, names, values = _update_parts(
            {**fields, "tokenVersion": account.tokenVersion + 1}
        )
        values.update(expression_values(expected=account.tokenVersion))
        try:
            response = self.client.update_item(
                TableName=self.table.name,
                Key=account_key(account.userId, account.accountId),
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(pk) AND"
                " (tokenVersion = :expected OR attribute_not_exists(tokenVersion))",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise TokensChanged(account.accountId) from None
        return TikTokAccountRecord.model_validate(from_item(response["Attributes"]))

    def due_posts(self, due_before: datetime, page_size: int = 100) -> Iterator[DueEntry]:
        """Every pending or publishing post whose time is before `due_before`, oldest first,
        page after page (from the eventually consistent due index: a snapshot)."""
        return self.table.list_due(due_before, page_size)

    def mark_rearmed(self, post: DueEntry, now: datetime, max_rearms: int) -> ScheduleRecord | None:
        """Count one sweep re-arm of `post`, only while it is still the version the sweep read,
        unclaimed (pending, or publishing with a lapsed lease) and under `max_rearms`. None
        when it changed since the snapshot (moved, claimed, ended, re-armed by another
        sweep)."""
        try:
            response = self.client.update_item(
                TableName=self.table.name,
                Key=schedule_key(post.userId, post.scheduleId),
                UpdateExpression=(
                    "SET sweepRearms = if_not_exists(sweepRearms, :zero) + :one,"
                    " revision = revision + :one, updatedAt = :now"
                ),
                ConditionExpression=(
                    "version = :version AND (#status = :pending"
                    " OR (#status = :publishing AND leaseExpiresAt <= :now))"
                    " AND (attribute_not_exists(sweepRearms) OR sweepRearms = :seen)"
                    " AND (attribute_not_exists(sweepRearms) OR sweepRearms < :cap)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=expression_values(
                    zero=0,
                    one=1,
                    now=now,
                    version=post.version,
                    pending="pending",
                    publishing="publishing",
                    seen=post.sweepRearms,
                    cap=max_rearms,
                ),
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        return ScheduleRecord.model_validate(from_item(response["Attributes"]))
