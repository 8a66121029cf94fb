"""How a run ends: waiting for TikTok to confirm, then executed, failed (with a reason a person
can act on) or unconfirmed. A post holding a TikTok `publish_id` is never marked failed on our
word alone: TikTok's status is fetched first."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from post_scheduler.domain.errors import LeaseLost
from post_scheduler.domain.publishing.models import (
    DONE_STATUSES,
    ConfirmationOverdue,
    PublishFailed,
    PublishOutcome,
    TikTokRejected,
    describe,
    ended_record,
    never_confirmed,
    rejected,
)
from post_scheduler.domain.publishing.tokens import TikTokSession

if TYPE_CHECKING:
    from post_scheduler.domain.tiktok import PublishStatus

logger = logging.getLogger(__name__)


class ConfirmingRun(TikTokSession):
    """A claimed run's TikTok status checks and its endings."""

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
                raise TikTokRejected(rejected(status.fail_reason))
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
        final = ended_record(
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
            unknown = f"{reason}; TikTok's status could not be fetched ({describe(error)})"
            if final:
                return self._failed(never_confirmed(self.post, unknown), outcome="unconfirmed")
            return self._unconfirmed(unknown)
        if status.status in DONE_STATUSES:
            return self._executed()
        if status.status == "FAILED":
            return self._failed(rejected(status.fail_reason), outcome="tiktok_failed")
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
            return self._failed(never_confirmed(self.post, pending), outcome="unconfirmed")
        return self._unconfirmed(pending)

    def _failed(self, reason: str, outcome: str | None) -> PublishOutcome:
        now = self.clock.now()
        final = ended_record(
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
