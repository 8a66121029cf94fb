"""GET /api/v1/videos/{videoId}: one of the caller's videos (fresh upload URLs while uploading)."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ok
from post_scheduler.models.fields import ID_PATTERN
from post_scheduler.models.videos import VideoView
from post_scheduler.observability import tracer
from post_scheduler.wiring import check_settings, video_service

check_settings("get_video")  # fail at cold start, naming any missing variable

api = JsonApi()

VideoIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="Video ID")]


@api.routes.get(
    "/api/v1/videos/<videoId>",
    summary="Get a video",
    description="One of the user's videos; while it is `uploading`, with fresh upload URLs.",
    responses=docs.responses(
        docs.success(docs.Ok[VideoView], docs.ok_example(docs.VIDEO), "The video"),
        404,
        messages={404: "video not found"},
    ),
    tags=["Videos"],
)
@tracer.capture_method
def get_video(videoId: VideoIdPath) -> Response[str]:  # noqa: N803
    return ok(video_service().get(api.caller.user_id, videoId).public())


lambda_handler = api.lambda_handler()
