"""Publishing a scheduled post to TikTok: at its exact second, at most once, never lost.

One run of `PostPublisher.publish`:
1. reads the post and drops stale events (deleted, final, moved to another version);
2. waits until the requested second (the Scheduler fires within the minute before);
3. claims the post atomically (pending -> publishing, or takes over a crashed run whose lease,
   the invocation's deadline, has passed);
4. either starts a new TikTok publish (creator info, Direct Post init) and checkpoints TikTok's
   `publish_id` before sending any byte, or resumes the one already recorded from TikTok's own
   progress, never calling init again;
5. streams the video from S3 in TikTok's chunks, then polls TikTok until it confirms;
6. ends the post `executed` or `failed` with a reason, releasing the video lock and plan slot.
Transient trouble is retried with backoff while time allows; then the claim is released and the
error raised, so Lambda's asynchronous retries resume from the checkpoint.

A post holding a TikTok `publish_id` is never marked failed on our word alone: TikTok's status
is fetched first. Complete -> executed; FAILED -> failed with TikTok's reason; TikTok holding
only part of the video (and no way to continue) -> failed; anything else (TikTok unreachable,
still processing) -> the post stays `publishing` with `publishOutcome: unconfirmed`, its lease
released, and a later run (the sweep's re-arm, a re-activation) reconciles it from TikTok.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, StrictInt, StringConstraints

from post_scheduler.domain.chunks import ChunkPlan, plan_chunks
from post_scheduler.domain.errors import (
    ChunkLengthError,
    LeaseLost,
    TikTokAuthError,
    TikTokError,
    TikTokPermanentError,
    TikTokTransientError,
    TikTokUploadExpired,
    TikTokUploadRangeError,
    TokensChanged,
    VideoChanged,
    VideoMissing,
    VideoReadError,
)
from post_scheduler.domain.preflight import duration_problem
from post_scheduler.domain.retry import retry_while
from post_scheduler.models.fields import ID_PATTERN
from post_scheduler.models.records import (
    FINAL_STATUSES,
    CreatorInfoSnapshot,
    ScheduleRecord,
    TikTokAccountRecord,
)

if TYPE_CHECKING:
    from post_scheduler.domain.ports import (
        ChunkReaderPort,
        PublicationStorePort,
        TikTokPort,
        TokenCipherPort,
        VideoFilesPort,
    )
    from post_scheduler.domain.tiktok import (
        CreatorInfo,
        PublishStatus,
        TikTokAppCredentials,
        TokenGrant,
    )

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Most public first: without a requested level, a post goes out as publicly as the account allows.
PRIVACY_PREFERENCE = (
    "PUBLIC_TO_EVERYONE",
    "FOLLOWER_OF_CREATOR",
    "MUTUAL_FOLLOW_FRIENDS",
    "SELF_ONLY",
)
DONE_STATUSES = ("PUBLISH_COMPLETE", "SEND_TO_USER_INBOX")


class PublishCommand(BaseModel):
    """The publisher's event: the schedule's Input, `{scheduleId, userId, version}`."""

    model_config = ConfigDict(extra="ignore")

    scheduleId: Annotated[str, StringConstraints(pattern=ID_PATTERN)]
    userId: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    version: StrictInt


@dataclass(frozen=True)
class PublishOutcome:
    """What a run did: executed, failed, skipped (with why), or deferred (come back in
    `retry_in_seconds`, nothing done)."""

    result: str
    detail: str = ""
    schedule_id: str = ""
    publish_id: str | None = None
    retry_in_seconds: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "detail": self.detail,
            "scheduleId": self.schedule_id,
            "tiktokPublishId": self.publish_id,
        }


class PublishFailed(Exception):
    """The post cannot be published; the message is the reason a person can act on."""


class TikTokRejected(PublishFailed):
    """TikTok's status for the publish is FAILED (the message carries TikTok's reason)."""


class ConfirmationOverdue(PublishFailed):
    """TikTok has the whole video but has not confirmed the post within the wait we allow."""


class RetryLater(Exception):
    """A transient problem outlasted this run's retries or time; Lambda should retry."""


class Clock(Protocol):
    def now(self) -> datetime: ...
    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


@dataclass(frozen=True)
class PublisherConfig:
    # The Scheduler fires in the minute before the post; anything earlier is a stray event.
    max_early_seconds: float = 180.0
    # Time kept back at the end of an invocation to checkpoint and release the claim.
    reserve_seconds: float = 20.0
    # The give-up consumer's runs are short (its function times out in 30 s).
    give_up_reserve_seconds: float = 5.0
    give_up_lease_seconds: float = 60.0
    transient_attempts: int = 4
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 20.0
    poll_interval_seconds: float = 2.0
    max_poll_interval_seconds: float = 10.0
    # TikTok documents processing in seconds to minutes; measured from the end of the upload,
    # past this a run stops waiting and leaves the post unconfirmed for later checks.
    confirm_timeout_seconds: float = 3600.0
    # Refresh the access token when it expires within this margin.
    token_refresh_margin_seconds: float = 300.0
    # One run per account refreshes (TikTok rotates the refresh token on every use): it holds
    # a lease on the account this long; the others look again every `refresh_wait_seconds`.
    refresh_lease_seconds: float = 30.0
    refresh_wait_seconds: float = 0.5
    # Attempts to encrypt and store rotated tokens before the account is marked as needing
    # reconnection (the old refresh token no longer works once TikTok rotated it).
    token_save_attempts: int = 5
    token_save_backoff_seconds: float = 0.2
    preferred_chunk_size: int = 10 * 1024 * 1024
    # TikTok's upload URL lives one hour; stop trusting it a little earlier.
    upload_url_lifetime_seconds: float = 3300.0
    # How often upload progress is written to the post while chunks go out.
    progress_write_seconds: float = 5.0


@dataclass
class PublishMetrics:
    """Figures a run reports (the handler turns them into CloudWatch metrics)."""

    lag_seconds: float | None = None
    uploaded_bytes: int = 0
    events: list[str] = field(default_factory=list)


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
        skip = _skip_reason(post, command)
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
        run = _PublishRun(self, claimed, token, remaining_ms, metrics)
        return self._run(run, lambda: run.execute())

    def _run(self, run: _PublishRun, step: Callable[[], PublishOutcome]) -> PublishOutcome:
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
                self.store.release_lease(run.post, run.token, self.clock.now(), _describe(error))
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
        skip = _skip_reason(post, command)
        if skip or post is None:
            return PublishOutcome("skipped", skip or "post not found", command.scheduleId)
        now = self.clock.now()
        if post.status == "publishing" and post.leaseExpiresAt and post.leaseExpiresAt > now:
            return PublishOutcome(
                "skipped", "a publisher run still holds the post", post.scheduleId
            )
        reason = f"publishing gave up after repeated failures: {error}"
        if post.tiktokPublishId is None:
            ended = _ended(post, now, status="failed", failureReason=reason[:1000], failedAt=now)
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
        run = _PublishRun(self, claimed, token, left, metrics, config)
        return self._run(run, lambda: run.settle(reason, final=final))


def _skip_reason(post: ScheduleRecord | None, command: PublishCommand) -> str | None:
    if post is None:
        return "post no longer exists"
    if post.version != command.version:
        return f"stale event: post is at version {post.version}, event carries {command.version}"
    if post.status in FINAL_STATUSES:
        return f"post already {post.status}"
    return None


def _ended(post: ScheduleRecord, now: datetime, **changes: Any) -> ScheduleRecord:
    """The post's final record: publishing bookkeeping cleared, the outcome set."""
    return post.model_copy(
        update={
            "claimToken": None,
            "leaseExpiresAt": None,
            "uploadUrl": None,
            "uploadUrlExpiresAt": None,
            "updatedAt": now,
            "revision": post.revision + 1,
            "publishOutcome": None,
            **changes,
        }
    )


def _describe(error: BaseException) -> str:
    if isinstance(error, TikTokError):
        return f"TikTok {error.code}: {error.message}"[:1000]
    return f"{type(error).__name__}: {error}"[:1000]


class _PublishRun:
    """The state of one claimed publish: the post as last checkpointed and the account."""

    def __init__(
        self,
        publisher: PostPublisher,
        post: ScheduleRecord,
        token: str,
        remaining_ms: Callable[[], int],
        metrics: PublishMetrics,
        config: PublisherConfig | None = None,
    ) -> None:
        self.p = publisher
        self.config = config or publisher.config
        self.clock = publisher.clock
        self.post = post
        self.token = token
        self.remaining_ms = remaining_ms
        self.metrics = metrics
        self.account: TikTokAccountRecord | None = None
        self._access_token: str | None = None
        self.video_version: str | None = None
        self._progress_written = self.clock.now()

    # --- the steps ----------------------------------------------------------------------------

    def execute(self) -> PublishOutcome:
        self.account = self.p.store.get_account(self.post.userId, self.post.tiktokAccountId)
        if self.account is None:
            raise PublishFailed("the TikTok account was disconnected before the post's time")
        if self.account.needsReconnection and self.post.tiktokPublishId is None:
            raise PublishFailed(_needs_reconnection(self.account.needsReconnection))
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
                raise TikTokRejected(_rejected(status.fail_reason))
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
        snapshot = CreatorInfoSnapshot(
            privacyLevelOptions=list(creator.privacy_level_options),
            maxVideoPostDurationSec=creator.max_video_post_duration_sec,
        )
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
                raise PublishFailed(f"TikTok refused the upload: {_describe(error)}") from None
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

    def _await_confirmation(self) -> PublishOutcome:
        """Poll TikTok until it confirms, while this invocation has time. The wait is measured
        from the end of the upload, so later runs continue it rather than restart it."""
        interval = self.config.poll_interval_seconds
        started = self.post.uploadCompletedAt or self.clock.now()
        while True:
            status = self._status()
            if status.status in DONE_STATUSES:
                return self._executed()
            if status.status == "FAILED":
                raise TikTokRejected(_rejected(status.fail_reason))
            waited = (self.clock.now() - started).total_seconds()
            if waited > self.config.confirm_timeout_seconds:
                raise ConfirmationOverdue(
                    f"TikTok had not confirmed the post {waited / 60:.0f} minutes after the"
                    f" upload ended (last status {status.status})"
                )
            self._ensure_time("waiting for TikTok to confirm", interval)
            self.clock.sleep(interval)
            interval = min(interval * 1.5, self.config.max_poll_interval_seconds)

    def _status(self) -> PublishStatus:
        publish_id = self.post.tiktokPublishId
        assert publish_id is not None
        return self._call(lambda access: self.p.tiktok.fetch_status(access, publish_id))

    # --- endings ------------------------------------------------------------------------------

    def _executed(self) -> PublishOutcome:
        now = self.clock.now()
        final = _ended(
            self.post, now, status="executed", executedAt=now, failureReason=None, lastError=None
        )
        self.p.store.finish(self.post, self.token, final, video_published_at=now)
        self.metrics.events.append("PublishSucceeded")
        logger.info("post published", extra={"scheduleId": self.post.scheduleId})
        return PublishOutcome(
            "executed", "published", self.post.scheduleId, self.post.tiktokPublishId
        )

    def fail(self, failure: PublishFailed) -> PublishOutcome:
        """End the post after `failure`; one holding a publish id is settled from TikTok's
        status first (unless that status is what failed it)."""
        reason = str(failure)
        if self.post.tiktokPublishId is None:
            return self._failed(reason, outcome=None)
        if isinstance(failure, TikTokRejected):
            return self._failed(reason, outcome="tiktok_failed")
        if isinstance(failure, ConfirmationOverdue):
            return self._unconfirmed(reason)
        return self.settle(reason)

    def settle(self, reason: str, final: bool = False) -> PublishOutcome:
        """Decide a publish we stopped working on from TikTok's status: executed, failed (TikTok
        said FAILED, or holds only part of the video), or else unconfirmed; with `final`, an
        unconfirmed post ends failed too, its reason saying TikTok never confirmed it."""
        if self.account is None:
            self.account = self.p.store.get_account(self.post.userId, self.post.tiktokAccountId)
        try:
            if self.account is None:
                raise PublishFailed("the TikTok account was disconnected")
            status = self._status()
        except Exception as error:  # TikTok unreachable, tokens unusable: the outcome is unknown
            unknown = f"{reason}; TikTok's status could not be fetched ({_describe(error)})"
            if final:
                return self._failed(_never_confirmed(self.post, unknown), outcome="unconfirmed")
            return self._unconfirmed(unknown)
        if status.status in DONE_STATUSES:
            return self._executed()
        if status.status == "FAILED":
            return self._failed(_rejected(status.fail_reason), outcome="tiktok_failed")
        size = self.post.videoSizeBytes or 0
        held = status.uploaded_bytes
        if status.status == "PROCESSING_UPLOAD" and held is not None and held < size:
            return self._failed(
                f"{reason} (TikTok received {held} of {size} bytes, so it cannot publish"
                " this upload)",
                outcome="upload_incomplete",
            )
        pending = f"{reason}; TikTok's status is {status.status}"
        if final:
            return self._failed(_never_confirmed(self.post, pending), outcome="unconfirmed")
        return self._unconfirmed(pending)

    def _failed(self, reason: str, outcome: str | None) -> PublishOutcome:
        now = self.clock.now()
        final = _ended(
            self.post,
            now,
            status="failed",
            failedAt=now,
            failureReason=reason[:1000],
            publishOutcome=outcome,
        )
        try:
            self.p.store.finish(self.post, self.token, final, None)
        except LeaseLost:
            return PublishOutcome("skipped", "another run took the post over", final.scheduleId)
        self.metrics.events.append("PublishFailed")
        logger.warning(
            "post failed", extra={"scheduleId": self.post.scheduleId, "reason": reason[:300]}
        )
        return PublishOutcome("failed", reason, self.post.scheduleId, self.post.tiktokPublishId)

    def _unconfirmed(self, reason: str) -> PublishOutcome:
        """Leave the post `publishing` with its claim released and the outcome unconfirmed: the
        sweep re-arms it, and the next run reconciles it from TikTok (never a new publish)."""
        now = self.clock.now()
        text = (
            f"outcome unconfirmed: TikTok has this video as publish {self.post.tiktokPublishId}"
            f" but has not confirmed it ({reason}); it is checked again automatically and"
            " will not be posted twice"
        )[:1000]
        self.post = self.p.store.checkpoint(
            self.post,
            self.token,
            publishOutcome="unconfirmed",
            failureReason=text,
            lastError=reason[:1000],
            leaseExpiresAt=now,
            updatedAt=now,
        )
        self.metrics.events.append("PublishUnconfirmed")
        logger.warning(
            "publish outcome unconfirmed",
            extra={"scheduleId": self.post.scheduleId, "reason": reason[:300]},
        )
        return PublishOutcome("unconfirmed", text, self.post.scheduleId, self.post.tiktokPublishId)

    # --- TikTok calls: tokens, retries, time ----------------------------------------------------

    def _call(self, action: Callable[[str], T]) -> T:
        """Run a TikTok API call with a fresh token: refresh once on `access_token_invalid`,
        back off on transient errors, and turn permanent ones into the post's failure."""
        refreshed = False
        attempt = 0
        while True:
            try:
                return action(self._token())
            except TikTokAuthError as error:
                if refreshed:
                    raise PublishFailed(
                        "TikTok no longer accepts this account's authorization; reconnect the"
                        f" account ({_describe(error)})"
                    ) from None
                refreshed = True
                self._token(force_refresh=True)
            except TikTokTransientError as error:
                attempt += 1
                self._backoff(attempt, error)
            except TikTokPermanentError as error:
                raise PublishFailed(f"TikTok refused the post: {_describe(error)}") from None

    def _token(self, force_refresh: bool = False) -> str:
        account = self.account
        assert account is not None
        now = self.clock.now()
        margin = timedelta(seconds=self.config.token_refresh_margin_seconds)
        fresh = (
            account.accessTokenExpiresAt is not None and account.accessTokenExpiresAt > now + margin
        )
        if self._access_token is not None and fresh and not force_refresh:
            return self._access_token
        if fresh and not force_refresh:
            self._access_token = self._decrypt(account, "access")
            return self._access_token
        return self._refresh(account, now)

    def _refresh(self, account: TikTokAccountRecord, now: datetime) -> str:
        """A new access token, one run per account at a time: the run that takes the account's
        refresh lease rotates the tokens; the others wait (bounded) and use what it stored."""
        lease = uuid.uuid4().hex
        waited = 0.0
        while True:
            latest = self.p.store.get_account(account.userId, account.accountId)
            if latest is None:
                raise PublishFailed("the TikTok account was disconnected")
            if latest.needsReconnection:
                raise PublishFailed(_needs_reconnection(latest.needsReconnection))
            if latest.tokenVersion != account.tokenVersion:
                # Another run rotated the tokens since we read them: use its access token.
                self.account = latest
                self._access_token = self._decrypt(latest, "access")
                return self._access_token
            if latest.refreshTokenExpiresAt is not None and latest.refreshTokenExpiresAt <= now:
                raise PublishFailed("the TikTok authorization expired; reconnect the account")
            until = now + timedelta(seconds=self.config.refresh_lease_seconds)
            if self.p.store.take_refresh_lease(latest, lease, now, until):
                return self._rotate(latest, lease, now)
            if waited >= self.config.refresh_lease_seconds:
                raise RetryLater("another run has been refreshing the account's tokens too long")
            self._ensure_time("waiting for another run to refresh the tokens")
            self.clock.sleep(self.config.refresh_wait_seconds)
            waited += self.config.refresh_wait_seconds
            now = self.clock.now()

    def _rotate(self, account: TikTokAccountRecord, lease: str, now: datetime) -> str:
        """Rotate the tokens under our lease and store them before use."""
        credentials = self.p.credentials()
        attempt = 0
        try:
            while True:
                try:
                    grant = self.p.tiktok.refresh_access_token(
                        credentials.client_key,
                        credentials.client_secret,
                        self._decrypt(account, "refresh"),
                    )
                    break
                except TikTokTransientError as error:
                    attempt += 1
                    self._backoff(attempt, error)
        except TikTokError as error:
            # We held the lease on the version we read, so no other run rotated the token:
            # TikTok refuses this account's refresh token itself.
            self._release_refresh_lease(account, lease)
            reason = (
                "TikTok refused to renew the account's access; reconnect the account"
                f" ({_describe(error)})"
            )
            if error.code == "invalid_grant":
                self._mark_needs_reconnection(account, reason, now)
            raise PublishFailed(reason) from None
        except BaseException:
            self._release_refresh_lease(account, lease)
            raise
        self._access_token = grant.access_token
        saved = self._save_rotated(account, lease, grant, now)
        if saved is None:
            # Not stored, but valid: this run keeps using it (in memory only).
            expires = now + timedelta(seconds=grant.expires_in)
            self.account = account.model_copy(update={"accessTokenExpiresAt": expires})
        else:
            self.account = saved
            self.metrics.events.append("TokenRefreshed")
        return grant.access_token

    def _save_rotated(
        self, account: TikTokAccountRecord, lease: str, grant: TokenGrant, now: datetime
    ) -> TikTokAccountRecord | None:
        """Encrypt and store rotated tokens, retrying (KMS or DynamoDB throttling). If they
        cannot be stored, TikTok has already retired the old refresh token, so the account is
        marked as needing reconnection with that reason; this run still finishes its own post
        with the access token it holds."""
        cipher, account_id = self.p.cipher, account.accountId
        last_error: Exception | None = None
        for attempt in range(1, self.config.token_save_attempts + 1):
            try:
                return self.p.store.save_tokens(
                    account,
                    accessTokenCipher=cipher.encrypt(grant.access_token, account_id, "access"),
                    refreshTokenCipher=cipher.encrypt(grant.refresh_token, account_id, "refresh"),
                    accessTokenExpiresAt=now + timedelta(seconds=grant.expires_in),
                    refreshTokenExpiresAt=now + timedelta(seconds=grant.refresh_expires_in),
                    refreshLeaseToken=None,
                    refreshLeaseUntil=None,
                    updatedAt=now,
                )
            except TokensChanged:
                # Only a reconnect (a new grant) can have changed them under our lease.
                latest = self.p.store.get_account(account.userId, account.accountId)
                if latest is None:
                    raise PublishFailed("the TikTok account was disconnected") from None
                return latest
            except Exception as error:
                last_error = error
                logger.warning(
                    "could not store rotated TikTok tokens; retrying",
                    extra={"accountId": account_id, "attempt": attempt, "error": _describe(error)},
                )
                if attempt < self.config.token_save_attempts:
                    self.clock.sleep(self.config.token_save_backoff_seconds * 2 ** (attempt - 1))
        assert last_error is not None
        reason = (
            "TikTok rotated the account's tokens but they could not be saved"
            f" ({_describe(last_error)}); reconnect the account"
        )
        self.metrics.events.append("TokenRotationLost")
        logger.error("rotated TikTok tokens lost", extra={"accountId": account_id})
        self._mark_needs_reconnection(account, reason, now)
        return None

    def _mark_needs_reconnection(
        self, account: TikTokAccountRecord, reason: str, now: datetime
    ) -> None:
        for attempt in range(1, self.config.token_save_attempts + 1):
            try:
                self.p.store.mark_needs_reconnection(account, reason, now)
                self.metrics.events.append("AccountNeedsReconnection")
                return
            except Exception:
                if attempt == self.config.token_save_attempts:
                    logger.exception(
                        "could not mark the account as needing reconnection",
                        extra={"accountId": account.accountId},
                    )
                    return
                self.clock.sleep(self.config.token_save_backoff_seconds * 2 ** (attempt - 1))

    def _release_refresh_lease(self, account: TikTokAccountRecord, lease: str) -> None:
        try:
            self.p.store.release_refresh_lease(account, lease)
        except Exception:  # it runs out by itself in refresh_lease_seconds
            logger.exception("could not release the refresh lease")

    def _decrypt(self, account: TikTokAccountRecord, purpose: str) -> str:
        cipher_text = (
            account.accessTokenCipher if purpose == "access" else account.refreshTokenCipher
        )
        if not cipher_text:
            raise PublishFailed("the TikTok account has no stored authorization; reconnect it")
        return self.p.cipher.decrypt(cipher_text, account.accountId, purpose)

    def _backoff(self, attempt: int, error: Exception) -> None:
        """Sleep before retrying a transient error, or hand over to Lambda's retries."""
        if attempt >= self.config.transient_attempts:
            raise RetryLater(f"still failing after {attempt} attempts: {_describe(error)}")
        delay = min(
            self.config.backoff_seconds * 2 ** (attempt - 1), self.config.max_backoff_seconds
        )
        self._ensure_time(f"retrying after {_describe(error)}", delay)
        logger.info(
            "transient TikTok error; retrying",
            extra={
                "scheduleId": self.post.scheduleId,
                "attempt": attempt,
                "error": _describe(error),
            },
        )
        self.clock.sleep(delay)

    def _ensure_time(self, doing: str, needed_seconds: float = 0.0) -> None:
        left = self.remaining_ms() / 1000 - self.config.reserve_seconds
        if left < needed_seconds:
            raise RetryLater(f"out of time while {doing}; the next attempt resumes")


def _rejected(reason: str | None) -> str:
    return f"TikTok rejected the video: {reason or 'no reason given'}"


def _never_confirmed(post: ScheduleRecord, detail: str) -> str:
    return (
        f"TikTok never confirmed publish {post.tiktokPublishId} ({detail}); it may still appear"
        " on TikTok. Re-activating the post checks TikTok again; it never posts the video twice"
    )


def _needs_reconnection(reason: str) -> str:
    return f"the TikTok account needs to be reconnected: {reason}"
