"""TikTok accounts: the connect flow's answers and a deletion's outcome."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from post_scheduler.models.responses import AccountItem


class ConnectStart(BaseModel):
    """Where to send the user's browser to connect a TikTok account."""

    authorizationUrl: str
    state: str
    redirectUri: str
    expiresAt: str


class ConnectedAccount(BaseModel):
    """The account a completed authorization created or refreshed."""

    account: AccountItem
    created: bool
    scope: str


class DeletedAccount(BaseModel):
    id: str
    deleted: bool = True
    cancelledScheduleIds: list[str]


class OAuthStateRecord(BaseModel):
    """A connect flow in progress: the user it belongs to, kept under the hash of its `state`
    until the callback consumes it (once) or it expires."""

    stateHash: str
    userId: str
    redirectUri: str
    codeVerifier: str | None = None
    createdAt: datetime
    expiresAt: int  # epoch seconds; also the table's TTL attribute
