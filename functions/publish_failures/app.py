"""Consumer of the publisher's on-failure destination (and of the sweep's give-ups): a post that
never reached TikTok ends `failed` with the last error; one holding a TikTok publish id is
settled from TikTok's status first, never failed on our word alone."""

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from post_scheduler.adapters.give_up_queue import SWEEP_GAVE_UP
from post_scheduler.domain.publishing import PublishCommand, PublishMetrics
from post_scheduler.observability import count, logger, metrics, tracer
from post_scheduler.wiring import post_publisher

processor = BatchProcessor(event_type=EventType.SQS)


def give_up(record: SQSRecord, lambda_context: Any = None) -> None:
    failure = json.loads(record.body)
    command = PublishCommand.model_validate(failure.get("requestPayload") or {})
    response = failure.get("responsePayload") or {}
    error = f"{response.get('errorType', 'Error')}: {response.get('errorMessage', 'unknown')}"
    if response.get("errorType") == SWEEP_GAVE_UP:
        error = str(response.get("errorMessage", "the sweep gave up"))
    figures = PublishMetrics()
    remaining = lambda_context.get_remaining_time_in_millis if lambda_context else None
    try:
        outcome = post_publisher().give_up(
            command,
            error,
            remaining_ms=remaining,
            final=response.get("errorType") == SWEEP_GAVE_UP,
            metrics=figures,
        )
    finally:
        for name in figures.events:
            count(name)
    logger.info("publish given up", extra=outcome.as_dict())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=give_up, processor=processor, context=context
    )
