"""The safety net: posts whose time passed without a publish get a new one-time schedule.

A schedule can be lost (deleted by hand, a failed create the table never heard of, a Scheduler
incident), a publisher run can die without a retry left, and a publish can be left unconfirmed
by TikTok. Every few minutes the sweep pages through every pending post past its time and every
publishing post whose run's lease ran out, and re-arms each for the next minute, so the
publisher's claim rules still decide who publishes, exactly once.

Re-arming can never replace a newer schedule. The sweep works from the due index, an eventually
consistent snapshot, so the post may have been moved since. It therefore
1. counts the re-arm in one conditional write on the post, valid only for the version it read,
   while the post is unclaimed and the count is what it read (so a moved, claimed or ended post,
   or one another sweep just re-armed, is left alone), and then
2. creates a schedule of its own name (post, version, re-arm count) carrying that version. It
   never updates the post's own schedule, and an event for an outdated version is ignored.
After `MAX_SWEEP_REARMS` re-arms of one version the sweep stops re-arming and hands the post to
the give-up path, which ends it with a reason (after fetching TikTok's status when the post
holds a publish id).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from post_scheduler.errors import DependencyUnavailable

if TYPE_CHECKING:
    from post_scheduler.domain.ports import PublicationStorePort, SchedulerPort
    from post_scheduler.models.records import DueEntry

logger = logging.getLogger(__name__)

# A normal publish starts at the post's second; give it this long before calling it missed.
MISSED_AFTER = timedelta(minutes=3)
# Re-arms of one version of a post before the sweep gives up on it (an hour of five-minute
# sweeps: also how long an unconfirmed publish is checked again before it ends failed).
MAX_SWEEP_REARMS = 12


@dataclass
class SweepResult:
    """Schedule ids the sweep re-armed and those it gave up on."""

    rearmed: list[str] = field(default_factory=list)
    gave_up: list[str] = field(default_factory=list)


def rearm_missed_posts(
    store: PublicationStorePort,
    scheduler: SchedulerPort,
    now: datetime,
    give_up: Callable[[DueEntry, str], None],
    page_size: int = 100,
    has_time: Callable[[], bool] = lambda: True,
    max_rearms: int = MAX_SWEEP_REARMS,
) -> SweepResult:
    """Re-arm missed posts for the coming minute, or give up on those re-armed too often."""
    result = SweepResult()
    fire_at = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
    for post in store.due_posts(now - MISSED_AFTER, page_size):
        if not has_time():
            break
        if post.status == "publishing" and post.leaseExpiresAt and post.leaseExpiresAt > now:
            continue  # a live run holds it
        if post.sweepRearms >= max_rearms:
            reason = f"the sweep re-armed it {post.sweepRearms} times without a result"
            try:
                give_up(post, reason)
            except DependencyUnavailable:
                logger.exception("could not give up a post", extra={"scheduleId": post.scheduleId})
                continue
            result.gave_up.append(post.scheduleId)
            continue
        counted = store.mark_rearmed(post, now, max_rearms)
        if counted is None:
            continue  # changed since the snapshot
        try:
            scheduler.rearm(
                post.scheduleId, post.userId, counted.version, counted.sweepRearms, fire_at
            )
        except DependencyUnavailable:
            # The count stays spent: the cap bounds attempts, failed ones included.
            logger.exception(
                "could not re-arm a missed post", extra={"scheduleId": post.scheduleId}
            )
            continue
        logger.warning(
            "re-armed a missed post",
            extra={
                "scheduleId": post.scheduleId,
                "status": post.status,
                "rearm": counted.sweepRearms,
            },
        )
        result.rearmed.append(post.scheduleId)
    return result
