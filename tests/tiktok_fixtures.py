"""The stand-in TikTok as pytest fixtures: a fresh server per test and a creator with tokens.
Use from a test module with `pytest_plugins = ("tests.tiktok_fixtures",)`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from local.tiktok import TikTokStub

CREATOR_OPEN_ID = "creator-open-id-1"
REDIRECT_URI = "https://scheduler.example/oauth/tiktok/callback"


@dataclass(frozen=True)
class StubCreator:
    open_id: str
    access_token: str
    refresh_token: str


@pytest.fixture
def tiktok_stub() -> Iterator[TikTokStub]:
    """A running stand-in TikTok on a free loopback port, stopped after the test."""
    with TikTokStub() as stub:
        yield stub


@pytest.fixture
def tiktok_creator(tiktok_stub: TikTokStub) -> StubCreator:
    """A public creator who authorised the app with every scope the scheduler uses."""
    tiktok_stub.add_creator(CREATOR_OPEN_ID, "creator.one", "Creator One")
    tokens = tiktok_stub.issue_tokens(CREATOR_OPEN_ID)
    return StubCreator(CREATOR_OPEN_ID, tokens["access_token"], tokens["refresh_token"])
