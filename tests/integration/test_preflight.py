"""Pre-flight checks at create, re-activation and retry: a post is refused (422, with the
reason) when its TikTok account's tokens can no longer be refreshed, instead of failing at its
second. The check is a condition inside the create/re-activate transaction: no extra call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from local.tiktok import TikTokStub
from tests.support import AwsStack, User, assert_error, assert_ok

EXPIRED = datetime.now(UTC) - timedelta(days=1)


@pytest.fixture
def basic(stack: AwsStack) -> User:
    return stack.user("basic")


def expire(user: User, account_id: str, **fields: object) -> None:
    """The account's refresh token expired (or, with fields, whatever they say)."""
    item = user.stack.raw_item(f"USER#{user.user_id}", f"ACCOUNT#{account_id}")
    assert item is not None
    from post_scheduler.models.records import TikTokAccountRecord

    record = TikTokAccountRecord.model_validate(item)
    user.stack.table.put_account(
        record.model_copy(update={"refreshTokenExpiresAt": EXPIRED, **fields})
    )


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"accessTokenExpiresAt": EXPIRED},
        {"refreshTokenCipher": "", "refreshTokenExpiresAt": None},
    ],
    ids=["refresh-expired", "both-expired", "revoked"],
)
def test_create_is_refused_when_the_tokens_cannot_be_refreshed(
    stack: AwsStack, basic: User, fields: dict[str, object]
) -> None:
    account, video = basic.account(), basic.video()
    expire(basic, account, **fields)
    with stack.unchanged():
        error = assert_error(basic.create(video, account), 422, "UNPROCESSABLE_ENTITY")
    assert error["details"]["reason"] == "TIKTOK_AUTHORIZATION_EXPIRED"
    assert error["details"]["tiktokAccountId"] == account
    assert "reconnect" in error["message"]


def test_a_valid_access_token_is_enough(basic: User) -> None:
    account = basic.account()
    expire(basic, account, accessTokenExpiresAt=datetime.now(UTC) + timedelta(hours=20))
    assert_ok(basic.create(basic.video(), account))


def test_an_unknown_account_is_still_404(stack: AwsStack, basic: User) -> None:
    video = basic.video()
    with stack.unchanged():
        assert_error(basic.create(video, "no-such-account"), 404, "NOT_FOUND")


def test_reactivation_and_retry_check_again(stack: AwsStack, basic: User) -> None:
    account = basic.account()
    cancelled = assert_ok(basic.create(basic.video(), account))["scheduleId"]
    assert_ok(basic.put(cancelled, {"status": "cancelled"}))
    failed = assert_ok(basic.create(basic.video(), account))["scheduleId"]
    basic.mark(failed, "failed", failureReason="TikTok internal error")
    expire(basic, account)
    with stack.unchanged():
        for response in (
            basic.put(cancelled, {"status": "pending"}),
            basic.call("POST", f"/api/v1/schedule/{failed}/retry"),
        ):
            error = assert_error(response, 422, "UNPROCESSABLE_ENTITY")
            assert error["details"]["reason"] == "TIKTOK_AUTHORIZATION_EXPIRED"


# --- creator_info: privacy level and duration ---------------------------------------------------

FRESH = {"privacyLevelOptions": ["FOLLOWER_OF_CREATOR", "SELF_ONLY"], "maxVideoPostDurationSec": 60}


def creator_info(user: User, account_id: str, at: datetime | None = None, **info: object) -> None:
    """The account's cached creator_info (read `at`, now by default)."""
    from post_scheduler.models.records import CreatorInfoSnapshot

    snapshot = CreatorInfoSnapshot.model_validate({**FRESH, **info})
    user.stack.table.save_creator_info(user.user_id, account_id, snapshot, at or datetime.now(UTC))


def long_video(user: User, seconds: str = "73.25") -> str:
    video = user.video()
    user.stack.table.client.update_item(
        TableName=user.stack.table.name,
        Key={"pk": {"S": f"USER#{user.user_id}"}, "sk": {"S": f"VIDEO#{video}"}},
        UpdateExpression="SET durationSeconds = :seconds",
        ExpressionAttributeValues={":seconds": {"N": seconds}},
    )
    return video


def test_a_privacy_level_the_creator_does_not_offer_is_refused(
    stack: AwsStack, basic: User
) -> None:
    account, video = basic.account(), basic.video()
    creator_info(basic, account)
    with stack.unchanged():
        response = basic.create(video, account, options={"privacyLevel": "PUBLIC_TO_EVERYONE"})
    error = assert_error(response, 422, "UNPROCESSABLE_ENTITY")
    assert error["details"]["reason"] == "TIKTOK_PRIVACY_LEVEL_NOT_ALLOWED"
    assert error["details"]["allowedPrivacyLevels"] == FRESH["privacyLevelOptions"]
    assert_ok(basic.create(video, account, options={"privacyLevel": "SELF_ONLY"}))


def test_a_video_longer_than_the_creator_may_post_is_refused(stack: AwsStack, basic: User) -> None:
    account = basic.account()
    creator_info(basic, account)
    video = long_video(basic)
    with stack.unchanged():
        error = assert_error(basic.create(video, account), 422, "UNPROCESSABLE_ENTITY")
    assert error["details"]["reason"] == "TIKTOK_VIDEO_TOO_LONG"
    assert error["details"]["durationSeconds"] == 73.25
    assert error["details"]["maxVideoPostDurationSec"] == 60
    assert_ok(basic.create(long_video(basic, "60"), account))


def test_creator_checks_run_again_at_reactivation_and_retry(stack: AwsStack, basic: User) -> None:
    account = basic.account()
    cancelled = assert_ok(basic.create(long_video(basic), account))["scheduleId"]
    assert_ok(basic.put(cancelled, {"status": "cancelled"}))
    failed = assert_ok(
        basic.create(basic.video(), account, options={"privacyLevel": "PUBLIC_TO_EVERYONE"})
    )["scheduleId"]
    basic.mark(failed, "failed", failureReason="TikTok internal error")
    creator_info(basic, account)  # learnt since: the creator's options changed
    with stack.unchanged():
        reactivated = basic.put(cancelled, {"status": "pending"})
        retried = basic.call("POST", f"/api/v1/schedule/{failed}/retry")
    too_long = assert_error(reactivated, 422, "UNPROCESSABLE_ENTITY")
    assert too_long["details"]["reason"] == "TIKTOK_VIDEO_TOO_LONG"
    privacy = assert_error(retried, 422, "UNPROCESSABLE_ENTITY")
    assert privacy["details"]["reason"] == "TIKTOK_PRIVACY_LEVEL_NOT_ALLOWED"


def test_a_stale_copy_is_not_trusted(basic: User) -> None:
    """Older than a day and TikTok not reachable (no stand-in here): the check is skipped,
    the create goes through, and the publisher checks again before init."""
    account = basic.account()
    creator_info(basic, account, at=datetime.now(UTC) - timedelta(hours=25))
    assert_ok(basic.create(long_video(basic), account))


def test_without_a_fresh_copy_create_asks_tiktok_and_caches_the_answer(
    stack: AwsStack, basic: User, tiktok_stub: TikTokStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from post_scheduler import wiring
    from post_scheduler.adapters.token_cipher import TokenCipher

    monkeypatch.setenv("TIKTOK_API_BASE_URL", tiktok_stub.base_url)
    wiring.reset()
    tiktok_stub.add_creator("open-max", "creator.max", "Creator", max_video_post_duration_sec=60)
    tokens = tiktok_stub.issue_tokens("open-max")
    cipher = TokenCipher(stack.environment["TOKEN_KMS_KEY_ID"])
    account = basic.account(
        "acct-max",
        openId="open-max",
        accessTokenCipher=cipher.encrypt(tokens["access_token"], "acct-max", "access"),
        accessTokenExpiresAt=datetime.now(UTC) + timedelta(hours=2),
    )
    creator_info(
        basic, account, at=datetime.now(UTC) - timedelta(days=2), maxVideoPostDurationSec=600
    )

    error = assert_error(basic.create(long_video(basic), account), 422, "UNPROCESSABLE_ENTITY")
    assert error["details"]["reason"] == "TIKTOK_VIDEO_TOO_LONG"
    assert error["details"]["maxVideoPostDurationSec"] == 60
    cached = stack.table.get_account(basic.user_id, account)
    assert cached is not None
    assert cached.creatorInfo is not None
    assert cached.creatorInfo.maxVideoPostDurationSec == 60
    assert basic.pending_count() == 0
    # TikTok unreachable: the create is not blocked (the publisher checks before init).
    tiktok_stub.drop_next("creator_info")
    stack.table.client.update_item(
        TableName=stack.table.name,
        Key={"pk": {"S": f"USER#{basic.user_id}"}, "sk": {"S": f"ACCOUNT#{account}"}},
        UpdateExpression="SET creatorInfoAt = :old",
        ExpressionAttributeValues={":old": {"S": "2020-01-01T00:00:00.000Z"}},
    )
    assert_ok(basic.create(long_video(basic), account))
