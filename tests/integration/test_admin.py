"""The operators' command line (`python -m post_scheduler.admin`), run through its `main` against
the template's table in moto; the API sees what it did."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from post_scheduler.admin import main
from tests.support import AwsStack, User, assert_error, assert_ok, future

ROOT = Path(__file__).resolve().parents[2]


def admin(*argv: str) -> tuple[int, Any, str]:
    """(exit status, JSON answer or None, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err)
    return status, json.loads(out.getvalue()) if out.getvalue() else None, err.getvalue()


def posts(user: User, count: int) -> list[str]:
    return [
        assert_ok(user.create(user.video(), user.account(), future(60 + i)))["scheduleId"]
        for i in range(count)
    ]


# --- users and keys -------------------------------------------------------------------------------


def test_create_user_with_a_key(stack: AwsStack) -> None:
    status, answer, err = admin("create-user", "--plan", "basic", "--user-id", "u-1", "--with-key")

    assert status == 0
    assert answer["user"]["userId"] == "u-1"
    assert answer["user"]["plan"] == "basic"
    assert answer["user"]["pendingCount"] == 0
    assert answer["user"]["pendingLimit"] == 10
    assert "not shown again" in err
    key = answer["apiKey"]["apiKey"]
    assert assert_ok(stack.call("GET", "/api/v1/videos", token=key)) == []
    profile = stack.raw_item("USER#u-1", "PROFILE")
    assert profile is not None
    assert profile["plan"] == "basic"


def test_create_user_generates_an_id_and_refuses_duplicates(stack: AwsStack) -> None:
    status, answer, _ = admin("create-user", "--plan", "free", "--name", "Ada")
    assert status == 0
    user_id = answer["user"]["userId"]
    assert answer["user"]["name"] == "Ada"
    assert answer["user"]["pendingLimit"] is None

    status, answer, err = admin("create-user", "--plan", "basic", "--user-id", user_id)

    assert status == 1
    assert answer is None
    assert json.loads(err)["error"] == "CONFLICT"
    profile = stack.raw_item(f"USER#{user_id}", "PROFILE")
    assert profile is not None
    assert profile["plan"] == "free"


def test_bad_arguments_exit_2(stack: AwsStack) -> None:
    with pytest.raises(SystemExit) as raised:
        admin("create-user", "--plan", "platinum")
    assert raised.value.code == 2
    with pytest.raises(SystemExit):
        admin("set-plan", "u-1")


def test_the_table_comes_from_the_option_or_the_environment(
    stack: AwsStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = os.environ["TABLE_NAME"]
    monkeypatch.delenv("TABLE_NAME")
    status, _, err = admin("list-users")
    assert status == 2
    assert "TABLE_NAME" in err
    status, answer, _ = admin("--table", table, "create-user", "--plan", "basic")
    assert status == 0
    assert stack.raw_item(f"USER#{answer['user']['userId']}", "PROFILE") is not None


def test_mint_list_and_revoke_keys(stack: AwsStack) -> None:
    user = stack.user("basic")

    status, minted, err = admin("mint-key", user.user_id, "--name", "ops")

    assert status == 0
    assert "not shown again" in err
    assert minted["userId"] == user.user_id
    assert assert_ok(stack.call("GET", "/api/v1/api-keys", token=minted["apiKey"]))
    status, listed, _ = admin("list-keys", user.user_id)
    assert [k["name"] for k in listed["keys"]] == ["test", "ops"]
    assert "apiKey" not in json.dumps(listed)

    status, revoked, _ = admin("revoke-key", user.user_id, minted["keyId"])

    assert status == 0
    assert revoked["revoked"] is True
    stack.gateway.forget_cached_authorizations()
    assert_error(stack.call("GET", "/api/v1/videos", token=minted["apiKey"]), 401, "UNAUTHORIZED")


def test_key_commands_for_unknown_users_fail(stack: AwsStack) -> None:
    for argv in (("mint-key", "nobody"), ("list-keys", "nobody"), ("revoke-key", "nobody", "k")):
        status, answer, err = admin(*argv)
        assert status == 1
        assert answer is None
        assert json.loads(err)["error"] == "NOT_FOUND"


def test_list_users(stack: AwsStack) -> None:
    created = {stack.user(plan).user_id: plan for plan in ("free", "basic", "professional")}
    status, answer, _ = admin("list-users")
    assert status == 0
    assert {u["userId"]: u["plan"] for u in answer["users"]} == created
    status, answer, _ = admin("list-users", "--limit", "2")
    assert len(answer["users"]) == 2


# --- plan changes ---------------------------------------------------------------------------------


def test_upgrade(stack: AwsStack) -> None:
    user = stack.user("basic")
    posts(user, 2)

    status, answer, _ = admin("set-plan", user.user_id, "--plan", "professional")

    assert status == 0
    assert answer["previousPlan"] == "basic"
    assert answer["user"]["plan"] == "professional"
    assert answer["user"]["pendingCount"] == 2
    assert "note" not in answer
    stack.gateway.forget_cached_authorizations()
    assert_ok(user.create(user.video(), user.account()))
    assert user.pending_count() == 3


def test_downgrade_below_the_pending_count_leaves_the_posts_alone(stack: AwsStack) -> None:
    user = stack.user("professional")
    scheduled = posts(user, 11)

    status, answer, _ = admin("set-plan", user.user_id, "--plan", "basic")

    assert status == 0
    assert answer["user"]["plan"] == "basic"
    assert answer["user"]["pendingCount"] == 11
    assert "11 posts are pending" in answer["note"]
    assert all(stack.schedule(s) is not None for s in scheduled)
    stack.gateway.forget_cached_authorizations()
    error = assert_error(
        user.create(user.video(), user.account()), 403, "SCHEDULING_LIMIT_EXCEEDED"
    )
    assert error["details"] == {"plan": "basic", "limit": 10}
    # Two fewer pending posts, and there is room again.
    for schedule_id in scheduled[:2]:
        assert_ok(user.put(schedule_id, {"status": "cancelled"}))
    assert_ok(user.create(user.video(), user.account()))
    assert user.pending_count() == 10


def test_moving_to_free_with_pending_posts_is_refused(stack: AwsStack) -> None:
    user = stack.user("basic")
    posts(user, 2)

    with stack.unchanged():
        status, answer, err = admin("set-plan", user.user_id, "--plan", "free")

    assert status == 1
    assert answer is None
    problem = json.loads(err)
    assert problem["error"] == "CONFLICT"
    assert problem["details"] == {"pendingCount": 2}
    assert "--force" in problem["message"]


def test_moving_to_free_without_pending_posts(stack: AwsStack) -> None:
    user = stack.user("basic")
    scheduled = posts(user, 1)
    assert_ok(user.put(scheduled[0], {"status": "cancelled"}))

    status, answer, _ = admin("set-plan", user.user_id, "--plan", "free")

    assert status == 0
    assert answer["user"]["plan"] == "free"
    stack.gateway.forget_cached_authorizations()
    assert_error(user.create(user.video(), user.account()), 403, "FORBIDDEN")


def test_moving_to_free_with_force_cancels_the_pending_posts(stack: AwsStack) -> None:
    user = stack.user("basic")
    scheduled = posts(user, 3)
    busy = scheduled[2]
    user.mark(busy, "publishing")

    status, answer, _ = admin("set-plan", user.user_id, "--plan", "free", "--force")

    assert status == 0
    assert sorted(answer["cancelledScheduleIds"]) == sorted(scheduled[:2])
    assert answer["stillPublishing"] == [busy]
    assert answer["user"]["plan"] == "free"
    assert answer["user"]["pendingCount"] == 1  # the post being published still holds its slot
    assert user.pending_count() == 1
    for schedule_id in scheduled[:2]:
        post = user.post_item(schedule_id)
        assert post is not None
        assert post["status"] == "cancelled"
        assert stack.schedule(schedule_id) is None
        assert "pendingScheduleId" not in user.video_item(post["videoId"])


def test_set_plan_of_an_unknown_user_fails(stack: AwsStack) -> None:
    status, _, err = admin("set-plan", "nobody", "--plan", "basic")
    assert status == 1
    assert json.loads(err)["error"] == "NOT_FOUND"


def test_runs_as_a_module() -> None:
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "shared")}
    result = subprocess.run(
        [sys.executable, "-m", "post_scheduler.admin", "--help"],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for command in ("create-user", "set-plan", "mint-key", "list-keys", "revoke-key"):
        assert command in result.stdout
