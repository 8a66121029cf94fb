"""POST /api/v1/videos/{videoId}/complete: the file is uploaded; check it now."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ok
from post_scheduler.models.fields import ID_PATTERN
from post_scheduler.models.videos import CompleteUploadRequest, VideoView
from post_scheduler.observability import count, logger, tracer
from post_scheduler.wiring import check_settings, video_service

check_settings("complete_video_upload")  # fail at cold start, naming any missing variable

api = JsonApi()

VideoIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="Video ID")]


@api.routes.post(
    "/api/v1/videos/<videoId>/complete",
    summary="Complete a video upload",
    description=(
        "Multipart uploads: assembles the parts (list each partNumber with the ETag S3 returned)."
        " Then checks the file and answers the video as `ready` or `rejected`. 409 while no file"
        " has been uploaded; a video already decided is answered as it is."
    ),
    responses=docs.responses(
        docs.success(
            docs.Ok[VideoView], docs.ok_example(docs.VIDEO), "The video, `ready` or `rejected`"
        ),
        404,
        409,
        body=True,
        messages={404: "video not found"},
    ),
    tags=["Videos"],
)
@tracer.capture_method
def complete_video_upload(videoId: VideoIdPath, body: CompleteUploadRequest) -> Response[str]:  # noqa: N803
    video = video_service().complete(api.caller.user_id, videoId, body.parts)
    logger.info("video upload completed", extra={"videoId": videoId, "status": video.status})
    count("VideoUploadsCompleted")
    return ok(video.public())


lambda_handler = api.lambda_handler()
