"""When a post may be scheduled, and when its Scheduler schedule fires."""

from __future__ import annotations

from datetime import datetime, timedelta

from post_scheduler.errors import Unprocessable
from post_scheduler.timestamps import format_utc


def check_publish_time(
    publish_at: datetime, now: datetime, min_lead_seconds: int, max_horizon_days: int
) -> None:
    """Refuse (422) a time in the past, closer than the minimum lead, or beyond the horizon."""
    if publish_at <= now:
        raise Unprocessable(
            "scheduledPublishTime is in the past",
            {"scheduledPublishTime": format_utc(publish_at), "now": format_utc(now)},
        )
    earliest = now + timedelta(seconds=min_lead_seconds)
    if publish_at < earliest:
        raise Unprocessable(
            f"scheduledPublishTime must be at least {min_lead_seconds} seconds from now",
            {"earliestAllowed": format_utc(earliest), "minimumLeadSeconds": min_lead_seconds},
        )
    latest = now + timedelta(days=max_horizon_days)
    if publish_at > latest:
        raise Unprocessable(
            f"scheduledPublishTime must be within {max_horizon_days} days from now",
            {"latestAllowed": format_utc(latest)},
        )


def schedule_fire_time(publish_at: datetime, now: datetime) -> datetime:
    """The whole minute the Scheduler should fire in: the minute before the publish time.

    EventBridge Scheduler fires anywhere inside the given minute, so firing in the minute before
    lets the publisher wait for the exact second. With a very short lead that minute may already
    be over; the current minute is used then (the publisher still waits for the requested second).
    """
    minute_before = publish_at.replace(second=0, microsecond=0) - timedelta(minutes=1)
    current_minute = now.replace(second=0, microsecond=0)
    return max(minute_before, current_minute)


# TikTok allows at most 6 Direct Post init requests per minute per user access token (Content
# Posting API reference, "Direct Post" page and /doc/tiktok-api-v2-rate-limit). A post calls
# init at its second, so at most this many pending posts of one TikTok account may be due in
# one UTC minute (a pre-flight check at create, re-activation and retry).
ACCOUNT_POSTS_PER_MINUTE = 6


def posting_minute(publish_at: datetime) -> str:
    """The UTC minute a post is due in, `YYYY-MM-DDTHH:MM`: the unit of TikTok's init limit."""
    return format_utc(publish_at)[:16]
