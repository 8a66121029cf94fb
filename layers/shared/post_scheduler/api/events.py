"""Entry points of the functions that consume events rather than HTTP requests: the publish
queue, the publisher's failure queue and the five-minute sweep. Handlers call these so that they
import no domain or adapter module themselves."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from post_scheduler.adapters.give_up_queue import SWEEP_GAVE_UP
from post_scheduler.adapters.publish_queue import retry_later as retry_later
from post_scheduler.domain.publish_batch import PostDeferred as PostDeferred
from post_scheduler.domain.publish_batch import PostResult as PostResult
from post_scheduler.domain.publish_batch import outcome_summary as outcome_summary
from post_scheduler.domain.publish_batch import publish_message as publish_message
from post_scheduler.domain.publishing import PublishCommand, PublishOutcome
from post_scheduler.domain.publishing import PublishMetrics as PublishMetrics

if TYPE_CHECKING:
    from post_scheduler.domain.publishing import PostPublisher
    from post_scheduler.domain.sweep import SweepResult


def give_up_message(
    publisher: PostPublisher,
    body: str,
    remaining_ms: Callable[[], int] | None,
    figures: PublishMetrics,
) -> PublishOutcome:
    """Settle the post a failure-queue message names: Lambda's invocation record, the sweep's
    give-up, or the post's own message moved by the publish queue's redrive policy."""
    failure = json.loads(body)
    final = False
    if "requestPayload" in failure:  # Lambda's invocation record, or the sweep's give-up
        command = PublishCommand.model_validate(failure.get("requestPayload") or {})
        response = failure.get("responsePayload") or {}
        error = f"{response.get('errorType', 'Error')}: {response.get('errorMessage', 'unknown')}"
        if response.get("errorType") == SWEEP_GAVE_UP:
            error = str(response.get("errorMessage", "the sweep gave up"))
            final = True
    else:  # the post's own message, moved here by the publish queue's redrive policy
        command = PublishCommand.model_validate(failure)
        post = publisher.store.get(command.userId, command.scheduleId)
        error = (post.lastError if post is not None else None) or "no error was recorded"
    return publisher.give_up(
        command, error, remaining_ms=remaining_ms, final=final, metrics=figures
    )


def sweep_missed_posts(has_time: Callable[[], bool]) -> SweepResult:
    """Re-arm the posts whose time passed without a publish; give up on those re-armed too
    often."""
    from post_scheduler.domain.sweep import rearm_missed_posts
    from post_scheduler.timestamps import utc_now
    from post_scheduler.wiring import give_up_queue, publication_store, publish_scheduler

    return rearm_missed_posts(
        publication_store(),
        publish_scheduler(),
        utc_now(),
        give_up=give_up_queue().send,
        has_time=has_time,
    )
