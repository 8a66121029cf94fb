"""GET /api/v1/videos: the caller's videos, paged."""

from aws_lambda_powertools.event_handler import Response

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ok
from post_scheduler.api.params import DEFAULT_PAGE_SIZE, PageLimit, PageToken
from post_scheduler.models.videos import VideoView
from post_scheduler.observability import tracer
from post_scheduler.wiring import check_settings, scheduling_table

check_settings("list_videos")  # fail at cold start, naming any missing variable

api = JsonApi()


@api.routes.get(
    "/api/v1/videos",
    summary="List videos",
    description=(
        "The user's videos, a page at a time. A rejected video carries its `statusReason`;"
        " upload URLs are only in GET /api/v1/videos/{videoId}."
    ),
    responses=docs.responses(
        docs.success(docs.Page[VideoView], docs.page_example(docs.VIDEO), "A page of videos")
    ),
    tags=["Videos"],
)
@tracer.capture_method
def list_videos(
    limit: PageLimit = DEFAULT_PAGE_SIZE, next_token: PageToken = None
) -> Response[str]:
    videos, token = scheduling_table().list_videos(api.caller.user_id, limit, next_token)
    # A rejected video carries its statusReason; upload URLs are only in GET /videos/{id}.
    return ok([VideoView.of(v).public() for v in videos], token)


lambda_handler = api.lambda_handler()
