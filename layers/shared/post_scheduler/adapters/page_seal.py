"""Sealed page tokens: a list's position (any JSON value) encrypted and authenticated with
AES-256-GCM, bound to the query it was issued for, and valid for a limited time.

The token shows nothing (no table key, no user id) and cannot be altered, forged or used on
another query: the query's scope (e.g. the caller's partition) is the GCM associated data, so
another user's token fails authentication like a tampered one. Keys come from a key ring; in a
deployment, one data key of the KMS key the template creates (see KmsKeyRing).

Token layout (base64url, no padding): version byte, 2-byte length and the key id (a key
fingerprint), 12-byte nonce, ciphertext with its 16-byte tag.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import threading
import time
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
    """The deployment's one page-token key: a data key of its KMS key, kept encrypted in an SSM
    parameter so every function instance uses the same one. The first instance to need it
    creates it (PutParameter without overwrite, so racing instances agree on the first); each
    instance then opens it with KMS once. Tokens name the key by a short fingerprint, so a
    forged token is refused without calling KMS. Delete the parameter to rotate the key (open
    page tokens then become invalid)."""

    CONTEXT: ClassVar[dict[str, str]] = {"purpose": "page-token"}

    def __init__(self, key_id: str, parameter: str, kms: Any = None, ssm: Any = None) -> None:
        self.key_id = key_id
        self.parameter = parameter
        self._kms, self._ssm = kms, ssm
        self._key: tuple[bytes, bytes] | None = None
        self._lock = threading.Lock()

    def _client(self, service: str) -> Any:
        from post_scheduler.adapters.aws import aws_client

        return aws_client(service)

    def current(self) -> tuple[bytes, bytes]:
        with self._lock:
            if self._key is None:
                blob = self._stored_blob()
                kms = self._kms or self._client("kms")
                answer = kms.decrypt(
                    CiphertextBlob=blob, KeyId=self.key_id, EncryptionContext=self.CONTEXT
                )
                fingerprint = hashlib.sha256(blob).digest()[:8]
                self._key = (fingerprint, answer["Plaintext"])
            return self._key

    def find(self, key_id: bytes) -> bytes | None:
        fingerprint, key = self.current()
        return key if hmac.compare_digest(key_id, fingerprint) else None

    def _stored_blob(self) -> bytes:
        ssm = self._ssm or self._client("ssm")
        try:
            value = ssm.get_parameter(Name=self.parameter)["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            kms = self._kms or self._client("kms")
            made = kms.generate_data_key(
                KeyId=self.key_id, KeySpec="AES_256", EncryptionContext=self.CONTEXT
            )
            value = base64.b64encode(made["CiphertextBlob"]).decode()
            try:
                ssm.put_parameter(
                    Name=self.parameter,
                    Value=value,
                    Type="String",  # the value is KMS ciphertext already
                    Overwrite=False,
                    Description="The API's page-token data key, encrypted with PageTokenKey",
                )
            except ssm.exceptions.ParameterAlreadyExists:  # another instance was first
                value = ssm.get_parameter(Name=self.parameter)["Parameter"]["Value"]
        return base64.b64decode(value)


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
