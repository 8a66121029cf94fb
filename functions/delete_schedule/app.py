"""DELETE /api/v1/schedule/{scheduleId}: delete a post (a pending one frees its plan slot)."""

from typing import Literal

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ok
from post_scheduler.api.params import ScheduleIdPath
from post_scheduler.observability import count, logger, tracer
from post_scheduler.wiring import check_settings, schedule_service

check_settings("delete_schedule")  # fail at cold start, naming any missing variable

api = JsonApi()


class DeletedSchedule(BaseModel):
    """The deleted post."""

    model_config = docs.DEFERRED

    scheduleId: str
    deleted: Literal[True]


@api.routes.delete(
    "/api/v1/schedule/<scheduleId>",
    summary="Delete Scheduled Post",
    description=(
        "Delete a post and its schedule; a pending post frees its plan slot and its video."
        " A post that is being published or was published cannot be deleted (409)."
    ),
    responses=docs.responses(
        docs.success(
            docs.Ok[DeletedSchedule],
            docs.ok_example({"scheduleId": docs.SCHEDULE_ID, "deleted": True}),
            "The post is deleted",
        ),
        404,
        409,
    ),
    tags=["Scheduling"],
)
@tracer.capture_method
def delete_schedule(scheduleId: ScheduleIdPath) -> Response[str]:  # noqa: N803
    deleted = schedule_service().delete(api.caller.user_id, scheduleId)
    logger.info("post deleted", extra={"scheduleId": scheduleId})
    count("PostsDeleted")
    return ok({"scheduleId": deleted.scheduleId, "deleted": True})


lambda_handler = api.lambda_handler()
