"""JWT verification: signature, expiry, not-before, issuer and audience, with the algorithm
chosen by our configuration and never by the token alone."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import jwt

CLOCK_SKEW_SECONDS = 10


class InvalidToken(Exception):
    """The token was refused; the message is safe to show to the caller."""


@cache
def _jwks_client(url: str) -> jwt.PyJWKClient:
    # One client per URL and process: it caches the key set and refetches on an unknown `kid`.
    return jwt.PyJWKClient(url, cache_jwk_set=True, lifespan=300, timeout=5)


class JwtVerifier:
    """Verifies HS256 tokens with a shared secret and RS256 tokens against a JWKS URL.

    Each algorithm is tied to its own key source, so a token cannot make us use a public key as
    an HMAC secret (algorithm confusion), and `none` is never accepted.
    """

    def __init__(
        self,
        issuer: str,
        audience: str,
        hs256_secret: Callable[[], str | None] | None = None,
        jwks_url: str | None = None,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self._hs256_secret = hs256_secret
        self._jwks_url = jwks_url or None

    @property
    def enabled(self) -> bool:
        return bool(self.issuer and self.audience and (self._hs256_secret or self._jwks_url))

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or InvalidToken saying what was wrong."""
        if not self.enabled:
            raise InvalidToken("JWT authentication is not configured; use an API key")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("malformed token") from None
        algorithm = header.get("alg")
        key: Any
        if algorithm == "HS256" and self._hs256_secret is not None:
            key = self._hs256_secret()
            if not key:
                raise InvalidToken("JWT authentication is not configured; use an API key")
        elif algorithm == "RS256" and self._jwks_url is not None:
            try:
                key = _jwks_client(self._jwks_url).get_signing_key_from_jwt(token).key
            except jwt.PyJWKClientError:
                raise InvalidToken("token signed with an unknown key") from None
        else:
            raise InvalidToken(f"signing algorithm {algorithm!r} is not accepted")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token has expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("token is not meant for this API (audience)") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("token issuer is not trusted") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"token lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError:
            raise InvalidToken("token signature or format is invalid") from None
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise InvalidToken("token subject is missing")
        return claims
