"""Pre-flight checks against what TikTok's creator_info says the creator may post: the privacy
level and the video's duration. Run at create, re-activation and retry (against the account's
cached copy, or a fresh one) and again by the publisher before init."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from post_scheduler.domain.errors import TikTokError
from post_scheduler.errors import Unprocessable
from post_scheduler.models.records import CreatorInfoSnapshot, TikTokAccountRecord

if TYPE_CHECKING:
    from post_scheduler.domain.ports import SchedulingTablePort, TikTokPort, TokenCipherPort
    from post_scheduler.domain.tiktok import CreatorInfo

logger = logging.getLogger(__name__)

# How long a cached creator_info is trusted at create; older copies are read again from TikTok.
CREATOR_INFO_FRESH_FOR = timedelta(hours=24)


def creator_info_snapshot(creator: CreatorInfo) -> CreatorInfoSnapshot:
    """What of TikTok's creator_info is cached on the account for these checks."""
    return CreatorInfoSnapshot(
        privacyLevelOptions=list(creator.privacy_level_options),
        maxVideoPostDurationSec=creator.max_video_post_duration_sec,
    )


def fresh_creator_info(account: TikTokAccountRecord, now: datetime) -> CreatorInfoSnapshot | None:
    """The account's cached creator_info when it is recent enough to decide on."""
    at = account.creatorInfoAt
    if account.creatorInfo is None or at is None or now - at > CREATOR_INFO_FRESH_FOR:
        return None
    return account.creatorInfo


def duration_problem(duration_seconds: float | None, max_seconds: int) -> str | None:
    """Why a video of this duration cannot be posted, or None (also when its duration is
    unknown: TikTok then decides)."""
    if duration_seconds is None or duration_seconds <= max_seconds:
        return None
    return (
        f"TIKTOK_VIDEO_TOO_LONG: the video is {duration_seconds:g} s long, longer than the"
        f" {max_seconds} s this TikTok account may post (creator_info"
        " max_video_post_duration_sec)"
    )


def check_creator_info(
    info: CreatorInfoSnapshot,
    account_id: str,
    privacy_level: str | None,
    duration_seconds: float | None,
) -> None:
    """422 with a precise reason when the post cannot be published as requested."""
    if privacy_level is not None and privacy_level not in info.privacyLevelOptions:
        raise Unprocessable(
            f"privacy level {privacy_level} is not available for this TikTok account"
            f" (allowed: {', '.join(info.privacyLevelOptions) or 'none'})",
            {
                "reason": "TIKTOK_PRIVACY_LEVEL_NOT_ALLOWED",
                "tiktokAccountId": account_id,
                "privacyLevel": privacy_level,
                "allowedPrivacyLevels": list(info.privacyLevelOptions),
            },
        )
    problem = duration_problem(duration_seconds, info.maxVideoPostDurationSec)
    if problem is not None:
        raise Unprocessable(
            problem.split(": ", 1)[1],
            {
                "reason": "TIKTOK_VIDEO_TOO_LONG",
                "tiktokAccountId": account_id,
                "durationSeconds": duration_seconds,
                "maxVideoPostDurationSec": info.maxVideoPostDurationSec,
            },
        )


class CreatorInfoReader:
    """Reads creator_info from TikTok with the account's access token and caches it on the
    account. None when that is not possible right now (TikTok unreachable or refusing, the
    access token expired): the caller then skips the check and the publisher repeats it."""

    def __init__(
        self,
        tiktok: Callable[[], TikTokPort],
        cipher: Callable[[], TokenCipherPort],
        table: SchedulingTablePort,
        clock: Callable[[], datetime],
    ) -> None:
        # Factories: a create whose account has a fresh copy never loads the HTTP client.
        self.tiktok = tiktok
        self.cipher = cipher
        self.table = table
        self.clock = clock

    def __call__(self, account: TikTokAccountRecord) -> CreatorInfoSnapshot | None:
        now = self.clock()
        expires = account.accessTokenExpiresAt
        if not account.accessTokenCipher or expires is None or expires <= now:
            # Refreshing rotates the refresh token: that stays with the publisher's
            # serialised refresh, never a side effect of a create.
            return None
        try:
            access = self.cipher().decrypt(account.accessTokenCipher, account.accountId, "access")
            creator = self.tiktok().creator_info(access)
        except TikTokError as exc:
            logger.info("creator info unavailable at create", extra={"code": exc.code})
            return None
        except Exception:  # KMS or the network: the create must not depend on it
            logger.warning("creator info unavailable at create", exc_info=True)
            return None
        snapshot = creator_info_snapshot(creator)
        self.table.save_creator_info(account.userId, account.accountId, snapshot, now)
        return snapshot
