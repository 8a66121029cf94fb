"""API key use cases: mint (the plaintext is returned once), list, revoke.

The table keeps a key under the SHA-256 of its plaintext (the authorizer's lookup) and lists a
user's keys through the user index. Revocation deletes the item; API Gateway may keep answering
from its cached authorization for that key for up to the authorizer cache TTL
(`AuthorizerCacheSeconds`, 300 s by default).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from post_scheduler.auth.api_keys import generate_api_key
from post_scheduler.errors import Conflict, NotFound
from post_scheduler.models.api_keys import ApiKeyView, CreatedApiKey
from post_scheduler.models.records import ApiKeyRecord
from post_scheduler.timestamps import utc_now

if TYPE_CHECKING:
    from post_scheduler.domain.ports import SchedulingTablePort

# Enough for every environment and integration a user runs; a runaway script stops here.
MAX_KEYS_PER_USER = 20


class ApiKeyService:
    def __init__(
        self,
        table: SchedulingTablePort,
        max_keys: int = MAX_KEYS_PER_USER,
        clock: Callable[[], datetime] = utc_now,
        on_revoked: Callable[[str], None] | None = None,
    ) -> None:
        self.table = table
        # Told the revoked key's hash, so an authorizer in this process forgets it at once
        # (elsewhere its memory lapses within AuthorizerCacheSeconds).
        self.on_revoked = on_revoked
        self.max_keys = max_keys
        self.clock = clock

    def create(self, user_id: str, name: str) -> CreatedApiKey:
        """A new key for the user. The cap is checked on the user index (a soft limit: two
        concurrent requests at the cap may both pass)."""
        if self.table.count_api_keys(user_id) >= self.max_keys:
            raise Conflict(
                f"a user can hold at most {self.max_keys} API keys; revoke one first",
                {"maxKeys": self.max_keys},
            )
        key = generate_api_key()
        record = ApiKeyRecord(
            keyHash=key.key_hash,
            keyId=str(uuid.uuid4()),
            userId=user_id,
            prefix=key.prefix,
            name=name,
            createdAt=self.clock(),
        )
        self.table.put_api_key(record)
        return CreatedApiKey(**ApiKeyView.of(record).model_dump(), apiKey=key.plaintext)

    def list(
        self, user_id: str, limit: int, page_token: str | None
    ) -> tuple[list[ApiKeyView], str | None]:
        records, token = self.table.list_api_keys(user_id, limit, page_token)
        return [ApiKeyView.of(r) for r in records], token

    def revoke(self, user_id: str, key_id: str) -> ApiKeyView:
        """Delete the user's key (another user's key id reads as unknown)."""
        record = self.table.find_api_key(user_id, key_id)
        if record is None:
            raise NotFound("API key not found")
        self.table.delete_api_key(record)
        if self.on_revoked is not None:
            self.on_revoked(record.keyHash)
        return ApiKeyView.of(record)
