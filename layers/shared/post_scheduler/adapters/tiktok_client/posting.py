"""The Content Posting calls: user and creator info, Direct Post init and status."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from post_scheduler.adapters.tiktok_client.transport import (
    CREATOR_INFO_PATH,
    STATUS_FETCH_PATH,
    USER_INFO_PATH,
    VIDEO_INIT_PATH,
    TikTokTransport,
    text_or_none,
)
from post_scheduler.domain.chunks import ChunkPlan
from post_scheduler.domain.errors import TikTokTransientError
from post_scheduler.domain.tiktok import (
    USER_FIELDS,
    CreatorInfo,
    InitResult,
    PublishStatus,
    TikTokUser,
)


class PostingCalls(TikTokTransport):
    """The Bearer-authorised API calls around an upload."""

    def user_info(self, access_token: str, fields: Iterable[str] = USER_FIELDS) -> TikTokUser:
        """The user's profile; fields outside the granted scopes make TikTok refuse the call."""
        data = self._api(
            "GET", USER_INFO_PATH, "user_info", access_token, params={"fields": ",".join(fields)}
        )
        user = data.get("user")
        if not isinstance(user, dict) or not text_or_none(user.get("open_id")):
            raise TikTokTransientError("invalid_response", "user info lacks the user")
        return TikTokUser(
            open_id=str(user["open_id"]),
            username=text_or_none(user.get("username")),
            display_name=text_or_none(user.get("display_name")),
            avatar_url=text_or_none(user.get("avatar_url")),
            union_id=text_or_none(user.get("union_id")),
        )

    def creator_info(self, access_token: str) -> CreatorInfo:
        """Whether and how the creator may post now. TikTok signals "cannot post now"
        (spam_risk_*, reached_active_user_cap) with HTTP 200 and an error code."""
        data = self._api("POST", CREATOR_INFO_PATH, "creator_info", access_token)
        try:
            return CreatorInfo(
                creator_username=str(data.get("creator_username", "")),
                creator_nickname=str(data.get("creator_nickname", "")),
                creator_avatar_url=text_or_none(data.get("creator_avatar_url")),
                privacy_level_options=tuple(str(o) for o in data["privacy_level_options"]),
                comment_disabled=bool(data.get("comment_disabled", False)),
                duet_disabled=bool(data.get("duet_disabled", False)),
                stitch_disabled=bool(data.get("stitch_disabled", False)),
                max_video_post_duration_sec=int(data["max_video_post_duration_sec"]),
            )
        except (KeyError, TypeError, ValueError):
            raise TikTokTransientError("invalid_response", "creator info lacks fields") from None

    def init_direct_post(
        self, access_token: str, post_info: Mapping[str, Any], plan: ChunkPlan
    ) -> InitResult:
        """Starts a Direct Post of a FILE_UPLOAD video. Not idempotent: after a network error
        or 5xx the post may exist anyway, so callers record `publish_id` at once and never
        re-init blindly once bytes went up."""
        body = {
            "post_info": dict(post_info),
            "source_info": {
                "source": "FILE_UPLOAD",
                "video_size": plan.video_size,
                "chunk_size": plan.chunk_size,
                "total_chunk_count": plan.total_chunk_count,
            },
        }
        data = self._api("POST", VIDEO_INIT_PATH, "init_direct_post", access_token, body)
        publish_id, upload_url = (
            text_or_none(data.get("publish_id")),
            text_or_none(data.get("upload_url")),
        )
        if publish_id is None or upload_url is None:
            raise TikTokTransientError("invalid_response", "init lacks publish_id or upload_url")
        return InitResult(publish_id, upload_url)

    def fetch_status(self, access_token: str, publish_id: str) -> PublishStatus:
        """Where the publish stands. A FAILED publish is a normal answer, not an error; see
        `PublishStatus.failure()`."""
        data = self._api(
            "POST", STATUS_FETCH_PATH, "fetch_status", access_token, {"publish_id": publish_id}
        )
        status = text_or_none(data.get("status"))
        if status is None:
            raise TikTokTransientError("invalid_response", "status lacks status")
        # TikTok spells the field "publicaly"; accept the correct spelling too.
        post_ids = data.get("publicaly_available_post_id", data.get("publicly_available_post_id"))
        try:
            uploaded = int(data.get("uploaded_bytes") or 0)
        except (TypeError, ValueError):
            uploaded = 0
        return PublishStatus(
            status=status,
            fail_reason=text_or_none(data.get("fail_reason")),
            uploaded_bytes=uploaded,
            public_post_ids=[str(i) for i in post_ids or [] if isinstance(i, int | str)],
        )
