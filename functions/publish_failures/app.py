"""Consumer of the publisher's failure queue, where a post lands when its publish was retried
as often as allowed (the publish queue's redrive policy moves its message here, or Lambda's
on-failure destination sends the record of a direct invocation), and of the sweep's give-ups.
A post that never reached TikTok ends `failed` with the last error; one holding a TikTok
publish id is settled from TikTok's status first, never failed on our word alone."""

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from post_scheduler.api.events import PublishMetrics, give_up_message
from post_scheduler.observability import count, logger, metrics, tracer
from post_scheduler.wiring import check_settings, post_publisher

check_settings("publish_failures")  # fail at cold start, naming any missing variable

processor = BatchProcessor(event_type=EventType.SQS)


def give_up(record: SQSRecord, lambda_context: Any = None) -> None:
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
    return process_partial_response(
        event=event, record_handler=give_up, processor=processor, context=context
    )
