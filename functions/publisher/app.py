"""Publisher: invoked by the post's one-time schedule with `{scheduleId, userId, version}`;
publishes the post to TikTok at its exact second, at most once (see domain/publishing.py)."""

from typing import Any

from pydantic import ValidationError

from post_scheduler.domain.publishing import PublishCommand, PublishMetrics
from post_scheduler.observability import MetricUnit, logger, metrics, trace_http_client, tracer
from post_scheduler.wiring import post_publisher

trace_http_client()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        command = PublishCommand.model_validate(event)
    except ValidationError:
        # Retrying cannot fix a malformed event; it names no post we could mark failed.
        logger.error("malformed publisher event", extra={"keys": sorted(event)[:10]})
        return {"result": "skipped", "detail": "malformed event"}
    logger.append_keys(scheduleId=command.scheduleId, version=command.version)
    figures = PublishMetrics()
    try:
        outcome = post_publisher().publish(command, context.get_remaining_time_in_millis, figures)
    finally:
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
    logger.info("publisher finished", extra=outcome.as_dict())
    return outcome.as_dict()
