"""Users: the profile item with the plan and the pending-post counter, and operators' changes."""

from __future__ import annotations

from typing import Any

from post_scheduler.adapters.table.base import TableBase
from post_scheduler.adapters.table.codec import expression_values, from_item, record, to_item
from post_scheduler.adapters.table.layout import user_key
from post_scheduler.errors import Conflict, NotFound
from post_scheduler.models.records import UserRecord


class Users(TableBase):
    """The users' profile items."""

    def get_user(self, user_id: str) -> UserRecord | None:
        return record(UserRecord, self._get(user_key(user_id)))

    def put_user(self, user: UserRecord) -> None:
        self.client.put_item(
            TableName=self.name, Item=to_item(user, user_key(user.userId), entity="user")
        )

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
        changed = record(UserRecord, response["Attributes"])
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
