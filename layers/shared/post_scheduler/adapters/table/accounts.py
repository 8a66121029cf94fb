"""TikTok accounts: connecting (the OAuth state, the grant), the creator info cache, and
disconnecting."""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime
from typing import Any

from post_scheduler.adapters.table.base import TableBase
from post_scheduler.adapters.table.codec import expression_values, record, to_item
from post_scheduler.adapters.table.layout import (
    ACCOUNT_PREFIX,
    account_key,
    oauth_state_key,
    user_partition,
)
from post_scheduler.errors import Conflict, NotFound
from post_scheduler.models.accounts import OAuthStateRecord
from post_scheduler.models.records import CreatorInfoSnapshot, TikTokAccountRecord


class Accounts(TableBase):
    """The users' TikTok accounts and their connect flows."""

    def get_account(self, user_id: str, account_id: str) -> TikTokAccountRecord | None:
        return record(TikTokAccountRecord, self._get(account_key(user_id, account_id)))

    def put_account(self, account: TikTokAccountRecord) -> None:
        self.client.put_item(
            TableName=self.name,
            Item=to_item(account, account_key(account.userId, account.accountId), entity="account"),
        )

    def list_accounts(
        self, user_id: str, limit: int, page_token: str | None
    ) -> tuple[list[TikTokAccountRecord], str | None]:
        """A page of the user's TikTok accounts, by id."""
        return self.list_user_items(user_id, ACCOUNT_PREFIX, TikTokAccountRecord, limit, page_token)

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
        return record(OAuthStateRecord, response.get("Attributes"))

    def find_account_by_open_id(self, user_id: str, open_id: str) -> TikTokAccountRecord | None:
        """The user's account for this TikTok user, if connected before."""
        request: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "FilterExpression": "openId = :openId",
            "ExpressionAttributeValues": expression_values(
                pk=user_partition(user_id), prefix=ACCOUNT_PREFIX, openId=open_id
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
