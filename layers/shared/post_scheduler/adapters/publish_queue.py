"""The publish queue, from the publisher's side: a post that must be retried comes back after
the retry delay instead of the queue's visibility timeout (which covers a whole invocation)."""

from __future__ import annotations

import logging

from botocore.exceptions import BotoCoreError, ClientError

from post_scheduler.adapters.aws import aws_client
from post_scheduler.settings import get_settings

logger = logging.getLogger(__name__)


def retry_later(receipt_handle: str, delay_seconds: int | None = None) -> None:
    """Make the message visible again after `delay_seconds` (default
    PUBLISH_RETRY_DELAY_SECONDS). Best effort: if this fails, the message still comes back
    after the queue's visibility timeout."""
    settings = get_settings()
    if not settings.publish_queue_url:
        return
    delay = settings.publish_retry_delay_seconds if delay_seconds is None else delay_seconds
    try:
        aws_client("sqs").change_message_visibility(
            QueueUrl=settings.publish_queue_url,
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=max(0, min(delay, 43_200)),
        )
    except (ClientError, BotoCoreError) as error:
        logger.warning("could not shorten the retry delay", extra={"error": str(error)[:300]})
