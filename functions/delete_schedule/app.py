"""DELETE /api/v1/schedule/{scheduleId}: delete a post (a pending one frees its plan slot)."""

from post_scheduler.api.http import JsonApi, ok
from post_scheduler.api.params import ScheduleIdPath
from post_scheduler.observability import count, logger, tracer
from post_scheduler.wiring import schedule_service

api = JsonApi()


@api.routes.delete("/api/v1/schedule/<scheduleId>", summary="Delete Scheduled Post")
@tracer.capture_method
def delete_schedule(scheduleId: ScheduleIdPath):  # type: ignore[no-untyped-def]  # noqa: N803
    deleted = schedule_service().delete(api.caller.user_id, scheduleId)
    logger.info("post deleted", extra={"scheduleId": scheduleId})
    count("PostsDeleted")
    return ok({"scheduleId": deleted.scheduleId, "deleted": True})


lambda_handler = api.lambda_handler()
