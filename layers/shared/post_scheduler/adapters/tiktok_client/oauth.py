"""TikTok's OAuth token endpoint: the code exchange and the refresh with rotation. Tokens are
never logged."""

from __future__ import annotations

from typing import Any

from post_scheduler.adapters.tiktok_client.transport import (
    OAUTH_GRANT_PATH,
    TikTokTransport,
    classify_error,
    json_object,
    text_or_none,
    unreadable,
)
from post_scheduler.domain.errors import TikTokTransientError
from post_scheduler.domain.tiktok import TokenGrant


class OAuthCalls(TikTokTransport):
    """The token grants."""

    def exchange_code(
        self,
        client_key: str,
        client_secret: str,
        code: str,
        redirect_uri: str,
        code_verifier: str | None = None,
    ) -> TokenGrant:
        """Trades the authorization code from TikTok's redirect for the user's tokens."""
        form = {
            "client_key": client_key,
            "client_secret": client_secret,
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": redirect_uri,
        }
        if code_verifier is not None:
            form["code_verifier"] = code_verifier
        return self._token(form, "exchange_code")

    def refresh_access_token(
        self, client_key: str, client_secret: str, refresh_token: str
    ) -> TokenGrant:
        """A new access token. TikTok rotates the refresh token too: store the returned one,
        the old one stops working."""
        form = {
            "client_key": client_key,
            "client_secret": client_secret,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }
        return self._token(form, "refresh_access_token")

    def _token(self, form: dict[str, str], operation: str) -> TokenGrant:
        response = self._send(
            "POST",
            self.base_url + OAUTH_GRANT_PATH,
            operation,
            data=form,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cache-Control": "no-cache",
            },
        )
        body = json_object(response)
        if body is None:
            raise unreadable(response)
        error = body.get("error")
        # OAuth errors arrive as {"error": "<code>", "error_description": ...}, whatever the
        # HTTP status; tolerate the Content Posting envelope too.
        if isinstance(error, dict):
            code = text_or_none(error.get("code")) or "ok"
            message = error.get("message", "")
        else:
            code = text_or_none(error) or "ok"
            message = body.get("error_description", "")
        if code != "ok":
            raise classify_error(
                code, str(message), response.status_code, text_or_none(body.get("log_id"))
            )
        if not response.ok:
            raise classify_error(f"http_{response.status_code}", "", response.status_code)
        nested = body.get("data")
        grant: dict[str, Any] = nested if isinstance(nested, dict) else body
        try:
            return TokenGrant(
                access_token=str(grant["access_token"]),
                expires_in=int(grant["expires_in"]),
                refresh_token=str(grant["refresh_token"]),
                refresh_expires_in=int(grant["refresh_expires_in"]),
                open_id=str(grant["open_id"]),
                scope=str(grant.get("scope", "")),
            )
        except (KeyError, TypeError, ValueError):
            raise TikTokTransientError(
                "invalid_response", "token response lacks fields", response.status_code
            ) from None
