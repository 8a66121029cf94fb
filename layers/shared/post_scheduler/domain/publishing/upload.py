"""Streaming the video to TikTok in its chunks, resuming from TikTok's own count: a range
mismatch (HTTP 416, or a reply lost) continues from what TikTok holds."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from post_scheduler.domain.errors import (
    ChunkLengthError,
    TikTokPermanentError,
    TikTokTransientError,
    TikTokUploadExpired,
    TikTokUploadRangeError,
    VideoChanged,
    VideoMissing,
    VideoReadError,
)
from post_scheduler.domain.publishing.confirmation import ConfirmingRun
from post_scheduler.domain.publishing.models import PublishFailed, describe

if TYPE_CHECKING:
    from post_scheduler.domain.chunks import ChunkPlan
    from post_scheduler.domain.ports import ChunkReaderPort


class UploadingRun(ConfirmingRun):
    """A claimed run's upload of the video's bytes."""

    def _upload(self, key: str, content_type: str, plan: ChunkPlan, start_offset: int) -> None:
        ranges = list(plan.ranges())
        url = self.post.uploadUrl
        if url is None:
            raise PublishFailed("TikTok's upload address was lost; the post cannot resume")
        index = next((i for i, (first, _) in enumerate(ranges) if first >= start_offset), None)
        reader = self.p.videos.sequential_reader(key, self.post.videoEtag, self.video_version)
        try:
            self._upload_chunks(reader, url, content_type, plan, ranges, index)
        finally:
            reader.close()

    def _upload_chunks(
        self,
        reader: ChunkReaderPort,
        url: str,
        content_type: str,
        plan: ChunkPlan,
        ranges: list[tuple[int, int]],
        index: int | None,
    ) -> None:
        attempt = 0
        range_errors = 0
        while index is not None and index < len(ranges):
            expires = self.post.uploadUrlExpiresAt
            if expires is not None and self.clock.now() >= expires:
                raise PublishFailed(
                    "TikTok's one-hour upload window closed before the video was uploaded"
                )
            self._ensure_time("uploading")
            first, last = ranges[index]
            try:
                progress = self.p.tiktok.upload_chunk(
                    url,
                    reader.chunk(first, last),
                    first,
                    last,
                    plan.video_size,
                    content_type,
                )
            except TikTokUploadRangeError as mismatch:
                # TikTok holds a different amount than we thought: continue from its count,
                # at once the first time (a lost reply), with backoff if it keeps happening.
                range_errors += 1
                if mismatch.received_through is not None:
                    held = mismatch.received_through + 1
                else:
                    # No Content-Range in the reply: ask TikTok's status how much it holds.
                    held = self._status().uploaded_bytes or 0
                if range_errors > 1 or mismatch.received_through is None:
                    self._backoff(range_errors, mismatch)
                index = next((i for i, (f, _) in enumerate(ranges) if f >= held), None)
                continue
            except TikTokUploadExpired:
                raise PublishFailed(
                    "TikTok's one-hour upload window closed before the video was uploaded"
                ) from None
            except VideoChanged:
                raise PublishFailed(
                    "the video file was replaced while it was being published"
                ) from None
            except VideoMissing:
                raise PublishFailed("the video file is missing from storage") from None
            except (TikTokTransientError, VideoReadError, ChunkLengthError) as error:
                attempt += 1
                self._backoff(attempt, error)
                continue
            except TikTokPermanentError as error:
                raise PublishFailed(f"TikTok refused the upload: {describe(error)}") from None
            attempt = 0
            range_errors = 0
            self.metrics.uploaded_bytes += last - first + 1
            self._record_progress(last + 1, final=progress.complete)
            if progress.complete:
                return
            index += 1
        # TikTok's own count says it holds every byte (a reply was lost after the last chunk).
        self._record_progress(plan.video_size, final=True)

    def _record_progress(self, uploaded: int, final: bool) -> None:
        """Keep `uploadedBytes` for people watching, writing it at most every few seconds: a
        resumed run takes its starting point from TikTok's own count, not from this."""
        now = self.clock.now()
        self.post = self.post.model_copy(update={"uploadedBytes": uploaded})
        due = self._progress_written + timedelta(seconds=self.config.progress_write_seconds)
        if final:
            self.post = self.p.store.checkpoint(
                self.post, self.token, uploadedBytes=uploaded, uploadCompletedAt=now, updatedAt=now
            )
            self._progress_written = now
        elif now >= due:
            self.post = self.p.store.checkpoint(
                self.post, self.token, uploadedBytes=uploaded, updatedAt=now
            )
            self._progress_written = now
