"""The Content Posting endpoints: user info, creator info, Direct Post init with TikTok's
post-info and chunk rules, and status fetch with its processing steps."""

from __future__ import annotations

import secrets
from collections import deque
from typing import Any

from local.tiktok.protocol import (
    MAX_CHUNK_BYTES,
    MAX_CHUNK_COUNT,
    MAX_LAST_CHUNK_BYTES,
    MAX_VIDEO_BYTES,
    MIN_CHUNK_BYTES,
    RATE_LIMITS,
    TITLE_MAX_UTF16_UNITS,
    UPLOAD_PATH,
    UPLOAD_URL_TTL_SECONDS,
    USER_FIELD_SCOPES,
    StubError,
    is_int,
    utf16_units,
)
from local.tiktok.state import Grant, Post, StubState


class Posting(StubState):
    """creator_info, video init and status fetch (and user info beside them)."""

    def _check_rate(self, endpoint: str, token: str) -> None:
        limit = RATE_LIMITS.get(endpoint)
        if not self.rate_limits or limit is None:
            return
        with self._lock:
            now = self.now()
            window = self._calls.setdefault((endpoint, token), deque())
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= limit:
                raise StubError(429, "rate_limit_exceeded", "Too many requests; slow down.")
            window.append(now)

    def _user_info(self, grant: Grant, query: dict[str, str]) -> dict[str, Any]:
        fields = [f for f in query.get("fields", "").split(",") if f]
        if not fields:
            raise StubError(400, "invalid_param", "fields is required")
        known = [f for f in fields if f in USER_FIELD_SCOPES]
        missing = sorted({USER_FIELD_SCOPES[f] for f in known} - grant.scopes)
        if missing:
            raise StubError(401, "scope_not_authorized", f"fields need {', '.join(missing)}")
        with self._lock:
            creator = self._creator(grant.open_id)
        values = {
            "open_id": creator.open_id,
            "union_id": creator.union_id,
            "avatar_url": creator.avatar_url,
            "avatar_url_100": creator.avatar_url,
            "avatar_large_url": creator.avatar_url,
            "display_name": creator.display_name,
            "username": creator.username,
            "bio_description": "",
            "profile_deep_link": f"https://stub.tiktok.invalid/@{creator.username}",
            "is_verified": False,
            "follower_count": 0,
            "following_count": 0,
            "likes_count": 0,
            "video_count": 0,
        }
        return {f: values[f] for f in known}

    def _creator_info(self, grant: Grant) -> dict[str, Any]:
        with self._lock:
            creator = self._creator(grant.open_id)
        return {
            "creator_avatar_url": creator.avatar_url,
            "creator_username": creator.username,
            "creator_nickname": creator.display_name,
            "privacy_level_options": list(creator.privacy_level_options),
            "comment_disabled": creator.comment_disabled,
            "duet_disabled": creator.duet_disabled,
            "stitch_disabled": creator.stitch_disabled,
            "max_video_post_duration_sec": creator.max_video_post_duration_sec,
        }

    def _video_init(self, grant: Grant, payload: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            creator = self._creator(grant.open_id)
        post_info = payload.get("post_info")
        if not isinstance(post_info, dict):
            post_info = {}
        privacy = post_info.get("privacy_level")
        if privacy not in creator.privacy_level_options:
            raise StubError(
                403,
                "privacy_level_option_mismatch",
                "privacy_level is missing or not among the creator's privacy_level_options",
            )
        _check_post_info(post_info)
        source = payload.get("source_info")
        if not isinstance(source, dict):
            raise StubError(400, "invalid_param", "source_info is required")
        if source.get("source") == "PULL_FROM_URL":
            raise StubError(403, "url_ownership_unverified", "no verified URL prefix")
        if source.get("source") != "FILE_UPLOAD":
            raise StubError(400, "invalid_param", "source_info.source must be FILE_UPLOAD")
        video_size, chunk_size, count = _check_chunking(source)
        with self._lock:
            now = self.now()
            publish_id = f"v_pub_file~v2-1.{secrets.randbelow(9 * 10**18) + 10**18}"
            upload_id = secrets.token_hex(12)
            post = Post(
                publish_id=publish_id,
                open_id=creator.open_id,
                post_info=dict(post_info),
                video_size=video_size,
                chunk_size=chunk_size,
                total_chunk_count=count,
                upload_id=upload_id,
                upload_token=secrets.token_urlsafe(24),
                created_at=now,
                upload_expires_at=now + UPLOAD_URL_TTL_SECONDS,
                processing_fetches_left=self.processing_fetches,
            )
            if self._pending_fail_reasons:
                post.fail_reason = self._pending_fail_reasons.popleft()
            self._posts[publish_id] = post
            self._uploads[upload_id] = publish_id
        upload_url = (
            f"{self.base_url}{UPLOAD_PATH}?upload_id={upload_id}&upload_token={post.upload_token}"
        )
        return {"publish_id": publish_id, "upload_url": upload_url}

    def _status_fetch(self, grant: Grant, payload: dict[str, Any]) -> dict[str, Any]:
        publish_id = payload.get("publish_id")
        with self._lock:
            post = self._posts.get(publish_id) if isinstance(publish_id, str) else None
            if post is None:
                raise StubError(400, "invalid_publish_id", "publish_id does not exist")
            if post.open_id != grant.open_id:
                raise StubError(
                    400,
                    "token_not_authorized_for_specified_publish_id",
                    "the token's user did not create this publish",
                )
            if post.complete and post.failed_at is None and not post.published:
                self._advance_processing(post)
            data: dict[str, Any] = {
                "status": post.status(),
                "uploaded_bytes": post.bytes_received,
                # Numbers beyond 2**53 on purpose, as TikTok sends them.
                "publicaly_available_post_id": list(post.public_post_ids),
            }
            if post.failed_at is not None:
                data["fail_reason"] = post.fail_reason
            return data

    def _advance_processing(self, post: Post) -> None:
        if post.fail_reason is not None:
            post.failed_at = self.now()
        elif post.processing_fetches_left > 0:
            post.processing_fetches_left -= 1
        else:
            post.published = True
            if post.post_info.get("privacy_level") != "SELF_ONLY":
                post.public_post_ids.append(7 * 10**18 + secrets.randbelow(10**18))


def _check_post_info(post_info: dict[str, Any]) -> None:
    title = post_info.get("title", "")
    if not isinstance(title, str):
        raise StubError(400, "invalid_param", "title must be a string")
    if utf16_units(title) > TITLE_MAX_UTF16_UNITS:
        raise StubError(400, "invalid_param", "title exceeds 2200 UTF-16 code units")
    for flag in (
        "disable_duet",
        "disable_stitch",
        "disable_comment",
        "brand_content_toggle",
        "brand_organic_toggle",
        "is_aigc",
    ):
        if flag in post_info and not isinstance(post_info[flag], bool):
            raise StubError(400, "invalid_param", f"{flag} must be a boolean")
    cover = post_info.get("video_cover_timestamp_ms")
    if cover is not None and not (is_int(cover) and 0 <= cover < 2**31):
        raise StubError(400, "invalid_param", "video_cover_timestamp_ms must be an int32")


def _int_field(source: dict[str, Any], name: str) -> int:
    value = source.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise StubError(400, "invalid_param", f"source_info.{name} must be an integer")
    return value


def _check_chunking(source: dict[str, Any]) -> tuple[int, int, int]:
    """TikTok's FILE_UPLOAD chunk rules; returns (video_size, chunk_size, total_chunk_count)."""
    video_size = _int_field(source, "video_size")
    chunk_size = _int_field(source, "chunk_size")
    count = _int_field(source, "total_chunk_count")
    if not 0 < video_size <= MAX_VIDEO_BYTES:
        raise StubError(400, "invalid_param", "video_size must be 1 byte to 4 GB")
    if chunk_size <= 0 or count <= 0:
        raise StubError(400, "invalid_param", "The chunk size is invalid")
    if video_size < MIN_CHUNK_BYTES or (chunk_size == video_size and count == 1):
        # Small files go whole; files up to the chunk maximum may too.
        if chunk_size != video_size or count != 1 or video_size > MAX_CHUNK_BYTES:
            raise StubError(400, "invalid_param", "The chunk size is invalid")
        return video_size, chunk_size, count
    if not MIN_CHUNK_BYTES <= chunk_size <= MAX_CHUNK_BYTES:
        raise StubError(400, "invalid_param", "The chunk size is invalid")
    if count != video_size // chunk_size or not 1 <= count <= MAX_CHUNK_COUNT:
        raise StubError(400, "invalid_param", "The total chunk count is invalid")
    if count == 1:
        # Reached only with chunk_size != video_size: a one-chunk plan must declare the file.
        raise StubError(400, "invalid_param", "The chunk size is invalid")
    if chunk_size + video_size % chunk_size > MAX_LAST_CHUNK_BYTES:
        raise StubError(400, "invalid_param", "The last chunk is too large")
    return video_size, chunk_size, count
