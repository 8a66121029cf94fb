"""The publisher's on-failure queue, written to by the sweep: a post the sweep re-armed too often
is handed to the same give-up consumer Lambda uses once its retries run out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from post_scheduler.adapters.aws import aws_client
from post_scheduler.errors import DependencyUnavailable
from post_scheduler.models.records import DueEntry, ScheduleRecord

# `responsePayload.errorType` of the sweep's records: the consumer then ends the post for good.
SWEEP_GAVE_UP = "SweepGaveUp"


class GiveUpQueue:
    """Sends give-up records shaped like Lambda's on-failure destination records."""

    def __init__(self, queue_url: str, client: Any = None) -> None:
        self.queue_url = queue_url
        self.client = client if client is not None else aws_client("sqs")

    def send(self, post: DueEntry | ScheduleRecord, reason: str) -> None:
        record = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "requestContext": {"condition": SWEEP_GAVE_UP},
            "requestPayload": {
                "scheduleId": post.scheduleId,
                "userId": post.userId,
                "version": post.version,
            },
            "responsePayload": {"errorType": SWEEP_GAVE_UP, "errorMessage": reason},
        }
        try:
            self.client.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(record))
        except (ClientError, BotoCoreError) as exc:
            raise DependencyUnavailable("could not hand the post to the give-up queue") from exc
