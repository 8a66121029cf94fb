"""API keys: stored under their hash, listed through the user's index."""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any

from post_scheduler.adapters.paging import invalid_page_token
from post_scheduler.adapters.table.base import TableBase
from post_scheduler.adapters.table.codec import expression_values, from_item, record, to_item
from post_scheduler.adapters.table.layout import (
    API_KEY_SK_FIRST,
    API_KEY_SK_LAST,
    USER_INDEX,
    api_key_key,
    user_partition,
)
from post_scheduler.errors import NotFound
from post_scheduler.models.records import ApiKeyRecord
from post_scheduler.timestamps import format_utc


class ApiKeys(TableBase):
    """The users' API keys."""

    def get_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        return record(ApiKeyRecord, self._get(api_key_key(key_hash)))

    def put_api_key(self, api_key: ApiKeyRecord) -> None:
        self.client.put_item(
            TableName=self.name,
            Item=to_item(
                api_key,
                api_key_key(api_key.keyHash),
                entity="apiKey",
                gsi1pk=user_partition(api_key.userId),
                gsi1sk=f"{API_KEY_SK_FIRST}{format_utc(api_key.createdAt)}#{api_key.keyId}",
            ),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def _api_key_query(self, user_id: str) -> dict[str, Any]:
        return {
            "TableName": self.name,
            "IndexName": USER_INDEX,
            "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk BETWEEN :from AND :to",
            "ExpressionAttributeValues": expression_values(
                pk=user_partition(user_id), **{"from": API_KEY_SK_FIRST, "to": API_KEY_SK_LAST}
            ),
        }

    def count_api_keys(self, user_id: str) -> int:
        request = {**self._api_key_query(user_id), "Select": "COUNT"}
        return sum(int(response["Count"]) for response in self._query_pages(request))

    def list_api_keys(
        self, user_id: str, limit: int, page_token: str | None
    ) -> tuple[list[ApiKeyRecord], str | None]:
        """A page of the user's keys, oldest first. The page token holds only the index's sort
        key (never the table key, which is the key's hash)."""
        request = self._api_key_query(user_id)
        scope = f"apiKeys\n{user_partition(user_id)}"
        after = self.pages.decode(page_token, scope, {}, frozenset({"gsi1sk"}))
        skip = None
        request["Limit"] = limit
        if after is not None:
            skip = after["gsi1sk"]["S"]
            if not skip.startswith(API_KEY_SK_FIRST):
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
