"""Test helpers: the provisioned stack, an in-process API client, and data factories."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock

import boto3
import jwt
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from local.aws.gateway import Gateway, GatewayResponse
from local.aws.provision import function_environments, provision
from local.aws.template import Template, load_template
from post_scheduler import wiring
from post_scheduler.adapters.aws import aws_client
from post_scheduler.adapters.table import SchedulingTable, from_item
from post_scheduler.auth.api_keys import generate_api_key
from post_scheduler.models.records import (
    ApiKeyRecord,
    TikTokAccountRecord,
    UserRecord,
    VideoRecord,
)
from post_scheduler.timestamps import format_utc

# For mock_aws: keep boto3's default session between tests. A fresh one reloads every service
# model from disk for each client, most of a test's time; each test still gets fresh backends.
MOTO_CONFIG: dict[str, Any] = {"core": {"reset_boto3_session": False}}


def harness_client(service: str, *args: Any, **kwargs: Any) -> Any:
    """A boto3 client shared by the test process (the harness's own, never the functions').

    moto intercepts every client created after it was imported, whichever mock is active, so
    clients can outlive a test; creating one costs more than most AWS calls under moto."""
    key = (service, args, tuple(sorted((k, repr(v)) for k, v in kwargs.items())))
    with _clients_lock:
        if key not in _clients:
            _clients[key] = _boto3_client(service, *args, **kwargs)
        return _clients[key]


_boto3_client = boto3.client
_clients: dict[Any, Any] = {}
_clients_lock = threading.Lock()


@cache
def _template_document() -> dict[str, Any]:
    """template.yaml, parsed once per test process (each stack gets its own copy)."""
    return load_template()


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
        self.table = SchedulingTable(self.environment["TABLE_NAME"], harness_client("dynamodb"))

    @classmethod
    def create(cls, monkeypatch: pytest.MonkeyPatch, **parameters: str) -> AwsStack:
        document = copy.deepcopy(_template_document())
        with mock.patch.object(boto3, "client", harness_client):
            template = provision(Template(document, parameters=parameters))
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

    @property
    def scheduler(self) -> Any:
        return harness_client("scheduler")

    def schedules(self) -> list[dict[str, Any]]:
        scheduler = self.scheduler
        group = self.environment["SCHEDULE_GROUP"]
        names = [s["Name"] for s in scheduler.list_schedules(GroupName=group)["Schedules"]]
        return [scheduler.get_schedule(Name=n, GroupName=group) for n in names]

    def item_count(self) -> int:
        return int(self.table.client.scan(TableName=self.table.name, Select="COUNT")["Count"])

    def items(self) -> list[dict[str, Any]]:
        """Every item of the table, in key order (plain values)."""
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {"TableName": self.table.name}
        while True:
            response = self.table.client.scan(**request)
            items.extend(from_item(i) for i in response["Items"])
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return sorted(items, key=lambda i: (i["pk"], i["sk"]))

    def schedule(self, schedule_id: str) -> dict[str, Any] | None:
        """The post's Scheduler schedule, or None."""
        scheduler = self.scheduler
        try:
            found: dict[str, Any] = scheduler.get_schedule(
                Name=f"post-{schedule_id}", GroupName=self.environment["SCHEDULE_GROUP"]
            )
        except scheduler.exceptions.ResourceNotFoundException:
            return None
        found.pop("ResponseMetadata", None)
        return found

    def state(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Everything a request could change: the table's items and the group's schedules
        (not an API key's `lastUsedAt`, which the authorizer keeps on any request)."""
        items = [
            {k: v for k, v in item.items() if k != "lastUsedAt"}
            if item["pk"].startswith("APIKEY#")
            else item
            for item in self.items()
        ]
        schedules = []
        for schedule in self.schedules():
            schedule.pop("ResponseMetadata", None)
            schedules.append(schedule)
        return items, sorted(schedules, key=lambda s: s["Name"])

    @contextmanager
    def unchanged(self) -> Iterator[None]:
        """Asserts the block left the table and the Scheduler exactly as they were."""
        before = self.state()
        yield
        after = self.state()
        assert after[0] == before[0], "the table changed"
        assert after[1] == before[1], "the Scheduler's schedules changed"

    def invoke(self, function: str, event: dict[str, Any]) -> Response:
        """Invoke one function directly with an event, as Lambda would."""
        result = self.gateway.runner.invoke(function, event)
        body = json.loads(result["body"]) if result.get("body") else None
        return Response(int(result["statusCode"]), body, dict(result.get("headers") or {}))


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
                # A connected account: a refresh token good for a year (as TikTok grants).
                refreshTokenCipher=fields.pop("refreshTokenCipher", "refresh-token-ciphertext"),
                refreshTokenExpiresAt=fields.pop(
                    "refreshTokenExpiresAt", datetime.now(UTC) + timedelta(days=365)
                ),
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

    def video_item(self, video_id: str) -> dict[str, Any]:
        item = self.stack.raw_item(f"USER#{self.user_id}", f"VIDEO#{video_id}")
        assert item is not None
        return item

    def post_item(self, schedule_id: str) -> dict[str, Any] | None:
        return self.stack.raw_item(f"USER#{self.user_id}", f"SCHEDULE#{schedule_id}")

    def scheduled(self, when: str | None = None, **extra: Any) -> str:
        """A fresh video and account with one pending post; its schedule id."""
        response = self.create(self.video(), self.account(), when, **extra)
        assert response.status == 200, response.body
        schedule_id: str = response.body["data"]["scheduleId"]
        return schedule_id

    def put(self, schedule_id: str, body: Any) -> Response:
        return self.call("PUT", f"/api/v1/schedule/{schedule_id}", body)

    def delete(self, schedule_id: str) -> Response:
        return self.call("DELETE", f"/api/v1/schedule/{schedule_id}")

    def stored_posts(
        self, count: int, status: str = "pending", start_minutes: float = 60, **fields: Any
    ) -> list[str]:
        """`count` posts written straight into the table (one video each, one account), a
        minute apart, for tests that need many; no schedules, no counter. Their ids."""
        from post_scheduler.adapters.table import schedule_item
        from post_scheduler.models.records import ScheduleRecord

        account = self.account()
        now = datetime.now(UTC).replace(microsecond=0)
        ids = []
        for index in range(count):
            schedule_id = str(uuid.uuid4())
            record = ScheduleRecord(
                scheduleId=schedule_id,
                userId=self.user_id,
                videoId=self.video(),
                tiktokAccountId=account,
                scheduledPublishTime=now + timedelta(minutes=start_minutes + index),
                status=status,  # type: ignore[arg-type]
                createdAt=now,
                updatedAt=now,
                **fields,
            )
            self.stack.table.client.put_item(
                TableName=self.stack.table.name, Item=schedule_item(record)
            )
            ids.append(schedule_id)
        return ids

    def mark(self, schedule_id: str, status: str, **fields: Any) -> None:
        """Put a post into a state the publisher brings it to (`publishing`, `failed`,
        `executed`), the way it does: a post that ends gives its video lock and plan slot back
        (and a published one marks its video published)."""
        table = self.stack.table
        current = table.get_schedule(self.user_id, schedule_id)
        assert current is not None
        updated = current.model_copy(
            update={"status": status, "revision": current.revision + 1, **fields}
        )
        if status in ("failed", "executed"):
            published = datetime.now(UTC) if status == "executed" else None
            table.release_schedule(updated, expected=current, video_published_at=published)
        else:
            table.replace_schedule(updated, expected=current)


API_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def assert_error(response: Response, status: int, code: str) -> dict[str, Any]:
    """The response is the API's error envelope with this status and code; returns `error`."""
    assert response.status == status, (response.status, response.body)
    assert response.headers.get("content-type", "").startswith("application/json")
    body = response.body
    assert isinstance(body, dict), body
    assert set(body) == {"success", "error"}, body
    assert body["success"] is False
    error: dict[str, Any] = body["error"]
    assert set(error) <= {"code", "message", "details"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str)
    assert error["message"]
    text = json.dumps(body)
    assert "Traceback" not in text
    assert 'File "' not in text
    return error


def assert_ok(response: Response, status: int = 200) -> Any:
    """The response is a success envelope; returns `data`."""
    assert response.status == status, (response.status, response.body)
    assert response.body["success"] is True, response.body
    assert set(response.body) <= {"success", "data", "nextToken"}, response.body
    return response.body["data"]


def at_minute_before(publish_time: str) -> str:
    """The `at()` expression of a post: the whole UTC minute before its publish time."""
    moment = datetime.fromisoformat(publish_time.replace("Z", "+00:00"))
    fire = moment.replace(second=0, microsecond=0) - timedelta(minutes=1)
    return f"at({fire.strftime('%Y-%m-%dT%H:%M:%S')})"


# --- AWS calls -------------------------------------------------------------------------------


@dataclass
class AwsCalls:
    """The DynamoDB and Scheduler calls the functions made, in order, as `service.Operation`
    (a transaction also lists its parts, e.g. `dynamodb.TransactWriteItems[Update,Put]`)."""

    calls: list[str] = field(default_factory=list)

    def record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        name = f"{model.service_model.endpoint_prefix}.{model.name}"
        if model.name == "TransactWriteItems":
            parts = ",".join(next(iter(part)) for part in params["TransactItems"])
            name = f"{name}[{parts}]"
        self.calls.append(name)

    def counts(self) -> Counter[str]:
        return Counter(c.split("[")[0] for c in self.calls)


@contextmanager
def recording_aws_calls() -> Iterator[AwsCalls]:
    """Record every call the functions' shared clients make inside the block."""
    calls = AwsCalls()
    clients = [aws_client("dynamodb"), aws_client("scheduler")]
    for client in clients:
        client.meta.events.register("before-parameter-build", calls.record)
    try:
        yield calls
    finally:
        for client in clients:
            client.meta.events.unregister("before-parameter-build", calls.record)


class AwsLikePaging:
    """Makes moto's Query answer as DynamoDB does when a page is exactly full: DynamoDB stops
    at `Limit` and returns a LastEvaluatedKey without looking further, so the key does not
    mean more items exist; moto only returns one when they do."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._index_keys: dict[str | None, list[str]] = {}

    def _key_names(self, table: str, index: str | None) -> list[str]:
        if index not in self._index_keys:
            description = self.client.describe_table(TableName=table)["Table"]
            names = [k["AttributeName"] for k in description["KeySchema"]]
            for gsi in description.get("GlobalSecondaryIndexes", []):
                if gsi["IndexName"] == index:
                    names += [k["AttributeName"] for k in gsi["KeySchema"]]
            self._index_keys[index] = names
        return self._index_keys[index]

    def before(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["aws_like_paging"] = params

    def after(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        params = context.get("aws_like_paging")
        if not params or "LastEvaluatedKey" in parsed or not parsed.get("Items"):
            return
        if parsed.get("ScannedCount", parsed.get("Count")) == params.get("Limit"):
            names = self._key_names(params["TableName"], params.get("IndexName"))
            last = parsed["Items"][-1]
            parsed["LastEvaluatedKey"] = {name: last[name] for name in names}


@contextmanager
def aws_like_paging() -> Iterator[None]:
    """Within the block, the functions' DynamoDB client pages as DynamoDB does."""
    client = aws_client("dynamodb")
    paging = AwsLikePaging(client)
    client.meta.events.register("before-parameter-build.dynamodb.Query", paging.before)
    client.meta.events.register("after-call.dynamodb.Query", paging.after)
    try:
        yield
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb.Query", paging.before)
        client.meta.events.unregister("after-call.dynamodb.Query", paging.after)


@contextmanager
def failing_aws_call(
    service: str,
    operation: str,
    code: str = "InternalServerException",
    times: int | None = None,
    **response: Any,
) -> Iterator[list[int]]:
    """Make the functions' `service` client fail `operation` with the service's error `code`
    (every call, or the first `times`), as botocore raises it; yields a one-element list
    counting the failures."""
    failures = [0]
    client = aws_client(service)
    error_class: type[ClientError] = client.exceptions.from_code(code)

    def fail(**_: Any) -> None:
        if times is None or failures[0] < times:
            failures[0] += 1
            error = {"Error": {"Code": code, "Message": f"injected {code}"}, **response}
            raise error_class(error, operation)  # type: ignore[arg-type]

    event = f"before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}"
    client.meta.events.register(event, fail)
    try:
        yield failures
    finally:
        client.meta.events.unregister(event, fail)


# --- JWTs ------------------------------------------------------------------------------------

JWT_ISSUER = "https://auth.example.com/"
JWT_AUDIENCE = "post-scheduler-api"
JWT_SECRET = "test-hs256-secret-with-enough-entropy-0123456789abcdef"
JWT_SECRET_PARAMETER = "/post-scheduler/jwt-secret"


@cache
def rsa_private_key(name: str = "signing") -> rsa.RSAPrivateKey:
    """An RSA key per name, generated once per test process."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(name: str = "signing") -> bytes:
    return (
        rsa_private_key(name)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def claims(subject: str, /, lifetime: int = 3600, **overrides: Any) -> dict[str, Any]:
    """Claims of a valid token for `subject`; `overrides` set (or, with None, drop) claims."""
    now = int(time.time())
    values: dict[str, Any] = {
        "sub": subject,
        "iss": JWT_ISSUER,
        "aud": JWT_AUDIENCE,
        "iat": now,
        "exp": now + lifetime,
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def hs256_token(payload: dict[str, Any], secret: str = JWT_SECRET) -> str:
    return jwt.encode(payload, secret, algorithm="HS256")


def rs256_token(payload: dict[str, Any], kid: str = "key-1", key: str = "signing") -> str:
    return jwt.encode(payload, rsa_private_key(key), algorithm="RS256", headers={"kid": kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def forged_token(header: dict[str, Any], payload: dict[str, Any], hmac_key: bytes | None) -> str:
    """A token assembled by hand (libraries refuse to make these): HMAC-SHA256 with any key
    bytes, or no signature at all."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    if hmac_key is None:
        return f"{signing_input}."
    signature = hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def jwks(*keys: tuple[str, str]) -> dict[str, Any]:
    """A JWKS document with the public halves of (kid, key name) pairs."""
    documents = []
    for kid, name in keys:
        public_key = rsa_private_key(name).public_key()
        document = jwt.algorithms.RSAAlgorithm.to_jwk(public_key, as_dict=True)
        documents.append({**document, "kid": kid, "use": "sig", "alg": "RS256"})
    return {"keys": documents}


class JwksServer:
    """Serves a JWKS document on 127.0.0.1 from a background thread, counting fetches."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                body = json.dumps(server.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}/.well-known/jwks.json"

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(5)


def configure_jwt(
    monkeypatch: pytest.MonkeyPatch,
    *,
    secret: str | None = JWT_SECRET,
    jwks_url: str | None = None,
    issuer: str = JWT_ISSUER,
    audience: str = JWT_AUDIENCE,
) -> None:
    """Configure the authorizer as a deployer would: the HS256 secret as an SSM SecureString
    named by JWT_SECRET_PARAMETER and/or a JWKS URL, plus issuer and audience."""
    if secret is not None:
        harness_client("ssm").put_parameter(
            Name=JWT_SECRET_PARAMETER, Value=secret, Type="SecureString", Overwrite=True
        )
    monkeypatch.setenv("JWT_SECRET_PARAMETER", JWT_SECRET_PARAMETER if secret else "")
    monkeypatch.setenv("JWT_JWKS_URL", jwks_url or "")
    monkeypatch.setenv("JWT_ISSUER", issuer)
    monkeypatch.setenv("JWT_AUDIENCE", audience)
    wiring.reset()


# --- concurrency -----------------------------------------------------------------------------


def run_concurrently[T](count: int, work: Callable[[int], T], timeout: float = 60) -> list[T]:
    """Run `work(0..count-1)` on `count` threads started together; results in index order."""
    start = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            start.wait(timeout)
            results[index] = work(index)
        except BaseException as exc:  # reported below, with the thread's traceback
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    if errors:
        raise errors[0]
    return results


class FunctionCallRecorder:
    """The AWS calls botocore prepares while each template function runs, as
    (function, "service.Operation", params); register `record` on `before-parameter-build`."""

    def __init__(self) -> None:
        self.current: list[str] = []
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if self.current:
            operation = f"{model.service_model.endpoint_prefix}.{model.name}"
            self.calls.append((self.current[-1], operation, dict(params)))

    def watch(self, runner: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        """Attribute calls to the function `runner` is invoking."""
        invoke = runner.invoke

        def tagged(function: str, event: Any, *args: Any, **kwargs: Any) -> Any:
            self.current.append(function)
            try:
                return invoke(function, event, *args, **kwargs)
            finally:
                self.current.pop()

        monkeypatch.setattr(runner, "invoke", tagged)


__all__ = [
    "JWT_AUDIENCE",
    "JWT_ISSUER",
    "JWT_SECRET",
    "JWT_SECRET_PARAMETER",
    "AwsCalls",
    "AwsStack",
    "JwksServer",
    "Response",
    "User",
    "at_minute_before",
    "failing_aws_call",
    "format_utc",
    "future",
    "recording_aws_calls",
    "run_concurrently",
]
