"""The safety net: posts whose time passed without a publish get a new one-time schedule.

A schedule can be lost (deleted by hand, a failed create the table never heard of, a Scheduler
incident) and a publisher run can die without a retry left. Every few minutes the sweep looks
for pending posts past their time, and publishing posts whose run's lease ran out, and re-arms
them for the next minute through the same Scheduler path, so the publisher's claim rules
still decide who publishes, exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from post_scheduler.errors import DependencyUnavailable

if TYPE_CHECKING:
    from post_scheduler.adapters.publication_store import PublicationStore
    from post_scheduler.adapters.scheduler import PublishScheduler

logger = logging.getLogger(__name__)

# A normal publish starts at the post's second; give it this long before calling it missed.
MISSED_AFTER = timedelta(minutes=3)


def rearm_missed_posts(
    store: PublicationStore,
    scheduler: PublishScheduler,
    now: datetime,
    batch_size: int = 100,
    has_time: Callable[[], bool] = lambda: True,
) -> list[str]:
    """Re-schedule missed posts for the coming minute; returns their schedule ids."""
    rearmed: list[str] = []
    fire_at = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
    for post in store.due_posts(now - MISSED_AFTER, batch_size):
        if not has_time():
            break
        if post.status == "publishing" and post.leaseExpiresAt and post.leaseExpiresAt > now:
            continue  # a live run holds it
        try:
            scheduler.create(post.scheduleId, post.userId, post.version, fire_at)
        except DependencyUnavailable:
            logger.exception(
                "could not re-arm a missed post", extra={"scheduleId": post.scheduleId}
            )
            continue
        logger.warning(
            "re-armed a missed post",
            extra={"scheduleId": post.scheduleId, "status": post.status},
        )
        rearmed.append(post.scheduleId)
    return rearmed
