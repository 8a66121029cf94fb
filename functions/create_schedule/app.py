"""POST /api/v1/schedule/create and POST /api/v1/schedule: schedule a video."""

from aws_lambda_powertools.event_handler import Response

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ok
from post_scheduler.models.requests import CreateScheduleRequest
from post_scheduler.models.responses import CreatedSchedule
from post_scheduler.observability import count, logger, tracer
from post_scheduler.wiring import check_settings, schedule_service

check_settings("create_schedule")  # fail at cold start, naming any missing variable

api = JsonApi(idempotency_scope="create_schedule")

DESCRIPTION = (
    "Schedule a video for future publication: one of your `ready` videos to one of your TikTok"
    " accounts, at least 15 minutes ahead (the deployment's minimum lead), at an exact UTC"
    " second. Optional `title` and `hashtags` form the caption (together at most 2200"
    " characters, counted in UTF-16 units as TikTok does); `options` are TikTok's post"
    " settings. A video can have one pending post. Basic and Professional plans only, up to"
    " 10 or 50 pending posts."
)
RESPONSES = docs.responses(
    docs.success(
        docs.Ok[CreatedSchedule], docs.ok_example(docs.CREATED_SCHEDULE), "The post is scheduled"
    ),
    403,
    404,
    409,
    422,
    body=True,
    messages={404: "video not found"},
)


@api.routes.post(
    "/api/v1/schedule/create",
    summary="Create Scheduled Post",
    description=DESCRIPTION,
    responses=RESPONSES,
    tags=["Scheduling"],
)
@api.routes.post(
    "/api/v1/schedule",
    summary="Create Scheduled Post (base endpoint)",
    description=f"The reference's base endpoint, as /api/v1/schedule/create. {DESCRIPTION}",
    responses=RESPONSES,
    tags=["Scheduling"],
)
@tracer.capture_method
def create_schedule(body: CreateScheduleRequest) -> Response[str]:
    schedule = schedule_service().create(api.caller.user_id, body)
    logger.info("post scheduled", extra={"scheduleId": schedule.scheduleId})
    count("PostsCreated")
    return ok(CreatedSchedule.of(schedule).model_dump())


lambda_handler = api.lambda_handler()
