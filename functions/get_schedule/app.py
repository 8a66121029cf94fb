"""GET /api/v1/schedule/{scheduleId}: one of the caller's posts with its publishing state."""

from aws_lambda_powertools.event_handler import Response

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ok
from post_scheduler.api.params import ScheduleIdPath
from post_scheduler.models.responses import ScheduledPostDetail
from post_scheduler.observability import tracer
from post_scheduler.wiring import check_settings, schedule_service

check_settings("get_schedule")  # fail at cold start, naming any missing variable

api = JsonApi()


@api.routes.get(
    "/api/v1/schedule/<scheduleId>",
    summary="Get one scheduled post",
    description=(
        "One of your posts, shaped as a list item (nested `video` and `tiktokAccount`) plus its"
        " whole publishing state: `attempts`, `publishStartedAt`, `executedAt`,"
        " `tiktokPublishId` (from TikTok's init on), `failureReason`, and `upload` progress"
        " while it is publishing. Another user's post is 404."
    ),
    responses=docs.responses(
        docs.success(
            docs.Ok[ScheduledPostDetail],
            docs.ok_example(docs.SCHEDULED_POST_DETAIL),
            "The post",
        ),
        404,
    ),
    tags=["Scheduling"],
)
@tracer.capture_method
def get_schedule(scheduleId: ScheduleIdPath) -> Response[str]:  # noqa: N803
    return ok(schedule_service().get(api.caller.user_id, scheduleId).public())


lambda_handler = api.lambda_handler()
