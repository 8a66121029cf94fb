"""GET /api/v1/videos: the caller's videos, paged."""

from post_scheduler.api.http import JsonApi, ok
from post_scheduler.api.params import DEFAULT_PAGE_SIZE, PageLimit, PageToken
from post_scheduler.models.records import VideoRecord
from post_scheduler.models.responses import VideoItem
from post_scheduler.observability import tracer
from post_scheduler.wiring import scheduling_table

api = JsonApi()


@api.routes.get("/api/v1/videos", summary="List videos")
@tracer.capture_method
def list_videos(limit: PageLimit = DEFAULT_PAGE_SIZE, next_token: PageToken = None):  # type: ignore[no-untyped-def]
    videos, token = scheduling_table().list_user_items(
        api.caller.user_id, "VIDEO#", VideoRecord, limit, next_token
    )
    return ok([VideoItem.of(v).model_dump() for v in videos], token)


lambda_handler = api.lambda_handler()
