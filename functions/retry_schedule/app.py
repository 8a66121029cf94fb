"""POST /api/v1/schedule/{scheduleId}/retry: a failed post back to pending."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ok
from post_scheduler.api.params import ScheduleIdPath
from post_scheduler.models.requests import RetryScheduleRequest
from post_scheduler.models.responses import ScheduledPostDetail
from post_scheduler.observability import count, logger, tracer
from post_scheduler.wiring import check_settings, schedule_service

check_settings("retry_schedule")  # fail at cold start, naming any missing variable

api = JsonApi(idempotency_scope="retry_schedule")


@api.routes.post(
    "/api/v1/schedule/<scheduleId>/retry",
    summary="Retry a failed post",
    description=(
        "Put a `failed` post back to `pending` at `scheduledPublishTime` (the same rules as"
        " when creating; default: now plus the minimum lead). It counts against the plan's"
        " pending-post limit again (403 SCHEDULING_LIMIT_EXCEEDED). A post that is not failed"
        " is 409. If TikTok already holds a publish id for the post, the retry goes on with"
        " that publish rather than starting a second one. The body is optional."
    ),
    responses=docs.responses(
        docs.success(
            docs.Ok[ScheduledPostDetail],
            docs.ok_example({**docs.SCHEDULED_POST_DETAIL, "status": "pending", "attempts": 0}),
            "The post, pending again",
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
def retry_schedule(
    scheduleId: ScheduleIdPath,  # noqa: N803
    body: Annotated[RetryScheduleRequest | None, Body()] = None,
) -> Response[str]:
    service = schedule_service()
    schedule = service.retry(api.caller.user_id, scheduleId, body)
    logger.info("failed post retried", extra={"scheduleId": scheduleId})
    count("PostsRetried")
    return ok(service.detail(schedule).public())


lambda_handler = api.lambda_handler()
