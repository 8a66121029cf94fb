"""Videos: the item with the one-pending-post lock and the upload's bookkeeping."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from post_scheduler.adapters.table.base import TableBase
from post_scheduler.adapters.table.codec import expression_values, from_item, record, to_item
from post_scheduler.adapters.table.layout import VIDEO_PREFIX, video_key
from post_scheduler.errors import Conflict, NotFound
from post_scheduler.models.records import VideoRecord
from post_scheduler.models.videos import VideoFileRecord


class Videos(TableBase):
    """The users' videos."""

    def get_video(self, user_id: str, video_id: str) -> VideoRecord | None:
        return record(VideoRecord, self._get(video_key(user_id, video_id)))

    def put_video(self, video: VideoRecord) -> None:
        self.client.put_item(
            TableName=self.name,
            Item=to_item(video, video_key(video.userId, video.videoId), entity="video"),
        )

    def list_videos(
        self, user_id: str, limit: int, page_token: str | None
    ) -> tuple[list[VideoFileRecord], str | None]:
        """A page of the user's videos, by id."""
        return self.list_user_items(user_id, VIDEO_PREFIX, VideoFileRecord, limit, page_token)

    def create_video(self, video: VideoFileRecord) -> None:
        """Write a new video (normally `uploading`); its id must be new."""
        self.client.put_item(
            TableName=self.name,
            Item=to_item(video, video_key(video.userId, video.videoId), entity="video"),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def get_video_file(self, user_id: str, video_id: str) -> VideoFileRecord | None:
        """The video with its upload bookkeeping."""
        return record(VideoFileRecord, self._get(video_key(user_id, video_id)))

    def finish_video_upload(
        self,
        user_id: str,
        video_id: str,
        *,
        accepted: bool,
        reason: str | None,
        etag: str | None,
        now: datetime,
        version_id: str | None = None,
        duration_seconds: float | None = None,
    ) -> VideoFileRecord | None:
        """Move an `uploading` video to `ready` (or `rejected` with a reason). None when the
        video is gone or was already decided (S3 events may arrive twice)."""
        sets = ["#status = :status"]
        values: dict[str, Any] = {"uploading": "uploading"}
        if accepted:
            sets += ["readyAt = :now", "objectETag = :etag"]
            values.update(status="ready", now=now, etag=etag or "")
            if version_id:
                sets.append("objectVersionId = :version")
                values["version"] = version_id
            if duration_seconds is not None:
                sets.append("durationSeconds = :duration")
                values["duration"] = Decimal(str(round(duration_seconds, 3)))
        else:
            sets.append("statusReason = :reason")
            values.update(status="rejected", reason=reason or "rejected")
        try:
            response = self.client.update_item(
                TableName=self.name,
                Key=video_key(user_id, video_id),
                UpdateExpression=f"SET {', '.join(sets)} REMOVE uploadId, expiresAt",
                ConditionExpression="attribute_exists(pk) AND #status = :uploading",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=expression_values(**values),
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        return record(VideoFileRecord, response["Attributes"])

    def delete_video(self, user_id: str, video_id: str) -> VideoFileRecord:
        """Delete a video no pending post uses (one condition, so a post created meanwhile
        either sees the video gone or keeps it)."""
        try:
            response = self.client.delete_item(
                TableName=self.name,
                Key=video_key(user_id, video_id),
                ConditionExpression=(
                    "attribute_exists(pk) AND attribute_not_exists(pendingScheduleId)"
                ),
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            old = exc.response.get("Item")
            if old is None:
                raise NotFound("video not found") from None
            raise Conflict(
                "a pending scheduled post uses this video; cancel or delete that post first",
                {"videoId": video_id, "scheduleId": from_item(old).get("pendingScheduleId")},
            ) from None
        deleted = record(VideoFileRecord, response["Attributes"])
        assert deleted is not None
        return deleted
