"""TikTok tokens at rest: encrypted with the project's KMS key, bound to the account they
belong to (encryption context), stored as base64 text."""

from __future__ import annotations

import base64
from typing import Any

from post_scheduler.adapters.aws import aws_client


class TokenCipher:
    """Encrypts and decrypts one token at a time with KMS (tokens are far below 4 KB)."""

    def __init__(self, key_id: str, client: Any = None) -> None:
        self.key_id = key_id
        self.client = client if client is not None else aws_client("kms")

    @staticmethod
    def _context(account_id: str, purpose: str) -> dict[str, str]:
        # A ciphertext copied onto another account or field will not decrypt.
        return {"accountId": account_id, "purpose": purpose}

    def encrypt(self, plaintext: str, account_id: str, purpose: str) -> str:
        response = self.client.encrypt(
            KeyId=self.key_id,
            Plaintext=plaintext.encode(),
            EncryptionContext=self._context(account_id, purpose),
        )
        return base64.b64encode(response["CiphertextBlob"]).decode()

    def decrypt(self, ciphertext: str, account_id: str, purpose: str) -> str:
        response = self.client.decrypt(
            CiphertextBlob=base64.b64decode(ciphertext),
            EncryptionContext=self._context(account_id, purpose),
        )
        plaintext: bytes = response["Plaintext"]
        return plaintext.decode()
