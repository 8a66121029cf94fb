"""POST /api/v1/videos: announce a video and get a presigned upload for its file."""

from aws_lambda_powertools.event_handler import Response

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ok
from post_scheduler.models.videos import CreateVideoRequest, VideoView
from post_scheduler.observability import count, logger, tracer
from post_scheduler.wiring import check_settings, video_service

check_settings("create_video")  # fail at cold start, naming any missing variable

api = JsonApi(idempotency_scope="create_video")


@api.routes.post(
    "/api/v1/videos",
    summary="Create a video (upload URL)",
    description=(
        "Creates a video in status `uploading` and answers how to upload its file before"
        " `upload.expiresAt`: files up to 100 MiB with one PUT of the whole file to `upload.url`"
        " (with the `upload.headers`), larger ones as a multipart upload: PUT each part's bytes"
        " to its URL, then POST `upload.completePath` with every part's ETag. Completing a"
        " single PUT upload (POST with `{}`) is optional: S3's event also settles the video."
        " The video becomes `ready` once its size and type match what was declared, else"
        " `rejected` with a `statusReason`. GET the video for fresh URLs."
    ),
    responses=docs.responses(
        docs.success(
            docs.Ok[VideoView],
            docs.ok_example(docs.UPLOADING_VIDEO),
            "The video, `uploading`, and how to upload its file",
        ),
        body=True,
    ),
    tags=["Videos"],
)
@tracer.capture_method
def create_video(body: CreateVideoRequest) -> Response[str]:
    video = video_service().create(api.caller.user_id, body)
    logger.info("video announced", extra={"videoId": video.id, "sizeBytes": video.sizeBytes})
    count("VideosCreated")
    return ok(video.public())


lambda_handler = api.lambda_handler()
