"""`PostPublisher`: one invocation for one post (read, wait for its second, claim, then start
or resume the TikTok publish), and the give-up path for events Lambda stopped retrying."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from post_scheduler.domain.chunks import ChunkPlan, plan_chunks
from post_scheduler.domain.errors import LeaseLost
from post_scheduler.domain.preflight import creator_info_snapshot, duration_problem
from post_scheduler.domain.publishing.models import (
    DONE_STATUSES,
    PRIVACY_PREFERENCE,
    Clock,
    PublishCommand,
    PublisherConfig,
    PublishFailed,
    PublishMetrics,
    PublishOutcome,
    SystemClock,
    TikTokRejected,
    describe,
    ended_record,
    needs_reconnection,
    rejected,
    skip_reason,
)
from post_scheduler.domain.publishing.upload import UploadingRun
from post_scheduler.domain.retry import retry_while
from post_scheduler.models.records import ScheduleRecord

if TYPE_CHECKING:
    from post_scheduler.domain.ports import (
        PublicationStorePort,
        TikTokPort,
        TokenCipherPort,
        VideoFilesPort,
    )
    from post_scheduler.domain.tiktok import CreatorInfo, TikTokAppCredentials

logger = logging.getLogger(__name__)


class PostPublisher:
    """Publishes scheduled posts; one instance serves many invocations."""

    def __init__(
        self,
        store: PublicationStorePort,
        videos: VideoFilesPort,
        tiktok: TikTokPort,
        cipher: TokenCipherPort,
        credentials: Callable[[], TikTokAppCredentials],
        config: PublisherConfig | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.videos = videos
        self.tiktok = tiktok
        self.cipher = cipher
        self.credentials = credentials
        self.config = config or PublisherConfig()
        self.clock = clock or SystemClock()

    def publish(
        self,
        command: PublishCommand,
        remaining_ms: Callable[[], int],
        metrics: PublishMetrics | None = None,
        gather_seconds: float | None = None,
    ) -> PublishOutcome:
        """One publisher invocation for one post. With `gather_seconds`, a post due later than
        that is not waited for but deferred until about that long before its second (the
        queue brings it back then, with the other posts of that second)."""
        metrics = metrics if metrics is not None else PublishMetrics()
        post = self.store.get(command.userId, command.scheduleId)
        skip = skip_reason(post, command)
        if skip or post is None:
            return PublishOutcome("skipped", skip or "post not found", command.scheduleId)

        wait = (post.scheduledPublishTime - self.clock.now()).total_seconds()
        if wait > self.config.max_early_seconds:
            return PublishOutcome(
                "skipped", f"fired {wait:.0f}s before the post's time", post.scheduleId
            )
        if gather_seconds is not None and wait - gather_seconds >= 1:
            return PublishOutcome(
                "deferred",
                f"due in {wait:.0f}s: comes back {gather_seconds:.0f}s before its second",
                post.scheduleId,
                retry_in_seconds=int(wait - gather_seconds),
            )
        if wait > 0:
            self.clock.sleep(wait)

        token = uuid.uuid4().hex

        def claim() -> ScheduleRecord | None:
            now = self.clock.now()
            lease_until = now + timedelta(milliseconds=remaining_ms())
            return self.store.claim(post, now, lease_until, token)

        # A throttled claim is retried: throttling must never cost the post its second.
        claimed = retry_while(claim, self.clock.sleep, self.store.is_throttling)
        if claimed is None:
            return PublishOutcome(
                "skipped", "claimed by another run, or changed meanwhile", post.scheduleId
            )
        if claimed.publishStartedAt is not None:
            metrics.lag_seconds = (
                claimed.publishStartedAt - claimed.scheduledPublishTime
            ).total_seconds()
        run = PublishRun(self, claimed, token, remaining_ms, metrics)
        return self._run(run, lambda: run.execute())

    def _run(self, run: PublishRun, step: Callable[[], PublishOutcome]) -> PublishOutcome:
        """Run a claimed step; every exit either ends the post or releases the claim."""
        try:
            try:
                return step()
            except PublishFailed as failure:
                return run.fail(failure)
        except LeaseLost:
            return PublishOutcome("skipped", "another run took the post over", run.post.scheduleId)
        except Exception as error:
            # Also when a failure write raised: the next attempt starts at once instead of
            # waiting for our lease to run out.
            try:
                self.store.release_lease(run.post, run.token, self.clock.now(), describe(error))
            except Exception:
                logger.exception(
                    "could not release the claim; it ends with the invocation's deadline",
                    extra={"scheduleId": run.post.scheduleId},
                )
            raise

    def give_up(
        self,
        command: PublishCommand,
        error: str,
        remaining_ms: Callable[[], int] | None = None,
        final: bool = False,
        metrics: PublishMetrics | None = None,
    ) -> PublishOutcome:
        """Lambda (or, with `final`, the sweep) gave up on this event. A post that never got a
        TikTok publish id ends `failed` with the error. One that has one is settled from
        TikTok's status: executed, failed with TikTok's reason, or (status unknown) left
        unconfirmed for later checks; with `final`, unconfirmed ends `failed` too, saying so.
        A post a live run holds, or that already ended, is left alone."""
        metrics = metrics if metrics is not None else PublishMetrics()
        post = self.store.get(command.userId, command.scheduleId)
        skip = skip_reason(post, command)
        if skip or post is None:
            return PublishOutcome("skipped", skip or "post not found", command.scheduleId)
        now = self.clock.now()
        if post.status == "publishing" and post.leaseExpiresAt and post.leaseExpiresAt > now:
            return PublishOutcome(
                "skipped", "a publisher run still holds the post", post.scheduleId
            )
        reason = f"publishing gave up after repeated failures: {error}"
        if post.tiktokPublishId is None:
            ended = ended_record(
                post, now, status="failed", failureReason=reason[:1000], failedAt=now
            )
            self.store.finish(post, None, ended, None)
            metrics.events.append("PublishFailed")
            return PublishOutcome("failed", reason, post.scheduleId)
        token = uuid.uuid4().hex
        lease_until = now + timedelta(seconds=self.config.give_up_lease_seconds)
        claimed = self.store.claim(post, now, lease_until, token)
        if claimed is None:
            return PublishOutcome("skipped", "changed meanwhile", post.scheduleId)
        config = replace(self.config, reserve_seconds=self.config.give_up_reserve_seconds)
        left = remaining_ms or (lambda: int(self.config.give_up_lease_seconds * 1000))
        run = PublishRun(self, claimed, token, left, metrics, config)
        return self._run(run, lambda: run.settle(reason, final=final))


class PublishRun(UploadingRun):
    """One claimed publish: start a new TikTok publish, or resume the one recorded."""

    def execute(self) -> PublishOutcome:
        self.account = self.p.store.get_account(self.post.userId, self.post.tiktokAccountId)
        if self.account is None:
            raise PublishFailed("the TikTok account was disconnected before the post's time")
        if self.account.needsReconnection and self.post.tiktokPublishId is None:
            raise PublishFailed(needs_reconnection(self.account.needsReconnection))
        video = self.p.store.get_video(self.post.userId, self.post.videoId)
        if video is None:
            raise PublishFailed("the video was deleted before the post's time")
        self.video_version = video.objectVersionId  # the version that was checked

        if self.post.tiktokPublishId is None:
            stored = self.p.videos.head(video.s3Key, self.video_version)
            if stored is None or stored.size == 0:
                raise PublishFailed("the video file is missing from storage")
            plan = plan_chunks(stored.size, self.config.preferred_chunk_size)
            creator = self._call(lambda access: self.p.tiktok.creator_info(access))
            self._remember(creator)
            # The creator's maximum may have shrunk since the post was created.
            too_long = duration_problem(video.durationSeconds, creator.max_video_post_duration_sec)
            if too_long is not None:
                raise PublishFailed(too_long)
            post_info = self._post_info(creator.privacy_level_options)
            init = self._call(
                lambda access: self.p.tiktok.init_direct_post(access, post_info, plan)
            )
            now = self.clock.now()
            # Checkpoint before any byte goes out: a retry resumes this publish, never a new one.
            self.post = self.p.store.checkpoint(
                self.post,
                self.token,
                tiktokPublishId=init.publish_id,
                uploadUrl=init.upload_url,
                uploadUrlExpiresAt=now + timedelta(seconds=self.config.upload_url_lifetime_seconds),
                videoEtag=stored.etag,
                videoSizeBytes=stored.size,
                chunkSize=plan.chunk_size,
                totalChunkCount=plan.total_chunk_count,
                uploadedBytes=0,
                updatedAt=now,
            )
            self._upload(video.s3Key, video.contentType, plan, start_offset=0)
        else:
            status = self._status()
            if status.status in DONE_STATUSES:
                return self._executed()
            if status.status == "FAILED":
                raise TikTokRejected(rejected(status.fail_reason))
            size = self.post.videoSizeBytes or 0
            if status.status == "PROCESSING_UPLOAD" and (status.uploaded_bytes or 0) < size:
                plan = ChunkPlan(size, self.post.chunkSize or size, self.post.totalChunkCount or 1)
                self._upload(
                    video.s3Key, video.contentType, plan, start_offset=status.uploaded_bytes or 0
                )
            elif self.post.uploadCompletedAt is None:
                # The run that sent the last chunk died before recording it: TikTok's count
                # says the upload is whole, so the confirmation wait starts now.
                self.post = self.p.store.checkpoint(
                    self.post,
                    self.token,
                    uploadedBytes=size or None,
                    uploadCompletedAt=self.clock.now(),
                    updatedAt=self.clock.now(),
                )
        return self._await_confirmation()

    def _remember(self, creator: CreatorInfo) -> None:
        """Cache creator_info on the account for the pre-flight checks at create."""
        snapshot = creator_info_snapshot(creator)
        try:
            self.p.store.save_creator_info(
                self.post.userId, self.post.tiktokAccountId, snapshot, self.clock.now()
            )
        except Exception:  # a cache: publishing goes on without it
            logger.warning("creator info not cached", exc_info=True)

    def _post_info(self, allowed: Sequence[str]) -> dict[str, Any]:
        options = self.post.postOptions
        if options.privacyLevel is not None:
            if options.privacyLevel not in allowed:
                raise PublishFailed(
                    f"privacy level {options.privacyLevel} is not available for this TikTok"
                    f" account (allowed: {', '.join(allowed) or 'none'})"
                )
            privacy: str = options.privacyLevel
        else:
            choices = [level for level in PRIVACY_PREFERENCE if level in allowed]
            if not choices:
                raise PublishFailed("TikTok offers no privacy level this account can post with")
            privacy = choices[0]
        info: dict[str, Any] = {
            "privacy_level": privacy,
            "disable_comment": options.disableComment,
            "disable_duet": options.disableDuet,
            "disable_stitch": options.disableStitch,
            "brand_content_toggle": options.brandContentToggle,
            "brand_organic_toggle": options.brandOrganicToggle,
            "is_aigc": options.isAigc,
        }
        if self.post.caption:
            info["title"] = self.post.caption
        if options.videoCoverTimestampMs is not None:
            info["video_cover_timestamp_ms"] = options.videoCoverTimestampMs
        return info
