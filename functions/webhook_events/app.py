"""Consumer of the table's stream: a post that ended (executed, failed, cancelled) becomes one
queued delivery per subscribed webhook. A failure retries the batch; events are deduplicated by
their id, so a repeated record queues nothing twice."""

from typing import Any

from post_scheduler.observability import logger, metrics, tracer
from post_scheduler.wiring import check_settings, webhook_events

check_settings("webhook_events")  # fail at cold start, naming any missing variable


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    queued = webhook_events().emit(event.get("Records") or [])
    if queued:
        logger.info("webhook deliveries queued", extra={"queued": queued})
    return {"queued": queued}
