"""Webhooks and their deliveries in the table:

    USER#<userId> / WEBHOOK#<webhookId>                              a webhook (secret encrypted)
    USER#<userId> / DELIVERY#<webhookId>#<occurredAt>#<eventId>      one event for one webhook
    USER#<userId> / PROFILE  `webhookCount`                          exact, under the cap

Registering and deleting are transactions with the user's counter, so the cap of 10 holds under
concurrent requests. Deliveries expire (TTL) 30 days after their event.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import timedelta
from typing import Any

from post_scheduler.adapters.table import (
    SchedulingTable,
    expression_values,
    from_item,
    to_item,
    user_key,
)
from post_scheduler.errors import Conflict, NotFound
from post_scheduler.models.webhooks import (
    MAX_WEBHOOKS_PER_USER,
    DeliveryRecord,
    WebhookRecord,
)

DELIVERY_RETENTION = timedelta(days=30)


def webhook_key(user_id: str, webhook_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"USER#{user_id}"}, "sk": {"S": f"WEBHOOK#{webhook_id}"}}


def delivery_sort_key(record: DeliveryRecord) -> str:
    from post_scheduler.timestamps import format_utc

    return f"DELIVERY#{record.webhookId}#{format_utc(record.occurredAt)}#{record.eventId}"


def delivery_key(record: DeliveryRecord) -> dict[str, Any]:
    return {"pk": {"S": f"USER#{record.userId}"}, "sk": {"S": delivery_sort_key(record)}}


class WebhookStore:
    def __init__(self, table: SchedulingTable) -> None:
        self.table = table
        self.client = table.client
        self.name = table.name

    # --- webhooks -------------------------------------------------------------------------------

    def add(self, webhook: WebhookRecord) -> None:
        """Store a new webhook and count it, unless the user has the most allowed already."""
        items = [
            {
                "Put": {
                    "TableName": self.name,
                    "Item": to_item(
                        webhook, webhook_key(webhook.userId, webhook.webhookId), entity="webhook"
                    ),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": self.name,
                    "Key": user_key(webhook.userId),
                    "UpdateExpression": "ADD webhookCount :one",
                    "ConditionExpression": (
                        "attribute_exists(pk) AND"
                        " (attribute_not_exists(webhookCount) OR webhookCount < :cap)"
                    ),
                    "ExpressionAttributeValues": expression_values(
                        one=1, cap=MAX_WEBHOOKS_PER_USER
                    ),
                }
            },
        ]

        def explain(reasons: list[dict[str, Any]]) -> Exception:
            if len(reasons) > 1 and reasons[1].get("Code") == "ConditionalCheckFailed":
                return Conflict(
                    f"at most {MAX_WEBHOOKS_PER_USER} webhooks per user; delete one first",
                    {"limit": MAX_WEBHOOKS_PER_USER},
                )
            return Conflict("the webhook could not be stored; retry")

        self.table._transact(items, explain)

    def get(self, user_id: str, webhook_id: str) -> WebhookRecord | None:
        response = self.client.get_item(
            TableName=self.name, Key=webhook_key(user_id, webhook_id), ConsistentRead=True
        )
        item = response.get("Item")
        return None if item is None else WebhookRecord.model_validate(from_item(item))

    def list_webhooks(self, user_id: str) -> list[WebhookRecord]:
        """All of the user's webhooks (at most 10: one page)."""
        response = self.client.query(
            TableName=self.name,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=expression_values(pk=f"USER#{user_id}", prefix="WEBHOOK#"),
            ConsistentRead=True,
        )
        return [WebhookRecord.model_validate(from_item(i)) for i in response["Items"]]

    def remove(self, user_id: str, webhook_id: str) -> None:
        items = [
            {
                "Delete": {
                    "TableName": self.name,
                    "Key": webhook_key(user_id, webhook_id),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": self.name,
                    "Key": user_key(user_id),
                    "UpdateExpression": "ADD webhookCount :minus",
                    "ConditionExpression": "webhookCount > :zero",
                    "ExpressionAttributeValues": expression_values(minus=-1, zero=0),
                }
            },
        ]
        self.table._transact(items, lambda _reasons: NotFound("webhook not found"))

    # --- deliveries -----------------------------------------------------------------------------

    def add_delivery(self, delivery: DeliveryRecord) -> bool:
        """Record a new delivery; False if it exists and was attempted already (a stream
        record seen twice). An existing one never attempted may not be queued yet: True."""
        expires = int((delivery.occurredAt + DELIVERY_RETENTION).timestamp())
        try:
            self.client.put_item(
                TableName=self.name,
                Item=to_item(
                    delivery, delivery_key(delivery), entity="delivery", expiresAt=expires
                ),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            old = from_item(exc.response.get("Item") or {})
            return int(old.get("attempt", 0)) == 0
        return True

    def get_delivery(self, delivery: DeliveryRecord) -> DeliveryRecord | None:
        response = self.client.get_item(
            TableName=self.name, Key=delivery_key(delivery), ConsistentRead=True
        )
        item = response.get("Item")
        return None if item is None else DeliveryRecord.model_validate(from_item(item))

    def record_attempt(self, delivery: DeliveryRecord) -> None:
        """The outcome of an attempt; never moves a delivered one back."""
        names = {"#status": "status", "#attempt": "attempt"}
        values: dict[str, Any] = {
            "status": delivery.status,
            "attempt": delivery.attempt,
            "delivered": "delivered",
        }
        sets = ["#status = :status", "#attempt = :attempt"]
        removes = []
        for field in ("responseStatus", "lastAttemptAt", "nextAttemptAt", "error"):
            names[f"#{field}"] = field  # `error` is one of DynamoDB's reserved words
            value = getattr(delivery, field)
            if value is None:
                removes.append(f"#{field}")
            else:
                sets.append(f"#{field} = :{field}")
                values[field] = value
        expression = "SET " + ", ".join(sets) + (f" REMOVE {', '.join(removes)}" if removes else "")
        # A delivered one (a duplicate message) or an expired one: nothing to record.
        with suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(
                TableName=self.name,
                Key=delivery_key(delivery),
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(pk) AND #status <> :delivered",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=expression_values(**values),
            )

    def list_deliveries(
        self, user_id: str, webhook_id: str, limit: int, page_token: str | None
    ) -> tuple[list[DeliveryRecord], str | None]:
        """The webhook's deliveries, newest event first."""
        from post_scheduler.adapters.paging import invalid_page_token

        partition, prefix = f"USER#{user_id}", f"DELIVERY#{webhook_id}#"
        request: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": expression_values(pk=partition, prefix=prefix),
            "ScanIndexForward": False,
        }
        scope = f"deliveries\n{prefix}\n{partition}"
        start = self.table.pages.decode(
            page_token, scope, {"pk": partition}, frozenset({"pk", "sk"})
        )
        if start is not None:
            if not start["sk"]["S"].startswith(prefix):
                raise invalid_page_token()
            request["ExclusiveStartKey"] = start
        items, token = self.table._page(request, limit, ("pk", "sk"), scope)
        return [DeliveryRecord.model_validate(from_item(i)) for i in items], token
