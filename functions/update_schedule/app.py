"""PUT /api/v1/schedule/{scheduleId}: move, re-caption, cancel, re-activate or mark executed."""

from datetime import UTC, datetime

from aws_lambda_powertools.event_handler import Response

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ok
from post_scheduler.api.params import ScheduleIdPath
from post_scheduler.models.requests import UpdateScheduleRequest
from post_scheduler.models.responses import ScheduledVideo
from post_scheduler.observability import count, logger, tracer
from post_scheduler.wiring import check_settings, schedule_service

check_settings("update_schedule")  # fail at cold start, naming any missing variable

api = JsonApi(idempotency_scope="update_schedule")


@api.routes.put(
    "/api/v1/schedule/<scheduleId>",
    summary="Update Scheduled Post",
    description=(
        "Update a scheduled post before it publishes: send at least one of"
        " `scheduledPublishTime` (the same rules as when creating), `status` (`pending`"
        " re-activates a cancelled post and counts against the plan again, `cancelled` frees"
        " its plan slot, `executed` marks it published elsewhere), `title`, `hashtags`,"
        " `options`. The post's schedule follows. Answers the updated post as the list shows"
        " it; an executed post cannot be changed (409)."
    ),
    responses=docs.responses(
        docs.success(
            docs.Ok[ScheduledVideo], docs.ok_example(docs.SCHEDULED_VIDEO), "The updated post"
        ),
        403,
        404,
        409,
        422,
        body=True,
    ),
    tags=["Scheduling"],
)
@tracer.capture_method
def update_schedule(scheduleId: ScheduleIdPath, body: UpdateScheduleRequest) -> Response[str]:  # noqa: N803
    service = schedule_service()
    started = datetime.now(UTC)
    schedule = service.update(api.caller.user_id, scheduleId, body)
    if schedule.cancelledAt is not None and schedule.cancelledAt >= started:
        count("PostsCancelled")  # cancelled by this request, not before
    logger.info("post updated", extra={"scheduleId": scheduleId, "status": schedule.status})
    return ok(service.view(schedule).public())


lambda_handler = api.lambda_handler()
