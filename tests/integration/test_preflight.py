"""Pre-flight checks at create, re-activation and retry: a post is refused (422, with the
reason) when its TikTok account's tokens can no longer be refreshed, instead of failing at its
second. The check is a condition inside the create/re-activate transaction: no extra call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

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
