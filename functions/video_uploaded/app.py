"""S3 ObjectCreated on the video bucket: check the new file and settle its video (`ready`, or
`rejected` with the reason). Repeated events change nothing."""

from typing import Any
from urllib.parse import unquote_plus

from post_scheduler.observability import count, logger, metrics, tracer
from post_scheduler.wiring import check_settings, video_service

check_settings("video_uploaded")  # fail at cold start, naming any missing variable


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    settled = 0
    for record in event.get("Records") or []:
        s3 = record.get("s3") or {}
        bucket = (s3.get("bucket") or {}).get("name")
        key = (s3.get("object") or {}).get("key")
        version_id = (s3.get("object") or {}).get("versionId")
        if not bucket or not key:
            logger.warning(
                "S3 record without bucket or key", extra={"eventName": record.get("eventName")}
            )
            continue
        # Keys arrive URL-encoded, spaces as '+'.
        count("VideoUploadEvents")
        video = video_service(bucket).object_created(unquote_plus(key), version_id)
        if video is not None:
            logger.info("video settled", extra={"videoId": video.videoId, "status": video.status})
            settled += 1
    return {"settled": settled}
