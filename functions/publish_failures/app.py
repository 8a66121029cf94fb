"""Consumer of the publisher's on-failure destination: when Lambda has given up retrying a
publish, the post ends `failed` with the last error instead of staying pending forever."""

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from post_scheduler.domain.publishing import PublishCommand
from post_scheduler.observability import count, logger, metrics, tracer
from post_scheduler.wiring import post_publisher

processor = BatchProcessor(event_type=EventType.SQS)


def give_up(record: SQSRecord) -> None:
    failure = json.loads(record.body)
    command = PublishCommand.model_validate(failure.get("requestPayload") or {})
    response = failure.get("responsePayload") or {}
    error = f"{response.get('errorType', 'Error')}: {response.get('errorMessage', 'unknown')}"
    outcome = post_publisher().give_up(command, error)
    logger.info("publish given up", extra=outcome.as_dict())
    if outcome.result == "failed":
        count("PublishFailed")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=give_up, processor=processor, context=context
    )
