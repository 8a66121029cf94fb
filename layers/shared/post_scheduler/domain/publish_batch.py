"""Publishing a batch of posts in one invocation: each post still goes through
`PostPublisher.publish` on its own (its own wait to its second, claim, lease, retries and
outcome), but the posts of a batch run at the same time, one thread each, because a publish
is almost all waiting on TikTok and S3. So N posts due together need about N / batch size
concurrent executions instead of N, and one invocation's wait for the minute serves them all.

A post that raises is reported on its own (the handler turns it into an SQS batch item
failure, so only that message comes back); the others are not held up or retried.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from post_scheduler.domain.publishing import (
    PostPublisher,
    PublishCommand,
    PublishMetrics,
    PublishOutcome,
)

logger = logging.getLogger(__name__)


class PostDeferred(Exception):
    """The post is not due yet: its message is reported back to the queue, which returns it
    shortly before the post's second."""


@dataclass
class PostResult:
    """One message of the batch: its outcome, or the error that makes it come back later."""

    message_id: str
    outcome: PublishOutcome | None = None
    error: BaseException | None = None
    metrics: PublishMetrics = field(default_factory=PublishMetrics)


def parse_command(body: str) -> PublishCommand | None:
    """The publisher command a message carries (the schedule's Input), or None when it is
    malformed: retrying cannot fix it and it names no post we could mark failed."""
    try:
        return PublishCommand.model_validate(json.loads(body))
    except (ValueError, ValidationError):
        return None


# Schedules fire anywhere in the minute before a post (Scheduler's precision), so its message
# can come up to two minutes early. Rather than hold an execution for that long, a message due
# later than this comes back this long before its second: the posts of one second then arrive
# together, in full batches, and each execution waits only these few seconds.
GATHER_SECONDS = 5.0


def publish_message(
    publisher: PostPublisher,
    message_id: str,
    body: str,
    remaining_ms: Callable[[], int],
    gather_seconds: float | None = GATHER_SECONDS,
) -> PostResult:
    """Publish the post one message names; an error is kept in the result, for this message
    alone to come back later (a deferred post's outcome says when)."""
    result = PostResult(message_id)
    command = parse_command(body)
    if command is None:
        logger.error("malformed publisher message", extra={"messageId": message_id})
        result.outcome = PublishOutcome("skipped", "malformed event")
        return result
    try:
        result.outcome = publisher.publish(
            command, remaining_ms, result.metrics, gather_seconds=gather_seconds
        )
    except Exception as error:  # this post only: it comes back, the others go on
        logger.warning(
            "publish will be retried",
            extra={
                "scheduleId": command.scheduleId,
                "error": f"{type(error).__name__}: {error}"[:500],
            },
        )
        result.error = error
    return result


def outcome_summary(results: list[PostResult]) -> dict[str, Any]:
    """Counts by result, for the invocation's log line."""
    summary: dict[str, Any] = {"posts": len(results), "retry": 0}
    for result in results:
        if result.error is not None:
            summary["retry"] += 1
        elif result.outcome is not None:
            summary[result.outcome.result] = summary.get(result.outcome.result, 0) + 1
    return summary
