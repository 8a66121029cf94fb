"""API keys: random, shown once, stored only as a SHA-256 hash (plus a short prefix to
recognise them by)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

API_KEY_PREFIX = "psk_"
_VISIBLE_PREFIX_LENGTH = 12


@dataclass(frozen=True)
class NewApiKey:
    plaintext: str  # returned to the user once, never stored
    key_hash: str
    prefix: str


def hash_api_key(plaintext: str) -> str:
    """The stored form of a key. A fast hash is right here: keys carry 256 random bits, so there
    is nothing to brute-force, and the authorizer must stay quick."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def generate_api_key() -> NewApiKey:
    """A fresh key with 256 bits of entropy."""
    plaintext = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return NewApiKey(plaintext, hash_api_key(plaintext), plaintext[:_VISIBLE_PREFIX_LENGTH])


def looks_like_api_key(token: str) -> bool:
    return token.startswith(API_KEY_PREFIX) and 16 <= len(token) <= 128
