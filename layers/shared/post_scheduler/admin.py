"""Operators' command line, against the deployed table or the local stack:

    python -m post_scheduler.admin create-user --plan basic [--user-id ID] [--name N] [--with-key]
    python -m post_scheduler.admin set-plan USER_ID --plan professional [--force]
    python -m post_scheduler.admin mint-key USER_ID [--name NAME]
    python -m post_scheduler.admin list-keys USER_ID
    python -m post_scheduler.admin revoke-key USER_ID KEY_ID
    python -m post_scheduler.admin list-users [--limit N]

The table is `--table` or TABLE_NAME; the Scheduler group (for cancelling posts) is
`--schedule-group` or SCHEDULE_GROUP. AWS credentials, region and endpoint come from the usual
AWS variables: AWS_ENDPOINT_URL=http://127.0.0.1:5000 reaches the local stack's moto server.
Answers are JSON on stdout; errors go to stderr with exit status 1.

Plan changes keep the pending-post counter exact:
- to a paid plan: always allowed. A limit below the user's pending count leaves those posts to
  publish as scheduled; new ones are refused (SCHEDULING_LIMIT_EXCEEDED) until fewer are pending.
- to free (no scheduling): refused while posts are pending, unless --force, which first switches
  the plan (so no new post can be created) and then cancels each pending post exactly as the API's
  cancel does (post, video lock and counter in one transaction; its schedule removed). Posts
  being published at that moment finish on their own.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Sequence
from typing import Any, TextIO

from post_scheduler.domain.plans import PLANS, pending_limit
from post_scheduler.errors import ApiError, Conflict, NotFound
from post_scheduler.models.records import UserRecord
from post_scheduler.timestamps import format_utc, utc_now


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m post_scheduler.admin",
        description="Manage users, plans and API keys of the TikTok post scheduler.",
    )
    parser.add_argument("--table", help="DynamoDB table (default: $TABLE_NAME)")
    parser.add_argument(
        "--schedule-group", help="EventBridge Scheduler group (default: $SCHEDULE_GROUP)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    create = commands.add_parser("create-user", help="create a user with a plan")
    create.add_argument("--plan", required=True, choices=PLANS)
    create.add_argument("--user-id", help="the user's id (default: a new UUID)")
    create.add_argument("--name", help="a display name")
    create.add_argument("--with-key", action="store_true", help="also mint an API key")

    plan = commands.add_parser("set-plan", help="change a user's plan")
    plan.add_argument("user_id")
    plan.add_argument("--plan", required=True, choices=PLANS)
    plan.add_argument(
        "--force",
        action="store_true",
        help="moving to free: cancel the user's pending posts instead of refusing",
    )

    mint = commands.add_parser("mint-key", help="mint an API key (printed once)")
    mint.add_argument("user_id")
    mint.add_argument("--name", default="admin", help="a label for the key")

    keys = commands.add_parser("list-keys", help="list a user's API keys")
    keys.add_argument("user_id")

    revoke = commands.add_parser("revoke-key", help="revoke one of a user's API keys")
    revoke.add_argument("user_id")
    revoke.add_argument("key_id")

    users = commands.add_parser("list-users", help="list users and their plans")
    users.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    return parser


class Admin:
    """The commands, over one table (and, to cancel posts, one Scheduler group)."""

    def __init__(self, table_name: str, schedule_group: str) -> None:
        from post_scheduler.adapters.table import SchedulingTable
        from post_scheduler.domain.api_keys import ApiKeyService

        self.table = SchedulingTable(table_name)
        self.schedule_group = schedule_group
        self.keys = ApiKeyService(self.table)

    def _user(self, user_id: str) -> UserRecord:
        user = self.table.get_user(user_id)
        if user is None:
            raise NotFound(f"user {user_id} not found")
        return user

    def create_user(
        self, plan: str, user_id: str | None, name: str | None, with_key: bool
    ) -> dict[str, Any]:
        user = UserRecord(
            userId=user_id or str(uuid.uuid4()),
            plan=plan,
            pendingCount=0,
            createdAt=utc_now(),
            name=name,
        )
        self.table.create_user(user)
        answer: dict[str, Any] = {"user": _user_view(user)}
        if with_key:
            answer["apiKey"] = self.keys.create(user.userId, "admin").model_dump()
        return answer

    def set_plan(self, user_id: str, plan: str, force: bool) -> dict[str, Any]:
        before = self._user(user_id)
        limit = pending_limit(plan)
        answer: dict[str, Any] = {"previousPlan": before.plan}
        if limit is not None:
            changed = self.table.change_plan(user_id, plan, None)
            if changed.pendingCount > limit:
                answer["note"] = (
                    f"{changed.pendingCount} posts are pending, over the {plan} limit of {limit}:"
                    " they stay scheduled; new posts are refused until fewer than"
                    f" {limit} are pending"
                )
        elif not force:
            try:
                changed = self.table.change_plan(user_id, plan, max_pending=0)
            except Conflict as exc:
                raise Conflict(
                    f"{exc.message}: the free plan has no scheduling; cancel them first,"
                    " or pass --force to cancel them",
                    exc.details,
                ) from None
        else:
            # Switch first: from now on no post can be created, so the list below is complete.
            changed = self.table.change_plan(user_id, plan, None)
            cancelled, publishing = self._cancel_pending(user_id)
            answer["cancelledScheduleIds"] = cancelled
            if publishing:
                answer["stillPublishing"] = publishing
            changed = self._user(user_id)
        answer["user"] = _user_view(changed)
        return answer

    def _cancel_pending(self, user_id: str) -> tuple[list[str], list[str]]:
        from post_scheduler.adapters.scheduler import PublishScheduler, PublishTarget
        from post_scheduler.domain.schedules import ScheduleService, TimeRules
        from post_scheduler.models.requests import UpdateScheduleRequest

        # Cancelling only deletes schedules, so the publish target is never used.
        service = ScheduleService(
            self.table,
            PublishScheduler(self.schedule_group, PublishTarget("", "", "")),
            TimeRules(),
        )
        cancelled, publishing = [], []
        for post in self.table.list_active_schedules_of_user(user_id):
            if post.status == "publishing":
                publishing.append(post.scheduleId)
                continue
            service.update(user_id, post.scheduleId, UpdateScheduleRequest(status="cancelled"))
            cancelled.append(post.scheduleId)
        return cancelled, publishing

    def mint_key(self, user_id: str, name: str) -> dict[str, Any]:
        self._user(user_id)
        return {"userId": user_id, **self.keys.create(user_id, name).model_dump()}

    def list_keys(self, user_id: str) -> dict[str, Any]:
        self._user(user_id)
        keys: list[dict[str, Any]] = []
        token = None
        while True:
            page, token = self.keys.list(user_id, 100, token)
            keys.extend(key.model_dump() for key in page)
            if token is None:
                return {"userId": user_id, "keys": keys}

    def revoke_key(self, user_id: str, key_id: str) -> dict[str, Any]:
        revoked = self.keys.revoke(user_id, key_id)
        return {"userId": user_id, **revoked.model_dump(), "revoked": True}

    def list_users(self, limit: int) -> dict[str, Any]:
        users: list[dict[str, Any]] = []
        start = None
        while len(users) < limit:
            page, start = self.table.list_users(min(100, limit - len(users)), start)
            users.extend(_user_view(user) for user in page)
            if start is None:
                break
        return {"users": users[:limit]}


def _user_view(user: UserRecord) -> dict[str, Any]:
    view = {
        "userId": user.userId,
        "plan": user.plan,
        "pendingCount": user.pendingCount,
        "pendingLimit": pending_limit(user.plan),
        "createdAt": format_utc(user.createdAt),
    }
    if user.name:
        view["name"] = user.name
    return view


def main(
    argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run one command; the exit status (0 done, 1 refused or failed, 2 bad arguments)."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    args = _parser().parse_args(argv)
    table = args.table or os.environ.get("TABLE_NAME", "")
    if not table:
        print("error: give --table or set TABLE_NAME", file=err)
        return 2
    admin = Admin(table, args.schedule_group or os.environ.get("SCHEDULE_GROUP", "post-scheduler"))
    try:
        if args.command == "create-user":
            answer = admin.create_user(args.plan, args.user_id, args.name, args.with_key)
        elif args.command == "set-plan":
            answer = admin.set_plan(args.user_id, args.plan, args.force)
        elif args.command == "mint-key":
            answer = admin.mint_key(args.user_id, args.name)
        elif args.command == "list-keys":
            answer = admin.list_keys(args.user_id)
        elif args.command == "revoke-key":
            answer = admin.revoke_key(args.user_id, args.key_id)
        else:
            answer = admin.list_users(args.limit)
    except ApiError as exc:
        problem: dict[str, Any] = {"error": exc.code, "message": exc.message}
        if exc.details is not None:
            problem["details"] = exc.details
        print(json.dumps(problem), file=err)
        return 1
    print(json.dumps(answer, indent=2), file=out)
    if args.command == "mint-key" or (args.command == "create-user" and args.with_key):
        print("Store the API key now: it is not shown again.", file=err)
    return 0


if __name__ == "__main__":
    sys.exit(main())
