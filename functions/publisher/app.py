"""Publisher: consumes the publish queue, where each post's one-time schedule puts
`{scheduleId, userId, version}` in the minute before the post's time. The posts of a batch are
published at the same time, one thread each, every one at its own exact second and at most
once (domain/publishing.py per post, domain/publish_batch.py for the batch). A post that must
be retried is reported as a batch item failure: only its message comes back, after
PUBLISH_RETRY_DELAY_SECONDS, until the queue's redrive sends it to the give-up consumer.

An event that is not an SQS batch is one post's command from a schedule created before the
queue existed (Scheduler invoked this function directly); it is published the same way."""

import asyncio
import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from post_scheduler.api.events import (
    PostDeferred,
    PostResult,
    outcome_summary,
    publish_message,
    retry_later,
)
from post_scheduler.observability import MetricUnit, logger, metrics, trace_http_client, tracer
from post_scheduler.wiring import check_settings, post_publisher

check_settings("publisher")  # fail at cold start, naming any missing variable

trace_http_client()

# One thread per post of a batch (the event source's BatchSize is at most this).
MAX_POSTS_PER_BATCH = 100
processor = AsyncBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
threads = ThreadPoolExecutor(max_workers=MAX_POSTS_PER_BATCH, thread_name_prefix="publish")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> Mapping[str, Any]:
    publisher = post_publisher()
    remaining_ms = context.get_remaining_time_in_millis
    if "Records" not in event:
        # A direct invocation cannot be brought back later: it waits for the second.
        result = publish_message(
            publisher, "direct", json.dumps(event), remaining_ms, gather_seconds=None
        )
        _report([result])
        if result.error is not None:
            raise result.error  # Lambda's asynchronous retries take over
        assert result.outcome is not None
        return result.outcome.as_dict()

    results: list[PostResult] = []

    async def publish_record(record: SQSRecord) -> dict[str, Any]:
        result = await asyncio.get_running_loop().run_in_executor(
            threads, publish_message, publisher, record.message_id, record.body, remaining_ms
        )
        results.append(result)
        if result.error is not None:
            retry_later(record.receipt_handle)
            raise result.error
        assert result.outcome is not None
        if result.outcome.retry_in_seconds is not None:
            # Not yet: back on the queue until shortly before its second.
            retry_later(record.receipt_handle, result.outcome.retry_in_seconds)
            raise PostDeferred(result.outcome.detail)
        return result.outcome.as_dict()

    response = async_process_partial_response(
        event=event, record_handler=publish_record, processor=processor, context=context
    )
    _report(results)
    return response


def _report(results: list[PostResult]) -> None:
    """The posts' figures as metrics, added here on the handler's thread."""
    for result in results:
        figures = result.metrics
        for name in figures.events:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        if figures.lag_seconds is not None:
            metrics.add_metric(
                name="PublishLag", unit=MetricUnit.Seconds, value=figures.lag_seconds
            )
        if figures.uploaded_bytes:
            metrics.add_metric(
                name="UploadBytes", unit=MetricUnit.Bytes, value=figures.uploaded_bytes
            )
    logger.info("publisher finished", extra=outcome_summary(results))
