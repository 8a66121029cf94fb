"""POST /api/v1/schedule/create and POST /api/v1/schedule: schedule a video."""

from post_scheduler.api.http import JsonApi, ok
from post_scheduler.models.requests import CreateScheduleRequest
from post_scheduler.models.responses import CreatedSchedule
from post_scheduler.observability import count, logger, tracer
from post_scheduler.wiring import schedule_service

api = JsonApi()


@api.routes.post("/api/v1/schedule/create", summary="Create Scheduled Post")
@api.routes.post("/api/v1/schedule", summary="Create Scheduled Post (base endpoint)")
@tracer.capture_method
def create_schedule(body: CreateScheduleRequest):  # type: ignore[no-untyped-def]
    schedule = schedule_service().create(api.caller.user_id, body)
    logger.info("post scheduled", extra={"scheduleId": schedule.scheduleId})
    count("PostsCreated")
    return ok(CreatedSchedule.of(schedule).model_dump())


lambda_handler = api.lambda_handler()
