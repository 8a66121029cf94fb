"""API keys as clients create and see them. The plaintext key appears once, in the answer to
its creation; afterwards only its prefix identifies it."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from post_scheduler.models.records import ApiKeyRecord
from post_scheduler.timestamps import format_utc

KeyName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]

# Schemas are built at a model's first use, so a function pays only for the models it uses.
_DEFERRED = ConfigDict(defer_build=True)


class CreateApiKeyRequest(BaseModel):
    """Body of POST /api/v1/api-keys."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        defer_build=True,
        json_schema_extra={"examples": [{"name": "CI pipeline"}]},
    )

    name: KeyName = Field(description="A label to recognise the key by (1-100 characters)")


class ApiKeyView(BaseModel):
    model_config = _DEFERRED

    keyId: str
    prefix: str
    name: str
    createdAt: str
    lastUsedAt: str | None = None

    @classmethod
    def of(cls, record: ApiKeyRecord) -> ApiKeyView:
        return cls(
            keyId=record.keyId,
            prefix=record.prefix,
            name=record.name,
            createdAt=format_utc(record.createdAt),
            lastUsedAt=None if record.lastUsedAt is None else format_utc(record.lastUsedAt),
        )


class CreatedApiKey(ApiKeyView):
    """The new key, with its plaintext: shown this once, never stored."""

    apiKey: str
