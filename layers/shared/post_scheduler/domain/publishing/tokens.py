"""A claimed run's TikTok calls and the account's tokens. TikTok rotates the refresh token on
every use, so one run per account refreshes at a time: it takes the account's short refresh lease
(a conditional write on the token version read), rotates, and stores the new tokens before use;
the others wait, bounded, and use what it stored."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from post_scheduler.domain.errors import (
    TikTokAuthError,
    TikTokError,
    TikTokPermanentError,
    TikTokTransientError,
    TokensChanged,
)
from post_scheduler.domain.publishing.models import (
    PublisherConfig,
    PublishFailed,
    PublishMetrics,
    RetryLater,
    describe,
    needs_reconnection,
)

if TYPE_CHECKING:
    from post_scheduler.domain.publishing.publisher import PostPublisher
    from post_scheduler.domain.tiktok import TokenGrant
    from post_scheduler.models.records import ScheduleRecord, TikTokAccountRecord

logger = logging.getLogger(__name__)
T = TypeVar("T")


class TikTokSession:
    """The state of one claimed publish (the post as last checkpointed, the account) and its
    TikTok calls: each with a fresh access token, transient errors retried while time allows."""

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
                        f" account ({describe(error)})"
                    ) from None
                refreshed = True
                self._token(force_refresh=True)
            except TikTokTransientError as error:
                attempt += 1
                self._backoff(attempt, error)
            except TikTokPermanentError as error:
                raise PublishFailed(f"TikTok refused the post: {describe(error)}") from None

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
                raise PublishFailed(needs_reconnection(latest.needsReconnection))
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
                f" ({describe(error)})"
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
                    extra={"accountId": account_id, "attempt": attempt, "error": describe(error)},
                )
                if attempt < self.config.token_save_attempts:
                    self.clock.sleep(self.config.token_save_backoff_seconds * 2 ** (attempt - 1))
        assert last_error is not None
        reason = (
            "TikTok rotated the account's tokens but they could not be saved"
            f" ({describe(last_error)}); reconnect the account"
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
            raise RetryLater(f"still failing after {attempt} attempts: {describe(error)}")
        delay = min(
            self.config.backoff_seconds * 2 ** (attempt - 1), self.config.max_backoff_seconds
        )
        self._ensure_time(f"retrying after {describe(error)}", delay)
        logger.info(
            "transient TikTok error; retrying",
            extra={
                "scheduleId": self.post.scheduleId,
                "attempt": attempt,
                "error": describe(error),
            },
        )
        self.clock.sleep(delay)

    def _ensure_time(self, doing: str, needed_seconds: float = 0.0) -> None:
        left = self.remaining_ms() / 1000 - self.config.reserve_seconds
        if left < needed_seconds:
            raise RetryLater(f"out of time while {doing}; the next attempt resumes")
