"""Every five minutes: re-arm pending posts whose time passed without a publish."""

from typing import Any

from post_scheduler.domain.sweep import rearm_missed_posts
from post_scheduler.observability import count, logger, metrics, tracer
from post_scheduler.timestamps import utc_now
from post_scheduler.wiring import publication_store, publish_scheduler


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rearmed = rearm_missed_posts(
        publication_store(),
        publish_scheduler(),
        utc_now(),
        has_time=lambda: context.get_remaining_time_in_millis() > 10_000,
    )
    if rearmed:
        count("MissedPostsRearmed", len(rearmed))
    return {"rearmed": rearmed}
