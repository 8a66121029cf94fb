"""The errors the domain reasons about. Adapters raise these (translating their SDK's errors), so
the use cases decide on what happened, not on which library said so. The errors a client sees
are in `post_scheduler.errors` (mapped once to HTTP)."""

from __future__ import annotations


class LeaseLost(Exception):
    """Another run owns the post now (our lease expired and it was taken over), or the post
    left the publishing state; this run must stop touching it."""


class TokensChanged(Exception):
    """Another run rotated the account's tokens first; re-read them."""


# --- video files ------------------------------------------------------------------------------


class VideoReadError(Exception):
    """Reading the video failed in a way a retry may fix (network, throttling)."""


class VideoChanged(Exception):
    """The object is no longer the one the publish started with (its ETag changed)."""


class VideoMissing(Exception):
    """The object is gone."""


class UploadNotFound(Exception):
    """The multipart upload is gone: completed or aborted already."""


class UploadPartsInvalid(Exception):
    """The store refused to assemble the parts as listed; the message says why (safe to show)."""


class StorageError(Exception):
    """The object store failed a write or delete (network, throttling, permissions)."""


# --- webhooks ---------------------------------------------------------------------------------


class UnsafeTarget(Exception):
    """The URL may not receive webhooks; the message says why, for the client."""


# --- TikTok -----------------------------------------------------------------------------------


class TikTokError(Exception):
    """A call to TikTok failed. `code` is TikTok's error code (or ours: `network_error`,
    `invalid_response`, `http_<status>`); `retryable` says whether repeating the same call
    later can succeed."""

    retryable: bool = False

    def __init__(
        self,
        code: str,
        message: str = "",
        http_status: int | None = None,
        log_id: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.log_id = log_id


class TikTokTransientError(TikTokError):
    """Server trouble, rate limiting or a lost connection: retry with backoff."""

    retryable = True


class TikTokPermanentError(TikTokError):
    """TikTok refused the request as it stands; repeating it will not help."""


class TikTokAuthError(TikTokError):
    """The access token is invalid or expired: refresh it once, then give up."""


class TikTokUploadRangeError(TikTokError):
    """The chunk does not continue the upload (416); resume after `received_through`."""

    retryable = True

    def __init__(
        self,
        received_through: int | None,
        message: str = "",
        http_status: int | None = 416,
        log_id: str | None = None,
    ) -> None:
        super().__init__("upload_range_mismatch", message, http_status, log_id)
        self.received_through = received_through


class TikTokUploadExpired(TikTokError):
    """The upload URL's hour is over (403); this upload cannot be finished."""


class ChunkLengthError(ValueError):
    """The chunk's bytes did not add up to the length announced for it."""
