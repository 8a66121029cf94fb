"""Consumer of the publisher's failure queue, where a post lands when its publish was retried
as often as allowed (the publish queue's redrive policy moves its message here, or Lambda's
on-failure destination sends the record of a direct invocation), and of the sweep's give-ups.
A post that never reached TikTok ends `failed` with the last error; one holding a TikTok
publish id is settled from TikTok's status first, never failed on our word alone."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from post_scheduler.observability import count, logger, metrics, tracer
from post_scheduler.wiring import check_settings, post_publisher, prime_for_snapshot

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

check_settings("publish_failures")  # fail at cold start, naming any missing variable

# Imported at the first invocation rather than at cold start: Powertools' batch processor and
# the publishing use case with its models (a give-up is never urgent). Under SnapStart they
# are imported during init, into the snapshot.
prime_for_snapshot("aws_lambda_powertools.utilities.batch", "post_scheduler.api.events")


@cache
def batch_processor() -> BatchProcessor:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

    return BatchProcessor(event_type=EventType.SQS)


def give_up(record: SQSRecord, lambda_context: Any = None) -> None:
    from post_scheduler.api.events import PublishMetrics, give_up_message

    figures = PublishMetrics()
    remaining = lambda_context.get_remaining_time_in_millis if lambda_context else None
    try:
        outcome = give_up_message(post_publisher(), record.body, remaining, figures)
    finally:
        for name in figures.events:
            count(name)
    logger.info("publish given up", extra=outcome.as_dict())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> Mapping[str, Any]:
    from aws_lambda_powertools.utilities.batch import process_partial_response

    return process_partial_response(
        event=event, record_handler=give_up, processor=batch_processor(), context=context
    )
