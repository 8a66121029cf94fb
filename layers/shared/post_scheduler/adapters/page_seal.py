"""Sealed page tokens: a list's position (any JSON value) encrypted and authenticated with
AES-256-GCM, bound to the query it was issued for, and valid for a limited time.

The token shows nothing (no table key, no user id) and cannot be altered, forged or used on
another query: the query's scope (e.g. the caller's partition) is the GCM associated data, so
another user's token fails authentication like a tampered one. Keys come from a key ring; in a
deployment, data keys of a KMS key the template creates (one per function instance, the
encrypted data key travelling in the token so any instance can open it).

Token layout (base64url, no padding): version byte, 2-byte length and the key id (the
encrypted data key), 12-byte nonce, ciphertext with its 16-byte tag.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

_VERSION = 1
_NONCE_BYTES = 12
MAX_TOKEN_LENGTH = 2048
DEFAULT_LIFETIME_SECONDS = 24 * 3600


class SealedTokenInvalid(Exception):
    """The token was not issued for this query (tampered, foreign, malformed)."""


class SealedTokenExpired(SealedTokenInvalid):
    """The token was genuine but is too old."""


class KeyRing(Protocol):
    def current(self) -> tuple[bytes, bytes]:
        """(key id, 32-byte key) to seal new tokens with."""
        ...

    def find(self, key_id: bytes) -> bytes | None:
        """The key of `key_id`, or None when it is no key of this deployment."""
        ...


class StaticKeyRing:
    """One fixed key (tests, tools)."""

    def __init__(self, key: bytes, key_id: bytes = b"static") -> None:
        if len(key) != 32:
            raise ValueError("page token keys are 32 bytes")
        self._key, self._id = key, key_id

    def current(self) -> tuple[bytes, bytes]:
        return self._id, self._key

    def find(self, key_id: bytes) -> bytes | None:
        return self._key if key_id == self._id else None


class KmsKeyRing:
    """Data keys of a KMS key: one generated per process, others decrypted by KMS once and
    remembered (a bounded cache). The encryption context is the one the key policy requires."""

    CONTEXT: ClassVar[dict[str, str]] = {"purpose": "page-token"}

    def __init__(self, key_id: str, client: Any = None, cache_size: int = 64) -> None:
        self.key_id = key_id
        self._client = client
        self._current: tuple[bytes, bytes] | None = None
        self._known: OrderedDict[bytes, bytes] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            from post_scheduler.adapters.aws import aws_client

            self._client = aws_client("kms")
        return self._client

    def current(self) -> tuple[bytes, bytes]:
        with self._lock:
            if self._current is None:
                answer = self.client.generate_data_key(
                    KeyId=self.key_id, KeySpec="AES_256", EncryptionContext=self.CONTEXT
                )
                self._current = (answer["CiphertextBlob"], answer["Plaintext"])
            return self._current

    def find(self, key_id: bytes) -> bytes | None:
        with self._lock:
            if self._current is not None and key_id == self._current[0]:
                return self._current[1]
            if key_id in self._known:
                self._known.move_to_end(key_id)
                return self._known[key_id]
        try:
            answer = self.client.decrypt(
                CiphertextBlob=key_id, KeyId=self.key_id, EncryptionContext=self.CONTEXT
            )
        except self.client.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            # KMS's answers to a blob that is no data key of this key (moto: AccessDenied).
            if code in (
                "InvalidCiphertextException",
                "IncorrectKeyException",
                "ValidationException",
                "AccessDeniedException",
            ):
                return None
            raise
        key: bytes = answer["Plaintext"]
        with self._lock:
            self._known[key_id] = key
            while len(self._known) > self._cache_size:
                self._known.popitem(last=False)
        return key


class TokenSealer:
    """Seals and opens page positions for named scopes."""

    def __init__(
        self,
        keys: KeyRing,
        lifetime_seconds: int = DEFAULT_LIFETIME_SECONDS,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.keys = keys
        self.lifetime_seconds = lifetime_seconds
        self.clock = clock or (lambda: time.time())

    def seal(self, position: Any, scope: str) -> str:
        key_id, key = self.keys.current()
        expires = int(self.clock()) + self.lifetime_seconds
        plain = json.dumps({"p": position, "e": expires}, separators=(",", ":")).encode()
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(key).encrypt(nonce, plain, scope.encode())
        raw = bytes([_VERSION]) + len(key_id).to_bytes(2, "big") + key_id + nonce + sealed
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def unseal(self, token: str, scope: str) -> Any:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise SealedTokenInvalid("length")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise SealedTokenInvalid("encoding") from None
        if len(raw) < 3 or raw[0] != _VERSION:
            raise SealedTokenInvalid("version")
        id_length = int.from_bytes(raw[1:3], "big")
        key_id = raw[3 : 3 + id_length]
        rest = raw[3 + id_length :]
        if len(key_id) != id_length or not key_id or len(rest) < _NONCE_BYTES + 16:
            raise SealedTokenInvalid("layout")
        key = self.keys.find(key_id)
        if key is None:
            raise SealedTokenInvalid("key")
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            plain = AESGCM(key).decrypt(rest[:_NONCE_BYTES], rest[_NONCE_BYTES:], scope.encode())
        except InvalidTag:
            raise SealedTokenInvalid("tag") from None
        sealed = json.loads(plain)
        if int(sealed["e"]) <= self.clock():
            raise SealedTokenExpired("expired")
        return sealed["p"]
