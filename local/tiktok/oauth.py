"""OAuth as TikTok runs it: the authorization page (approved at once), the token endpoint
(code exchange with PKCE, refresh with rotation) and Bearer checks of access tokens and
scopes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

from local.tiktok.protocol import DEFAULT_SCOPE, Reply, StubError, s256
from local.tiktok.state import Grant, StubState

if TYPE_CHECKING:
    from local.tiktok.server import StubHandler


class OAuth(StubState):
    """The authorize page, the token endpoint and access-token checks."""

    def _authorize(self, query: dict[str, str]) -> Reply:
        """TikTok's authorization page, approved at once: the user is the creator named by the
        stand-in's own `open_id` parameter (default "stand-in-creator", created on first use);
        the browser is sent back to `redirect_uri` with a code and the caller's state, as TikTok
        does once the user clicks Authorize."""
        redirect_uri = query.get("redirect_uri", "")
        problems = []
        if query.get("client_key") != self.client_key:
            problems.append("unknown client_key")
        if query.get("response_type") != "code":
            problems.append("response_type must be code")
        if not redirect_uri.startswith(("http://", "https://")):
            problems.append("redirect_uri is missing")
        challenge = query.get("code_challenge")
        if challenge and query.get("code_challenge_method") != "S256":
            problems.append("code_challenge_method must be S256")
        if problems:
            page = "<h1>TikTok (stand-in): authorization refused</h1><p>" + "; ".join(problems)
            return Reply(400, page.encode(), {"Content-Type": "text/html; charset=utf-8"})
        open_id = query.get("open_id") or "stand-in-creator"
        with self._lock:
            if open_id not in self._creators:
                self.add_creator(open_id, open_id.replace("-", "_"), f"Stand-in {open_id}")
            code = self.authorization_code(
                open_id, redirect_uri, scope=query.get("scope") or DEFAULT_SCOPE
            )
            self._codes[code].code_challenge = challenge or None
        separator = "&" if "?" in redirect_uri else "?"
        target = (
            f"{redirect_uri}{separator}{urlencode({'code': code, 'state': query.get('state', '')})}"
        )
        return Reply(302, b"", {"Location": target})

    def _oauth_token(self, request: StubHandler, body: bytes) -> dict[str, Any]:
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise StubError(400, "invalid_request", "body must be form-encoded")
        form = {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
        if form.get("client_key") != self.client_key:
            raise StubError(401, "invalid_client", "unknown client_key")
        if form.get("client_secret") != self.client_secret:
            raise StubError(401, "invalid_client", "client_secret does not match")
        grant_type = form.get("grant_type")
        with self._lock:
            if grant_type == "authorization_code":
                return self._redeem_code(form)
            if grant_type == "refresh_token":
                return self._rotate(form)
        raise StubError(400, "unsupported_grant_type", f"grant_type {grant_type!r}")

    def _redeem_code(self, form: dict[str, str]) -> dict[str, Any]:
        code = self._codes.get(form.get("code", ""))
        if code is None or code.used or code.expires_at <= self.now():
            raise StubError(400, "invalid_grant", "authorization code is invalid or expired")
        code.used = True
        if form.get("redirect_uri") != code.redirect_uri:
            raise StubError(400, "invalid_grant", "redirect_uri does not match")
        if code.code_verifier is not None and form.get("code_verifier") != code.code_verifier:
            raise StubError(400, "invalid_grant", "code_verifier does not match")
        if code.code_challenge is not None and s256(form.get("code_verifier", "")) != (
            code.code_challenge
        ):
            raise StubError(400, "invalid_grant", "code_verifier does not match the challenge")
        return self._grant(code.open_id, code.scope, 86400, 31536000)

    def _rotate(self, form: dict[str, str]) -> dict[str, Any]:
        token = form.get("refresh_token", "")
        grant = self._refresh.get(token)
        now = self.now()
        if grant is None or grant.expires_at <= now:
            raise StubError(400, "invalid_grant", "refresh token is invalid or expired")
        # Rotation: the old refresh token stops working; the chain keeps its original expiry.
        del self._refresh[token]
        return self._grant(grant.open_id, grant.scope, 86400, grant.expires_at - now)

    def _authenticate(self, request: StubHandler) -> Grant:
        token = request.bearer
        with self._lock:
            grant = self._access.get(token or "")
            if grant is None or grant.expires_at <= self.now():
                raise StubError(
                    401, "access_token_invalid", "The access token is invalid or not found."
                )
            return grant

    @staticmethod
    def _require_scope(grant: Grant, *any_of: str) -> None:
        if not grant.scopes.intersection(any_of):
            raise StubError(
                401, "scope_not_authorized", f"The user did not authorize {'/'.join(any_of)}."
            )
