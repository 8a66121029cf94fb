"""Publisher: consumes the publish queue, where each post's one-time schedule puts
`{scheduleId, userId, version}` in the minute before the post's time. The posts of a batch are
published at the same time, one thread each, every one at its own exact second and at most
once (domain/publishing/ per post, domain/publish_batch.py for the batch). A post that must
be retried is reported as a batch item failure: only its message comes back, after
PUBLISH_RETRY_DELAY_SECONDS, until the queue's redrive sends it to the give-up consumer.

An event that is not an SQS batch is one post's command from a schedule created before the
queue existed (Scheduler invoked this function directly); it is published the same way."""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TYPE_CHECKING, Any

from post_scheduler.observability import MetricUnit, logger, metrics, trace_http_client, tracer
from post_scheduler.wiring import check_settings, post_publisher, prime_for_snapshot

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import AsyncBatchProcessor
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from post_scheduler.api.events import PostResult

check_settings("publisher")  # fail at cold start, naming any missing variable

trace_http_client()

# Imported at the first invocation rather than at cold start (about half of this function's
# import time): Powertools' batch processor and the publishing use case with its models. A
# message normally arrives seconds before its post's second, so that first call spends the
# time while the post would wait anyway. Under SnapStart they are imported during init, into
# the snapshot.
_FIRST_CALL_IMPORTS = ("aws_lambda_powertools.utilities.batch", "post_scheduler.api.events")
prime_for_snapshot(*_FIRST_CALL_IMPORTS)

# One thread per post of a batch (the event source's BatchSize is at most this).
MAX_POSTS_PER_BATCH = 100
threads = ThreadPoolExecutor(max_workers=MAX_POSTS_PER_BATCH, thread_name_prefix="publish")


@cache
def batch_processor() -> AsyncBatchProcessor:
    from aws_lambda_powertools.utilities.batch import AsyncBatchProcessor, EventType

    return AsyncBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> Mapping[str, Any]:
    import asyncio

    from aws_lambda_powertools.utilities.batch import async_process_partial_response

    from post_scheduler.api.events import PostDeferred, publish_message, retry_later

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
        event=event, record_handler=publish_record, processor=batch_processor(), context=context
    )
    _report(results)
    return response


def _report(results: list[PostResult]) -> None:
    """The posts' figures as metrics, added here on the handler's thread."""
    from post_scheduler.api.events import outcome_summary

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
