"""TikTok account use cases: connect one (OAuth authorization code flow), and disconnect one
(its pending posts are cancelled first, exactly as a client's cancel would).

The `state` of a connect flow is 256 random bits handed to the browser; the table keeps its
SHA-256 with the user it belongs to, the redirect URI and (with PKCE) the code verifier, for ten
minutes.

TikTok redirects the browser to the public callback, which links nothing: it only hands `code`
and `state` on (to the deployer's app, or to a page that asks for the user's API key). The
account is linked by an authenticated `POST .../connect/complete`, and only when its caller is
the user who started the flow: the state item is deleted on the condition that it belongs to
the caller, so a state works once and only for its owner. A forged, altered, replayed or
foreign state finds nothing (one message for all, revealing no owner); an old one is refused by
its expiry time even before the table's TTL removes it. So an attacker who gets a victim to
approve the attacker's authorization URL links nothing: the victim's completion is refused.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from post_scheduler.domain.errors import TikTokAuthError, TikTokError
from post_scheduler.domain.preflight import creator_info_snapshot
from post_scheduler.errors import (
    ApiError,
    Conflict,
    DependencyUnavailable,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from post_scheduler.models.accounts import (
    ConnectedAccount,
    ConnectStart,
    DeletedAccount,
    OAuthStateRecord,
)
from post_scheduler.models.records import CreatorInfoSnapshot, TikTokAccountRecord
from post_scheduler.models.requests import UpdateScheduleRequest
from post_scheduler.models.responses import AccountItem
from post_scheduler.timestamps import format_utc, utc_now

if TYPE_CHECKING:
    from post_scheduler.domain.ports import SchedulingTablePort, TikTokPort, TokenCipherPort
    from post_scheduler.domain.schedules import ScheduleService
    from post_scheduler.domain.tiktok import TikTokAppCredentials, TokenGrant

logger = logging.getLogger(__name__)

# What the app asks for: the profile, and posting videos (Direct Post, and uploads).
REQUESTED_SCOPES = ("user.info.basic", "video.publish", "video.upload")
# Without these the account is useless to the scheduler, so connecting it is refused.
REQUIRED_SCOPES = frozenset({"user.info.basic", "video.publish"})
# Token purposes in the encryption context (the publisher decrypts with the same ones).
ACCESS, REFRESH = "access", "refresh"
STATE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
# Account ids derived from (user, TikTok open_id): reconnecting the same TikTok user updates the
# same account, even when two callbacks race.
_ACCOUNT_NAMESPACE = uuid.UUID("0b0c7b5e-5a8e-4d3e-9a51-3f2a7c1d9e64")
# TikTok's own mistakes; nothing the browser or user can fix.
_APP_ERRORS = frozenset({"invalid_client", "unauthorized_client", "unsupported_grant_type"})


@dataclass(frozen=True)
class OAuthSettings:
    authorize_url: str = "https://www.tiktok.com/v2/auth/authorize/"
    # The callback registered with TikTok; from the deployment's settings, never a request.
    redirect_uri: str = ""
    use_pkce: bool = False
    state_seconds: int = 600


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: base64url(SHA-256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def account_id_for(user_id: str, open_id: str) -> str:
    return str(uuid.uuid5(_ACCOUNT_NAMESPACE, f"{user_id}\n{open_id}"))


class AccountService:
    """Connecting and disconnecting TikTok accounts."""

    def __init__(
        self,
        table: SchedulingTablePort,
        *,
        settings: OAuthSettings,
        credentials: Callable[[], TikTokAppCredentials],
        tiktok: Callable[[], TikTokPort] | None = None,
        cipher: Callable[[], TokenCipherPort] | None = None,
        schedules: Callable[[], ScheduleService] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        # Collaborators come as factories: each function builds only what it uses.
        self.table = table
        self.settings = settings
        self.credentials = credentials
        self._tiktok = tiktok
        self._cipher = cipher
        self._schedules = schedules
        self.clock = clock

    # --- connect: the authorization URL ---------------------------------------------------------

    def start_connect(self, user_id: str, default_redirect_uri: str = "") -> ConnectStart:
        """TikTok's authorization URL for this user, with a fresh single-use state.
        `default_redirect_uri` (used when the deployment configures none) must come from the
        API's own identity, never from request headers."""
        now = self.clock()
        redirect_uri = self.settings.redirect_uri or default_redirect_uri
        if not redirect_uri:
            raise RuntimeError("no TikTok redirect URI is configured")
        state = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(48) if self.settings.use_pkce else None
        expires = now + timedelta(seconds=self.settings.state_seconds)
        self.table.put_oauth_state(
            OAuthStateRecord(
                stateHash=state_hash(state),
                userId=user_id,
                redirectUri=redirect_uri,
                codeVerifier=verifier,
                createdAt=now,
                expiresAt=int(expires.timestamp()),
            )
        )
        query = {
            "client_key": self.credentials().client_key,
            "scope": ",".join(REQUESTED_SCOPES),
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "state": state,
        }
        if verifier is not None:
            query.update(code_challenge=pkce_challenge(verifier), code_challenge_method="S256")
        return ConnectStart(
            authorizationUrl=f"{self.settings.authorize_url}?{urlencode(query, safe=',')}",
            state=state,
            redirectUri=redirect_uri,
            expiresAt=format_utc(expires),
        )

    # --- connect: completed by the user who started it ------------------------------------------

    def finish_connect(
        self,
        user_id: str,
        *,
        state: str | None,
        code: str | None,
        error: str | None = None,
        error_description: str | None = None,
    ) -> ConnectedAccount:
        """Consume the caller's own state, trade the code for tokens, read the profile, and
        create or refresh the caller's account. A state issued to anyone else links nothing."""
        flow = self._take_state(user_id, state)
        if error:
            raise _authorization_refused(error, error_description)
        if not code:
            raise ValidationFailed("the request lacks the authorization `code`", {"field": "code"})
        credentials = self.credentials()
        tiktok = self._need(self._tiktok)()
        try:
            grant = tiktok.exchange_code(
                credentials.client_key,
                credentials.client_secret,
                code,
                flow.redirectUri,
                code_verifier=flow.codeVerifier,
            )
            missing = REQUIRED_SCOPES - grant.scopes
            if missing:
                raise Forbidden(
                    "the TikTok user did not grant every permission the scheduler needs;"
                    " connect again and allow them all",
                    {"missingScopes": sorted(missing), "grantedScopes": sorted(grant.scopes)},
                )
            username, display_name, creator = self._profile(tiktok, grant)
        except TikTokError as exc:
            raise _tiktok_failure(exc) from None
        return self._save(flow.userId, grant, username, display_name, creator)

    def _take_state(self, user_id: str, state: str | None) -> OAuthStateRecord:
        if not state:
            raise ValidationFailed("the request lacks `state`", {"field": "state"})
        invalid = ValidationFailed(
            "the state is invalid, was already used, or was issued to another user;"
            " start connecting again",
            {"field": "state"},
        )
        if not STATE_PATTERN.match(state):
            raise invalid
        flow = self.table.take_oauth_state(state_hash(state), user_id)
        if flow is None:
            raise invalid
        if flow.expiresAt <= self.clock().timestamp():
            raise ValidationFailed(
                "the state has expired; start connecting again", {"field": "state"}
            )
        return flow

    def _profile(
        self, tiktok: TikTokPort, grant: TokenGrant
    ) -> tuple[str, str, CreatorInfoSnapshot | None]:
        """(username, display name, creator info). `username` needs user.info.profile since
        TikTok's 2024 scope change; without it, the creator info of video.publish carries the
        handle. The creator info is kept for the pre-flight checks at create."""
        fields = ["open_id", "avatar_url", "display_name"]
        if "user.info.profile" in grant.scopes:
            fields.append("username")
        user = tiktok.user_info(grant.access_token, fields)
        username = user.username or ""
        snapshot = None
        try:
            creator = tiktok.creator_info(grant.access_token)
        except TikTokError as exc:  # e.g. a posting cap right now: both can wait
            logger.info("creator info unavailable", extra={"code": exc.code})
        else:
            username = username or creator.creator_username
            snapshot = creator_info_snapshot(creator)
        return username, user.display_name or username, snapshot

    def _save(
        self,
        user_id: str,
        grant: TokenGrant,
        username: str,
        display_name: str,
        creator: CreatorInfoSnapshot | None = None,
    ) -> ConnectedAccount:
        now = self.clock()
        existing = self.table.find_account_by_open_id(user_id, grant.open_id)
        account_id = existing.accountId if existing else account_id_for(user_id, grant.open_id)
        cipher = self._need(self._cipher)()
        account = TikTokAccountRecord(
            accountId=account_id,
            userId=user_id,
            openId=grant.open_id,
            username=username,
            displayName=display_name,
            scope=grant.scope,
            accessTokenCipher=cipher.encrypt(grant.access_token, account_id, ACCESS),
            refreshTokenCipher=cipher.encrypt(grant.refresh_token, account_id, REFRESH),
            accessTokenExpiresAt=now + timedelta(seconds=grant.expires_in),
            refreshTokenExpiresAt=now + timedelta(seconds=grant.refresh_expires_in),
            creatorInfo=creator,
            creatorInfoAt=now if creator is not None else None,
            createdAt=now,
            updatedAt=now,
        )
        created = self.table.save_account_grant(account)
        logger.info(
            "TikTok account connected",
            extra={"accountId": account_id, "userId": user_id, "newAccount": created},
        )
        stored = self.table.get_account(user_id, account_id) or account
        return ConnectedAccount(account=AccountItem.of(stored), created=created, scope=grant.scope)

    # --- disconnect -----------------------------------------------------------------------------

    def delete(self, user_id: str, account_id: str) -> DeletedAccount:
        """Cancel the account's pending posts (each as PUT status=cancelled does: the post,
        the video lock and the plan counter in one transaction, then its schedule removed),
        then delete the account. Refused while one of its posts is being published."""
        if self.table.get_account(user_id, account_id) is None:
            raise NotFound("TikTok account not found")
        cancelled = self._cancel_posts(user_id, account_id)
        self.table.delete_account(user_id, account_id)
        # A post created between the cancellations and the delete is visible now (creates
        # after the delete fail their account check).
        cancelled += self._cancel_posts(user_id, account_id, after_delete=True)
        logger.info(
            "TikTok account deleted",
            extra={"accountId": account_id, "cancelledPosts": len(cancelled)},
        )
        return DeletedAccount(id=account_id, cancelledScheduleIds=cancelled)

    def _cancel_posts(self, user_id: str, account_id: str, after_delete: bool = False) -> list[str]:
        active = self.table.list_active_schedules_of_account(user_id, account_id)
        publishing = [post.scheduleId for post in active if post.status == "publishing"]
        if publishing and not after_delete:
            raise Conflict(
                "a post to this account is being published right now; retry in a few minutes",
                {"scheduleIds": publishing},
            )
        service = self._need(self._schedules)()
        cancelled = []
        for post in active:
            if post.status != "pending":
                continue  # being published: it finishes (or fails) on its own
            service.update(user_id, post.scheduleId, UpdateScheduleRequest(status="cancelled"))
            cancelled.append(post.scheduleId)
        return cancelled

    @staticmethod
    def _need[T](factory: Callable[[], T] | None) -> Callable[[], T]:
        if factory is None:
            raise RuntimeError("this use case was built without a collaborator it needs")
        return factory


def _authorization_refused(error: str, description: str | None) -> ApiError:
    details = {"tiktokError": error[:100]}
    if description:
        details["tiktokErrorDescription"] = description[:300]
    if error == "access_denied":
        return Forbidden("the TikTok user declined to connect the account", details)
    return ValidationFailed(f"TikTok did not authorize the connection ({error[:100]})", details)


def _tiktok_failure(exc: Exception) -> ApiError:
    """A TikTok error during the callback, as the API's error."""
    assert isinstance(exc, TikTokError)
    details = {"tiktokError": exc.code}
    if exc.retryable or isinstance(exc, TikTokAuthError):
        return DependencyUnavailable(
            "TikTok is not answering properly; try connecting again", details
        )
    if exc.code in _APP_ERRORS:
        logger.error("TikTok refused the app's credentials", extra={"code": exc.code})
        return ApiError("the TikTok app is misconfigured; the operators have been told", details)
    if exc.code == "invalid_grant":
        return ValidationFailed(
            "TikTok refused the authorization code (expired, already used, or issued for"
            " another redirect URI); connect again",
            details,
        )
    return ValidationFailed(f"TikTok refused the connection ({exc.code})", details)
