"""TikTok's OAuth and Content Posting API over HTTP: token exchange and refresh, user and
creator info, Direct Post init, chunked FILE_UPLOAD and status, with every failure sorted into
retryable or not. Tokens and the upload URL's query (it authorises the upload) are never logged.

`transport` holds the session and the error mapping, `oauth` the token calls, `posting` the
Content Posting calls and `upload` the chunk PUTs; `TikTokClient` is all of them."""

from __future__ import annotations

from typing import Final

from post_scheduler.adapters.tiktok_client.oauth import OAuthCalls
from post_scheduler.adapters.tiktok_client.posting import PostingCalls
from post_scheduler.adapters.tiktok_client.transport import CREATOR_INFO_PATH as CREATOR_INFO_PATH
from post_scheduler.adapters.tiktok_client.transport import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
from post_scheduler.adapters.tiktok_client.transport import OAUTH_GRANT_PATH as OAUTH_GRANT_PATH
from post_scheduler.adapters.tiktok_client.transport import (
    STATUS_FETCH_PATH as STATUS_FETCH_PATH,
)
from post_scheduler.adapters.tiktok_client.transport import USER_INFO_PATH as USER_INFO_PATH
from post_scheduler.adapters.tiktok_client.transport import VIDEO_INIT_PATH as VIDEO_INIT_PATH
from post_scheduler.adapters.tiktok_client.transport import classify_error as classify_error
from post_scheduler.adapters.tiktok_client.upload import UploadCalls

# The domain owns these types; they are re-exported here for the callers that import them from
# the client.
from post_scheduler.domain.chunks import DEFAULT_CHUNK_BYTES as DEFAULT_CHUNK_BYTES
from post_scheduler.domain.chunks import MAX_CHUNK_BYTES as MAX_CHUNK_BYTES
from post_scheduler.domain.chunks import MAX_CHUNK_COUNT as MAX_CHUNK_COUNT
from post_scheduler.domain.chunks import MAX_VIDEO_BYTES as MAX_VIDEO_BYTES
from post_scheduler.domain.chunks import MIN_CHUNK_BYTES as MIN_CHUNK_BYTES
from post_scheduler.domain.chunks import ChunkPlan as ChunkPlan
from post_scheduler.domain.chunks import plan_chunks as plan_chunks
from post_scheduler.domain.errors import ChunkLengthError as ChunkLengthError
from post_scheduler.domain.errors import TikTokAuthError as TikTokAuthError
from post_scheduler.domain.errors import TikTokError as TikTokError
from post_scheduler.domain.errors import TikTokPermanentError as TikTokPermanentError
from post_scheduler.domain.errors import TikTokTransientError as TikTokTransientError
from post_scheduler.domain.errors import TikTokUploadExpired as TikTokUploadExpired
from post_scheduler.domain.errors import TikTokUploadRangeError as TikTokUploadRangeError
from post_scheduler.domain.tiktok import PROCESSING_STATUSES as PROCESSING_STATUSES
from post_scheduler.domain.tiktok import USER_FIELDS as USER_FIELDS
from post_scheduler.domain.tiktok import CreatorInfo as CreatorInfo
from post_scheduler.domain.tiktok import InitResult as InitResult
from post_scheduler.domain.tiktok import PublishStatus as PublishStatus
from post_scheduler.domain.tiktok import TikTokUser as TikTokUser
from post_scheduler.domain.tiktok import TokenGrant as TokenGrant
from post_scheduler.domain.tiktok import UploadProgress as UploadProgress

VIDEO_CONTENT_TYPES: Final = frozenset({"video/mp4", "video/quicktime", "video/webm"})


class TikTokClient(OAuthCalls, PostingCalls, UploadCalls):
    """One HTTP session to TikTok's open API; every call has a timeout and raises a
    `TikTokError` subclass on failure."""
