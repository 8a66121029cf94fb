"""TikTok accounts: the connect flow's answers and a deletion's outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from post_scheduler.models.responses import AccountItem

# Schemas are built at a model's first use, so a function pays only for the models it uses.
_DEFERRED = ConfigDict(defer_build=True)


class ConnectStart(BaseModel):
    """Where to send the user's browser to connect a TikTok account."""

    model_config = _DEFERRED

    authorizationUrl: str
    state: str
    redirectUri: str
    expiresAt: str


_Param = Annotated[str, StringConstraints(min_length=1, max_length=2048)]


class CompleteConnectRequest(BaseModel):
    """What TikTok handed back to the callback, passed on by the user who started the flow."""

    model_config = ConfigDict(
        extra="forbid",
        defer_build=True,
        json_schema_extra={"examples": [{"code": "...", "state": "..."}]},
    )

    state: _Param = Field(description="The `state` TikTok returned (the connect call's state)")
    code: _Param | None = Field(None, description="TikTok's authorization code")
    error: _Param | None = Field(None, description="TikTok's `error`, when the user declined")
    errorDescription: _Param | None = Field(None, description="TikTok's `error_description`")


class ConnectedAccount(BaseModel):
    """The account a completed authorization created or refreshed."""

    model_config = _DEFERRED

    account: AccountItem
    created: bool
    scope: str


class DeletedAccount(BaseModel):
    model_config = _DEFERRED

    id: str
    deleted: bool = True
    cancelledScheduleIds: list[str]


class OAuthStateRecord(BaseModel):
    """A connect flow in progress: the user it belongs to, kept under the hash of its `state`
    until the callback consumes it (once) or it expires."""

    model_config = _DEFERRED

    stateHash: str
    userId: str
    redirectUri: str
    codeVerifier: str | None = None
    createdAt: datetime
    expiresAt: int  # epoch seconds; also the table's TTL attribute
