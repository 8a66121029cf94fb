"""Every five minutes: re-arm posts whose time passed without a publish (version-checked, under
their own schedule names), and hand those re-armed too often to the give-up consumer."""

from typing import Any

from post_scheduler.observability import count, logger, metrics, tracer
from post_scheduler.wiring import check_settings, prime_for_snapshot

check_settings("sweep")  # fail at cold start, naming any missing variable

# The use case (the publishing chain and its models) is imported at the first call; under
# SnapStart during init, into the snapshot.
prime_for_snapshot("post_scheduler.api.events")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from post_scheduler.api.events import sweep_missed_posts

    result = sweep_missed_posts(lambda: context.get_remaining_time_in_millis() > 10_000)
    if result.rearmed:
        count("MissedPostsRearmed", len(result.rearmed))
    if result.gave_up:
        count("SweepGaveUp", len(result.gave_up))
    return {"rearmed": result.rearmed, "gaveUp": result.gave_up}
