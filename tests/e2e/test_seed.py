"""The local stack's demo data, seeded in process against moto's mock and the stand-in TikTok
(not started: creators and tokens need no HTTP): what the design promises, and idempotence.
Seeded once for the module (the tests only read; the last one seeds again)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.aws.provision import provision
from local.aws.template import Template
from local.seed import (
    EXAMPLE_ACCOUNT_ID,
    EXAMPLE_VIDEO_ID,
    PLANS,
    VIDEOS_PER_USER,
    demo_user_id,
    resolve_api_keys,
    seed_demo_data,
)
from local.tiktok import TikTokStub
from post_scheduler.adapters.table import SchedulingTable
from post_scheduler.adapters.token_cipher import TokenCipher
from post_scheduler.auth.api_keys import hash_api_key
from post_scheduler.models.records import TikTokAccountRecord, VideoRecord

KEYS = {"free": None, "basic": "psk_seed_test_basic_key_000000", "professional": None}


@pytest.fixture(scope="module")
def seeded() -> Iterator[dict[str, Any]]:
    with mock_aws():
        template = provision(Template.load())
        table = SchedulingTable(template.physical["Table"], boto3.client("dynamodb"))
        s3 = boto3.client("s3")
        cipher = TokenCipher(template.attributes["TokenKey.Arn"], boto3.client("kms"))
        stub = TikTokStub()
        keys = resolve_api_keys(KEYS)

        def seed() -> list[Any]:
            bucket = template.physical["VideoBucket"]
            return seed_demo_data(table, s3, bucket, cipher, stub, keys)

        yield {
            "template": template,
            "table": table,
            "s3": s3,
            "cipher": cipher,
            "keys": keys,
            "users": seed(),
            "seed": seed,
        }


def _videos(table: SchedulingTable, user_id: str) -> list[VideoRecord]:
    videos, token = table.list_videos(user_id, 100, None)
    assert token is None
    return videos


def test_keys_given_are_kept_and_the_rest_generated() -> None:
    keys = resolve_api_keys(KEYS)
    assert keys["basic"] == KEYS["basic"]
    assert keys["free"].startswith("psk_")
    assert keys["free"] != resolve_api_keys(KEYS)["free"]
    with pytest.raises(ValueError, match="DEMO_API_KEY_FREE"):
        resolve_api_keys({"free": "not-a-key"})


def test_three_users_one_per_plan_with_their_keys(seeded: dict[str, Any]) -> None:
    table = seeded["table"]
    assert [u.plan for u in seeded["users"]] == list(PLANS)
    for user in seeded["users"]:
        profile = table.get_user(user.user_id)
        assert profile is not None
        assert profile.plan == user.plan
        assert profile.pendingCount == 0
        key = table.get_api_key(hash_api_key(seeded["keys"][user.plan]))
        assert key is not None
        assert key.userId == user.user_id


def test_videos_have_their_bytes_in_s3(seeded: dict[str, Any]) -> None:
    table, s3 = seeded["table"], seeded["s3"]
    bucket = seeded["template"].physical["VideoBucket"]
    for plan in PLANS:
        videos = _videos(table, demo_user_id(plan))
        assert len(videos) >= VIDEOS_PER_USER
        assert {v.status for v in videos} == {"ready"}
        assert {v.contentType for v in videos} == {"video/mp4"}
        assert max(v.sizeBytes for v in videos) > 10 * 1024 * 1024
        for video in videos:
            head = s3.head_object(Bucket=bucket, Key=video.s3Key)
            assert head["ContentLength"] == video.sizeBytes
            assert head["ContentType"] == "video/mp4"
    basic_video_ids = {v.videoId for v in _videos(table, demo_user_id("basic"))}
    assert EXAMPLE_VIDEO_ID in basic_video_ids


def test_accounts_hold_encrypted_tokens_from_the_stand_in(seeded: dict[str, Any]) -> None:
    table, cipher = seeded["table"], seeded["cipher"]
    open_ids = set()
    for user in seeded["users"]:
        assert len(set(user.account_ids)) >= 10  # load demos spread posts over accounts
        for account_id in user.account_ids:
            account = table.get_account(user.user_id, account_id)
            assert isinstance(account, TikTokAccountRecord)
            open_ids.add(account.openId)
        account_id = user.account_ids[0]
        account = table.get_account(user.user_id, account_id)
        assert isinstance(account, TikTokAccountRecord)
        access = cipher.decrypt(account.accessTokenCipher, account_id, "access")
        refresh = cipher.decrypt(account.refreshTokenCipher, account_id, "refresh")
        assert access.startswith("act.")
        assert refresh.startswith("rft.")
        assert access not in account.accessTokenCipher
        assert account.openId
        assert account.accessTokenExpiresAt is not None
        assert account.accessTokenExpiresAt > datetime.now(UTC)
        assert account.refreshTokenExpiresAt is not None
    basic = seeded["users"][PLANS.index("basic")]
    assert basic.account_ids[0] == EXAMPLE_ACCOUNT_ID
    assert len(open_ids) == sum(len(u.account_ids) for u in seeded["users"])  # distinct creators


def test_seeding_again_changes_nothing(seeded: dict[str, Any]) -> None:
    table = seeded["table"]
    user_id = demo_user_id("basic")
    account = table.get_account(user_id, EXAMPLE_ACCOUNT_ID)
    count = table.client.scan(TableName=table.name, Select="COUNT")["Count"]

    seeded["seed"]()

    assert table.client.scan(TableName=table.name, Select="COUNT")["Count"] == count
    assert table.get_account(user_id, EXAMPLE_ACCOUNT_ID) == account
