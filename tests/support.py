"""Test helpers: the provisioned stack, an in-process API client, and data factories."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from local.gateway import Gateway, GatewayResponse
from local.provision import function_environments, provision
from local.template import Template
from post_scheduler import wiring
from post_scheduler.adapters.table import SchedulingTable, from_item
from post_scheduler.auth.api_keys import generate_api_key
from post_scheduler.models.records import (
    ApiKeyRecord,
    TikTokAccountRecord,
    UserRecord,
    VideoRecord,
)
from post_scheduler.timestamps import format_utc


def future(minutes: float = 60, now: datetime | None = None) -> str:
    """A publish time `minutes` from now, whole seconds, as clients send it."""
    moment = (now or datetime.now(UTC)) + timedelta(minutes=minutes)
    return moment.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass
class AwsStack:
    template: Template
    gateway: Gateway
    environment: dict[str, str]
    table: SchedulingTable = field(init=False)

    def __post_init__(self) -> None:
        self.table = SchedulingTable(self.environment["TABLE_NAME"], boto3.client("dynamodb"))

    @classmethod
    def create(cls, monkeypatch: pytest.MonkeyPatch, **parameters: str) -> AwsStack:
        template = provision(Template.load(parameters=parameters))
        environment: dict[str, str] = {}
        for values in function_environments(template).values():
            for key, value in values.items():
                assert environment.get(key, value) == value, f"functions disagree on {key}"
                environment[key] = value
        for key, value in environment.items():
            monkeypatch.setenv(key, value)
        wiring.reset()
        return cls(template, Gateway(template), environment)

    # --- HTTP ---------------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        query: str = "",
        headers: dict[str, str] | None = None,
        raw_body: bytes | None = None,
    ) -> Response:
        all_headers = {"content-type": "application/json", **(headers or {})}
        if token is not None:
            all_headers["authorization"] = f"Bearer {token}"
        payload = (
            raw_body
            if raw_body is not None
            else (None if body is None else json.dumps(body).encode())
        )
        result: GatewayResponse = self.gateway.handle(
            method, path, query, list(all_headers.items()), payload
        )
        try:
            parsed = result.json() if result.body else None
        except ValueError:
            parsed = result.body.decode()
        return Response(result.status, parsed, result.headers)

    # --- data ---------------------------------------------------------------------------------

    def user(self, plan: str = "basic", user_id: str | None = None) -> User:
        user_id = user_id or f"user-{uuid.uuid4().hex[:12]}"
        now = datetime.now(UTC)
        self.table.put_user(UserRecord(userId=user_id, plan=plan, pendingCount=0, createdAt=now))
        key = generate_api_key()
        self.table.put_api_key(
            ApiKeyRecord(
                keyHash=key.key_hash,
                keyId=str(uuid.uuid4()),
                userId=user_id,
                prefix=key.prefix,
                name="test",
                createdAt=now,
            )
        )
        return User(self, user_id, plan, key.plaintext)

    def raw_item(self, pk: str, sk: str) -> dict[str, Any] | None:
        item = self.table.client.get_item(
            TableName=self.table.name, Key={"pk": {"S": pk}, "sk": {"S": sk}}
        ).get("Item")
        return None if item is None else from_item(item)

    def schedules(self) -> list[dict[str, Any]]:
        scheduler = boto3.client("scheduler")
        group = self.environment["SCHEDULE_GROUP"]
        names = [s["Name"] for s in scheduler.list_schedules(GroupName=group)["Schedules"]]
        return [scheduler.get_schedule(Name=n, GroupName=group) for n in names]

    def item_count(self) -> int:
        return int(self.table.client.scan(TableName=self.table.name, Select="COUNT")["Count"])


@dataclass
class User:
    stack: AwsStack
    user_id: str
    plan: str
    api_key: str

    def video(self, video_id: str | None = None, status: str = "ready", **fields: Any) -> str:
        video_id = video_id or str(uuid.uuid4())
        self.stack.table.put_video(
            VideoRecord(
                videoId=video_id,
                userId=self.user_id,
                title=fields.pop("title", f"Video {video_id[:8]}"),
                description=fields.pop("description", "A test video"),
                sizeBytes=fields.pop("sizeBytes", 1024),
                s3Key=fields.pop("s3Key", f"videos/{self.user_id}/{video_id}.mp4"),
                status=status,  # type: ignore[arg-type]
                createdAt=datetime.now(UTC),
                **fields,
            )
        )
        return video_id

    def account(self, account_id: str | None = None, **fields: Any) -> str:
        account_id = account_id or str(uuid.uuid4())
        self.stack.table.put_account(
            TikTokAccountRecord(
                accountId=account_id,
                userId=self.user_id,
                openId=fields.pop("openId", f"open-{account_id[:8]}"),
                username=fields.pop("username", "my_tiktok_handle"),
                displayName=fields.pop("displayName", "My TikTok Name"),
                createdAt=datetime.now(UTC),
                **fields,
            )
        )
        return account_id

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Response:
        return self.stack.call(method, path, body, token=self.api_key, **kwargs)

    def create(
        self, video_id: str, account_id: str, when: str | None = None, **extra: Any
    ) -> Response:
        body = {
            "videoId": video_id,
            "tiktokAccountId": account_id,
            "scheduledPublishTime": when or future(),
            **extra,
        }
        return self.call("POST", "/api/v1/schedule/create", body)

    def profile(self) -> dict[str, Any]:
        item = self.stack.raw_item(f"USER#{self.user_id}", "PROFILE")
        assert item is not None
        return item

    def pending_count(self) -> int:
        return int(self.profile()["pendingCount"])


__all__ = ["AwsStack", "Response", "User", "format_utc", "future"]
