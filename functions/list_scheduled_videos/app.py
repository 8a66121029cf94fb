"""GET /api/v1/schedule/scheduled-videos: the caller's scheduled posts, paged."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ok
from post_scheduler.api.params import DEFAULT_PAGE_SIZE, PageLimit, PageToken
from post_scheduler.models.responses import ScheduledVideo
from post_scheduler.observability import tracer
from post_scheduler.wiring import check_settings, schedule_service

check_settings("list_scheduled_videos")  # fail at cold start, naming any missing variable

api = JsonApi()

StatusFilter = Annotated[
    Literal["pending", "executed", "cancelled", "failed"] | None,
    Query(description="Only posts with this status"),
]


@api.routes.get(
    "/api/v1/schedule/scheduled-videos",
    summary="Get Scheduled Videos",
    description=(
        "Get all scheduled videos of the authenticated user, soonest first, a page at a time."
        " An executed post carries `tiktokPublishId`, `publishStartedAt` and `executedAt`; a"
        " failed one `failureReason`."
    ),
    responses=docs.responses(
        docs.success(
            docs.Page[ScheduledVideo],
            docs.page_example(docs.SCHEDULED_VIDEO),
            "A page of the user's scheduled posts",
        )
    ),
    tags=["Scheduling"],
)
@tracer.capture_method
def list_scheduled_videos(
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    next_token: PageToken = None,
    status: StatusFilter = None,
) -> Response[str]:
    items, token = schedule_service().list_scheduled_videos(
        api.caller.user_id, limit, next_token, status
    )
    return ok([item.public() for item in items], token)


lambda_handler = api.lambda_handler()
