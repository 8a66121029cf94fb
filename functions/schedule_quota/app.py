"""GET /api/v1/schedule/quota: the caller's plan and its pending-post limit in use."""

from aws_lambda_powertools.event_handler import Response

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ok
from post_scheduler.models.responses import Quota
from post_scheduler.observability import tracer
from post_scheduler.wiring import check_settings, schedule_service

check_settings("schedule_quota")  # fail at cold start, naming any missing variable

api = JsonApi()


@api.routes.get(
    "/api/v1/schedule/quota",
    summary="Get your scheduling quota",
    description=(
        "Your plan, how many pending posts it allows at once (`limit`; 0 on the free plan),"
        " how many you have (`pending`) and how many more you may schedule (`remaining`)."
    ),
    responses=docs.responses(
        docs.success(
            docs.Ok[Quota],
            docs.ok_example({"plan": "basic", "limit": 10, "pending": 3, "remaining": 7}),
            "The quota",
        ),
    ),
    tags=["Scheduling"],
)
@tracer.capture_method
def schedule_quota() -> Response[str]:
    return ok(schedule_service().quota(api.caller.user_id).model_dump())


lambda_handler = api.lambda_handler()
