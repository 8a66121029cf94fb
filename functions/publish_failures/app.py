"""Consumer of the publisher's failure queue: when a post's publish was retried as often as
allowed (the publish queue's redrive policy moves its message here, or Lambda's on-failure
destination sends the record of a direct invocation), the post ends `failed` with the last
error instead of staying pending forever."""

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
    publisher = post_publisher()
    if "requestPayload" in failure:  # Lambda's invocation record (a direct invocation)
        command = PublishCommand.model_validate(failure.get("requestPayload") or {})
        response = failure.get("responsePayload") or {}
        error = f"{response.get('errorType', 'Error')}: {response.get('errorMessage', 'unknown')}"
    else:  # the post's own message, moved here by the publish queue's redrive policy
        command = PublishCommand.model_validate(failure)
        post = publisher.store.get(command.userId, command.scheduleId)
        error = (post.lastError if post is not None else None) or "no error was recorded"
    outcome = publisher.give_up(command, error)
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
