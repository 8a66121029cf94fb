"""Demo data for the local stack: three users (free, basic, professional), each with an API key,
videos with real bytes in S3 and ten TikTok accounts whose tokens the stand-in TikTok issued
(stored encrypted, as the deployed system stores them). Written through the table adapter.

Idempotent: ids are derived from names, and what already exists is left as it is (a video that
has a pending post keeps its lock, an account keeps its tokens).
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from post_scheduler.adapters.table import SchedulingTable
from post_scheduler.adapters.token_cipher import TokenCipher
from post_scheduler.auth.api_keys import generate_api_key, hash_api_key, looks_like_api_key
from post_scheduler.models.records import (
    ApiKeyRecord,
    CreatorInfoSnapshot,
    TikTokAccountRecord,
    UserRecord,
    VideoRecord,
)

PLANS = ("free", "basic", "professional")
EXAMPLE_VIDEO_ID = "550e8400-e29b-41d4-a716-446655440000"
EXAMPLE_ACCOUNT_ID = "123e4567-e89b-12d3-a456-426614174000"
EXAMPLE_OWNER_PLAN = "basic"
VIDEOS_PER_USER = 60
ACCOUNTS_PER_USER = 10
# One video per user is over 20 MiB, so the publisher uploads it in several 10 MiB chunks; it is
# not a whole number of chunks, so the last chunk carries the trailing bytes.
LARGE_VIDEO_BYTES = 21 * 1024 * 1024 + 123_457
SMALL_VIDEO_BYTES = (24 * 1024, 320 * 1024)
_NAMESPACE = uuid.UUID("6f1c2b8e-4a57-4c1e-9a43-2b7f0d5e8c31")
_MP4_HEADER = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


class TokenIssuer(Protocol):
    """What the seed needs from the stand-in TikTok."""

    def add_creator(self, open_id: str, username: str, display_name: str) -> Any: ...

    def issue_tokens(self, open_id: str) -> dict[str, Any]: ...


@dataclass
class DemoUser:
    plan: str
    user_id: str
    api_key: str
    account_ids: list[str] = field(default_factory=list)
    video_ids: list[str] = field(default_factory=list)


def _id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def demo_user_id(plan: str) -> str:
    return f"demo-{plan}"


def video_ids(plan: str) -> list[str]:
    ids = [_id(demo_user_id(plan), "video", str(n)) for n in range(VIDEOS_PER_USER)]
    if plan == EXAMPLE_OWNER_PLAN:
        ids[0] = EXAMPLE_VIDEO_ID
    return ids


def account_id(plan: str) -> str:
    """The user's first TikTok account (the basic user's is the reference's example id)."""
    return EXAMPLE_ACCOUNT_ID if plan == EXAMPLE_OWNER_PLAN else _id(demo_user_id(plan), "account")


def account_ids(plan: str) -> list[str]:
    """All the user's TikTok accounts: load demos spread posts over them, as TikTok's limits
    per creator account require."""
    extra = [_id(demo_user_id(plan), "account", str(n)) for n in range(1, ACCOUNTS_PER_USER)]
    return [account_id(plan), *extra]


def video_size(video_id: str, index: int) -> int:
    """The first video of each user is the large one; the rest are small."""
    if index == 0:
        return LARGE_VIDEO_BYTES
    return random.Random(video_id).randint(*SMALL_VIDEO_BYTES)


def video_bytes(video_id: str, size: int) -> bytes:
    """Deterministic bytes: an MP4-like header, then a pattern derived from the id."""
    block = _MP4_HEADER + hashlib.sha256(video_id.encode()).digest() * 64
    return (block * (size // len(block) + 1))[:size]


def resolve_api_keys(given: dict[str, str | None]) -> dict[str, str]:
    """Each plan's demo key: the one given (checked), else a new one."""
    keys: dict[str, str] = {}
    for plan in PLANS:
        key = given.get(plan)
        if key:
            if not looks_like_api_key(key):
                raise ValueError(
                    f"DEMO_API_KEY_{plan.upper()} must look like an API key "
                    "('psk_' followed by 12 to 124 characters)"
                )
            keys[plan] = key
        else:
            keys[plan] = generate_api_key().plaintext
    return keys


class Seeder:
    def __init__(
        self,
        table: SchedulingTable,
        s3: Any,
        bucket: str,
        cipher: TokenCipher,
        tiktok: TokenIssuer,
        workers: int = 8,
    ) -> None:
        self.table = table
        self.s3 = s3
        self.bucket = bucket
        self.cipher = cipher
        self.tiktok = tiktok
        self.workers = workers
        self.now = datetime.now(UTC).replace(microsecond=0)

    def seed(self, api_keys: dict[str, str]) -> list[DemoUser]:
        users = [self._user(plan, api_keys[plan]) for plan in PLANS]
        jobs: list[tuple[DemoUser, int, str]] = [
            (user, index, video_id)
            for user in users
            for index, video_id in enumerate(video_ids(user.plan))
        ]
        # The large videos first: they take longest, the small ones fill in around them.
        jobs.sort(key=lambda job: job[1] != 0)
        with ThreadPoolExecutor(self.workers, thread_name_prefix="seed") as pool:
            list(pool.map(lambda job: self._video(*job), jobs))
            list(
                pool.map(
                    lambda job: self._account(*job),
                    [(user, n) for user in users for n in range(ACCOUNTS_PER_USER)],
                )
            )
        for user in users:
            user.video_ids = video_ids(user.plan)
            user.account_ids = account_ids(user.plan)
        return users

    def _user(self, plan: str, api_key: str) -> DemoUser:
        user_id = demo_user_id(plan)
        if self.table.get_user(user_id) is None:
            self.table.put_user(
                UserRecord(
                    userId=user_id,
                    plan=plan,
                    pendingCount=0,
                    createdAt=self.now,
                    name=f"Demo {plan} user",
                )
            )
        key_hash = hash_api_key(api_key)
        if self.table.get_api_key(key_hash) is None:
            self.table.put_api_key(
                ApiKeyRecord(
                    keyHash=key_hash,
                    keyId=_id(user_id, "api-key", key_hash),
                    userId=user_id,
                    prefix=api_key[:12],
                    name="demo",
                    createdAt=self.now,
                )
            )
        return DemoUser(plan, user_id, api_key)

    def _video(self, user: DemoUser, index: int, video_id: str) -> None:
        if self.table.get_video(user.user_id, video_id) is not None:
            return
        size = video_size(video_id, index)
        key = f"videos/{user.user_id}/{video_id}.mp4"
        written = self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=video_bytes(video_id, size),
            ContentType="video/mp4",
        )
        example = video_id == EXAMPLE_VIDEO_ID
        self.table.put_video(
            VideoRecord(
                videoId=video_id,
                userId=user.user_id,
                title="Amazing TikTok Video" if example else f"Demo video {index + 1:02d}",
                description=(
                    "Check out this content!"
                    if example
                    else f"Demo clip {index + 1} of the {user.plan} user"
                ),
                sizeBytes=size,
                contentType="video/mp4",
                s3Key=key,
                objectVersionId=written.get("VersionId"),  # pinned, as a checked upload is
                status="ready",
                createdAt=self.now - timedelta(minutes=VIDEOS_PER_USER - index),
            )
        )

    def _account(self, user: DemoUser, index: int) -> None:
        account = account_ids(user.plan)[index]
        if self.table.get_account(user.user_id, account) is not None:
            return
        example = user.plan == EXAMPLE_OWNER_PLAN and index == 0
        suffix = "" if index == 0 else f"-{index + 1}"
        open_id = f"open-{user.user_id}{suffix}"
        username = "my_tiktok_handle" if example else f"{user.plan}_demo_creator{suffix}"
        display_name = (
            "My TikTok Name" if example else f"{user.plan.title()} Demo Creator {index + 1}"
        )
        creator = self.tiktok.add_creator(open_id, username, display_name)
        tokens = self.tiktok.issue_tokens(open_id)
        now = datetime.now(UTC)
        # What connecting the account caches (creator_info), so a demo's creates need not ask.
        creator_info = CreatorInfoSnapshot(
            privacyLevelOptions=list(creator["privacy_level_options"]),
            maxVideoPostDurationSec=int(creator["max_video_post_duration_sec"]),
        )
        self.table.put_account(
            TikTokAccountRecord(
                accountId=account,
                userId=user.user_id,
                openId=tokens["open_id"],
                username=username,
                displayName=display_name,
                scope=tokens.get("scope", ""),
                accessTokenCipher=self.cipher.encrypt(tokens["access_token"], account, "access"),
                refreshTokenCipher=self.cipher.encrypt(tokens["refresh_token"], account, "refresh"),
                accessTokenExpiresAt=now + timedelta(seconds=int(tokens["expires_in"])),
                refreshTokenExpiresAt=now + timedelta(seconds=int(tokens["refresh_expires_in"])),
                tokenVersion=1,
                creatorInfo=creator_info,
                creatorInfoAt=now,
                createdAt=now,
                updatedAt=now,
            )
        )


def seed_demo_data(
    table: SchedulingTable,
    s3: Any,
    bucket: str,
    cipher: TokenCipher,
    tiktok: TokenIssuer,
    api_keys: dict[str, str],
) -> list[DemoUser]:
    """Seed (or top up) the demo data; returns the demo users."""
    return Seeder(table, s3, bucket, cipher, tiktok).seed(api_keys)


def example_ids() -> Iterable[tuple[str, str]]:
    yield "video", EXAMPLE_VIDEO_ID
    yield "tiktokAccount", EXAMPLE_ACCOUNT_ID
