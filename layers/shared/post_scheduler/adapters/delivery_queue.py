"""The webhook delivery queue (SQS): new deliveries in, and a failed attempt's message held
back until its next attempt is due (its visibility timeout, at most SQS's 12 hours)."""

from __future__ import annotations

import json
from typing import Any

from post_scheduler.adapters.aws import aws_client

MAX_VISIBILITY_SECONDS = 12 * 60 * 60


class DeliveryQueue:
    def __init__(self, queue_url: str, client: Any = None) -> None:
        self.queue_url = queue_url
        self.client = client if client is not None else aws_client("sqs")

    def send_many(self, messages: list[dict[str, Any]]) -> None:
        """Queue the messages (SendMessageBatch, ten at a time); raises if any is refused."""
        for start in range(0, len(messages), 10):
            batch = messages[start : start + 10]
            response = self.client.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "MessageBody": json.dumps(message)}
                    for index, message in enumerate(batch)
                ],
            )
            if response.get("Failed"):
                codes = sorted({str(f.get("Code")) for f in response["Failed"]})
                raise RuntimeError(f"SQS refused {len(response['Failed'])} message(s): {codes}")

    def retry_in(self, receipt_handle: str, seconds: int) -> None:
        """The received message comes back after `seconds` (its next attempt)."""
        self.client.change_message_visibility(
            QueueUrl=self.queue_url,
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=max(0, min(int(seconds), MAX_VISIBILITY_SECONDS)),
        )
