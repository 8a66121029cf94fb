"""DELETE /api/v1/videos/{videoId}: delete a video and its file (409 while a post uses it)."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ok
from post_scheduler.models.fields import ID_PATTERN
from post_scheduler.observability import count, logger, tracer
from post_scheduler.wiring import check_settings, video_service

check_settings("delete_video")  # fail at cold start, naming any missing variable

api = JsonApi()


class DeletedVideo(BaseModel):
    """The deleted video."""

    model_config = docs.DEFERRED

    id: str
    deleted: Literal[True]


VideoIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="Video ID")]


@api.routes.delete(
    "/api/v1/videos/<videoId>",
    summary="Delete a video",
    description="Deletes the video and its file; refused (409) while a pending post uses it.",
    responses=docs.responses(
        docs.success(
            docs.Ok[DeletedVideo],
            docs.ok_example({"id": docs.VIDEO_ID, "deleted": True}),
            "The video is deleted",
        ),
        404,
        409,
        messages={404: "video not found"},
    ),
    tags=["Videos"],
)
@tracer.capture_method
def delete_video(videoId: VideoIdPath) -> Response[str]:  # noqa: N803
    video_service().delete(api.caller.user_id, videoId)
    logger.info("video deleted", extra={"videoId": videoId})
    count("VideosDeleted")
    return ok({"id": videoId, "deleted": True})


lambda_handler = api.lambda_handler()
