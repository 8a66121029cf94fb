"""Webhooks: registration and its refusals (SSRF, the cap, long URLs), events from the table's
stream when posts end, signed deliveries verified with the `standardwebhooks` library, retries
with the same webhook-id on a receiver's 500 and on timeouts, the backoff schedule, and
delivery-time refusal of a target that now resolves to a private address (DNS rebinding)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks import Webhook

from post_scheduler import wiring
from post_scheduler.adapters import webhook_sender
from post_scheduler.adapters.aws import aws_client
from tests.support import AwsStack, User, assert_error, assert_ok, harness_client

HOOKS = "/api/v1/webhooks"
ALL_EVENTS = ["schedule.executed", "schedule.failed", "schedule.cancelled"]
PUBLIC_ADDRESS = "93.184.216.34"  # a global unicast address (no connection is made to it)


class Receiver:
    """A webhook receiver on loopback: answers each POST with the next scripted status (then
    200), optionally after a delay; records every request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                )
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}/hooks/tiktok"

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


class Webhooks:
    """Drives the event and delivery functions as their event sources would: the table's
    stream into WebhookEventsFunction, the delivery queue into WebhookDeliveryFunction."""

    def __init__(self, stack: AwsStack) -> None:
        self.stack = stack
        # botocore's account-based streams endpoint is not one moto's mock recognises.
        self.streams = harness_client(
            "dynamodbstreams", endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com"
        )
        table = harness_client("dynamodb").describe_table(TableName=stack.table.name)["Table"]
        self.stream_arn = table["LatestStreamArn"]
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        # The last record seen per shard; each read asks for a fresh iterator after it (moto
        # replaces a table's stream shard when a transaction fails, stranding old iterators).
        self.last_seen: dict[str, str | None] = {s["ShardId"]: None for s in shards["Shards"]}
        self.queue_url = stack.environment["WEBHOOK_QUEUE_URL"]
        self.sqs = harness_client("sqs")
        self.visibility: list[int] = []
        self.last_failed: list[str] = []
        aws_client("sqs").meta.events.register(
            "before-parameter-build.sqs.ChangeMessageVisibility", self._seen_visibility
        )

    def _seen_visibility(self, params: dict[str, Any], **_: Any) -> None:
        self.visibility.append(int(params["VisibilityTimeout"]))

    def records(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for shard, after in self.last_seen.items():
            position: dict[str, Any] = (
                {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
                if after
                else {"ShardIteratorType": "TRIM_HORIZON"}
            )
            iterator = self.streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard, **position
            )["ShardIterator"]
            records = self.streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
            if records:
                self.last_seen[shard] = records[-1]["dynamodb"]["SequenceNumber"]
            found.extend(
                {**r, "eventSourceARN": self.stream_arn, "eventSource": "aws:dynamodb"}
                for r in records
            )
        return found

    def emit(self, records: list[dict[str, Any]] | None = None) -> int:
        """The stream's new records through the events function; the deliveries queued."""
        records = self.records() if records is None else records
        if not records:
            return 0
        result = self.stack.gateway.runner.invoke("WebhookEventsFunction", {"Records": records})
        return int(result["queued"])

    def deliver(self) -> list[str]:
        """One receive of the queue through the delivery function, as the event source mapping
        does (successes deleted); the ids of failed items. Their next attempt is made due at
        once (the test's stand-in for waiting out the delay)."""
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=5, AttributeNames=["All"]
        )
        messages = response.get("Messages", [])
        if not messages:
            return []
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m["Attributes"],
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:deliveries",
                    "awsRegion": "us-east-1",
                }
                for m in messages
            ]
        }
        result = self.stack.gateway.runner.invoke("WebhookDeliveryFunction", event)
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] in failed:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=0,
                )
            else:
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return sorted(failed)

    def queued(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def close(self) -> None:
        aws_client("sqs").meta.events.unregister(
            "before-parameter-build.sqs.ChangeMessageVisibility", self._seen_visibility
        )


@pytest.fixture
def local_settings(stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> AwsStack:
    """The local stack's webhook settings: loopback receivers allowed, short timeouts."""
    monkeypatch.setenv("WEBHOOK_ALLOW_LOOPBACK_HTTP", "true")
    monkeypatch.setenv("WEBHOOK_TIMEOUT_SECONDS", "0.5")
    wiring.reset()
    return stack


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def hooks(local_settings: AwsStack) -> Iterator[Webhooks]:
    driver = Webhooks(local_settings)
    yield driver
    driver.close()


@pytest.fixture
def basic(stack: AwsStack) -> User:
    return stack.user("basic")


def register(user: User, url: str, events: list[str] | None = None, **kwargs: Any) -> Any:
    return user.call("POST", HOOKS, {"url": url, "events": events or ALL_EVENTS}, **kwargs)


def deliveries(user: User, webhook_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = assert_ok(user.call("GET", f"{HOOKS}/{webhook_id}/deliveries"))
    return found


def executed(user: User) -> str:
    schedule_id = user.scheduled()
    now = datetime.now(UTC)
    user.mark(schedule_id, "executed", executedAt=now, tiktokPublishId="v_pub_file~1")
    return schedule_id


# --- registration ------------------------------------------------------------------------------


def test_register_list_delete(
    stack: AwsStack, hooks: Webhooks, basic: User, receiver: Receiver
) -> None:
    created = assert_ok(register(basic, receiver.url, ["schedule.failed"]))
    assert set(created) == {"id", "url", "events", "secret", "createdAt"}
    assert created["url"] == receiver.url
    assert created["events"] == ["schedule.failed"]
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"))) == 32
    # The secret is answered once: never listed, and stored only encrypted.
    listed = assert_ok(basic.call("GET", HOOKS))
    assert listed == [{k: v for k, v in created.items() if k != "secret"}]
    assert created["secret"].removeprefix("whsec_") not in json.dumps(stack.items(), default=str)
    assert basic.profile()["webhookCount"] == 1

    deleted = assert_ok(basic.call("DELETE", f"{HOOKS}/{created['id']}"))
    assert deleted == {"id": created["id"], "deleted": True}
    assert assert_ok(basic.call("GET", HOOKS)) == []
    assert basic.profile()["webhookCount"] == 0
    assert_error(basic.call("DELETE", f"{HOOKS}/{created['id']}"), 404, "NOT_FOUND")


def test_another_users_webhooks_are_not_found(
    stack: AwsStack, hooks: Webhooks, basic: User, receiver: Receiver
) -> None:
    created = assert_ok(register(basic, receiver.url))
    other = stack.user("basic")
    assert assert_ok(other.call("GET", HOOKS)) == []
    with stack.unchanged():
        assert_error(other.call("DELETE", f"{HOOKS}/{created['id']}"), 404, "NOT_FOUND")
        assert_error(other.call("GET", f"{HOOKS}/{created['id']}/deliveries"), 404, "NOT_FOUND")


def test_at_most_ten_per_user(
    stack: AwsStack, hooks: Webhooks, basic: User, receiver: Receiver
) -> None:
    for _ in range(10):
        assert_ok(register(basic, receiver.url))
    with stack.unchanged():
        error = assert_error(register(basic, receiver.url), 409, "CONFLICT")
    assert error["details"] == {"limit": 10}
    first = assert_ok(basic.call("GET", HOOKS))[0]
    assert_ok(basic.call("DELETE", f"{HOOKS}/{first['id']}"))
    assert_ok(register(basic, receiver.url))


@pytest.mark.parametrize(
    "body",
    [
        {"url": "https://hooks.example.com/" + "a" * 2030, "events": ALL_EVENTS},
        {"url": "ftp://hooks.example.com/x", "events": ALL_EVENTS},
        {"url": "https://hooks.example.com/x", "events": []},
        {"url": "https://hooks.example.com/x", "events": ["schedule.created"]},
        {"url": "https://hooks.example.com/x", "events": ["schedule.failed", "schedule.failed"]},
        {"url": "https://hooks.example.com/x"},
        {"url": "https://hooks.example.com/x", "events": ALL_EVENTS, "secret": "mine"},
    ],
    ids=["url-too-long", "not-http", "no-events", "unknown-event", "repeated", "missing", "extra"],
)
def test_bad_bodies_are_400(stack: AwsStack, basic: User, body: dict[str, Any]) -> None:
    with stack.unchanged():
        assert_error(basic.call("POST", HOOKS, body), 400, "VALIDATION_ERROR")


def test_a_url_of_2048_characters_is_accepted(stack: AwsStack, basic: User) -> None:
    url = f"https://{PUBLIC_ADDRESS}/" + "a" * (2048 - len(f"https://{PUBLIC_ADDRESS}/"))
    assert len(url) == 2048
    assert assert_ok(register(basic, url))["url"] == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/x", "https"),
        (f"http://{PUBLIC_ADDRESS}/x", "https"),
        ("https://127.0.0.1/x", "loopback"),
        ("https://localhost:8443/x", "loopback"),
        ("https://[::1]/x", "loopback"),
        ("https://[::ffff:127.0.0.1]/x", "loopback"),
        ("https://10.1.2.3/x", "private"),
        ("https://172.16.0.9/x", "private"),
        ("https://192.168.1.10/x", "private"),
        ("https://[fd12:3456::1]/x", "private"),
        ("https://169.254.169.254/latest/meta-data/", "metadata"),
        ("https://[fd00:ec2::254]/x", "metadata"),
        ("https://169.254.10.10/x", "link-local"),
        ("https://[fe80::1]/x", "link-local"),
        ("https://100.64.0.1/x", "not a public address"),
        ("https://0.0.0.0/x", "not a public address"),
        ("https://224.0.0.1/x", "not a public address"),
        (f"https://user:pass@{PUBLIC_ADDRESS}/x", "credentials"),
        ("https://no-such-host.invalid/x", "does not resolve"),
    ],
)
def test_the_deployed_settings_refuse_unsafe_targets(
    stack: AwsStack, basic: User, url: str, reason: str
) -> None:
    with stack.unchanged():
        error = assert_error(register(basic, url), 422, "UNPROCESSABLE_ENTITY")
    assert reason in error["message"], error
    assert error["details"]["field"] == "url"


def test_a_public_https_target_is_accepted(basic: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhook_sender, "resolve_host", lambda host, port: [PUBLIC_ADDRESS])
    assert_ok(register(basic, "https://hooks.example.com/tiktok"))
    assert_ok(register(basic, f"https://{PUBLIC_ADDRESS}:8443/tiktok?token=abc"))


def test_a_name_with_one_private_address_is_refused(
    stack: AwsStack, basic: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        webhook_sender, "resolve_host", lambda host, port: [PUBLIC_ADDRESS, "10.0.0.5"]
    )
    with stack.unchanged():
        error = assert_error(
            register(basic, "https://mixed.example.com/x"), 422, "UNPROCESSABLE_ENTITY"
        )
    assert "10.0.0.5" in error["message"]


def test_the_local_settings_allow_loopback_http_only(local_settings: AwsStack, basic: User) -> None:
    assert_ok(register(basic, "http://127.0.0.1:9/hooks"))
    assert_ok(register(basic, "http://localhost:9/hooks"))
    assert_error(register(basic, "http://10.0.0.1/hooks"), 422, "UNPROCESSABLE_ENTITY")
    assert_error(register(basic, f"http://{PUBLIC_ADDRESS}/hooks"), 422, "UNPROCESSABLE_ENTITY")


def test_registration_takes_an_idempotency_key(stack: AwsStack, basic: User) -> None:
    body = {"url": f"https://{PUBLIC_ADDRESS}/x", "events": ALL_EVENTS}
    first = basic.call("POST", HOOKS, body, headers={"Idempotency-Key": "hook-1"})
    again = basic.call("POST", HOOKS, body, headers={"Idempotency-Key": "hook-1"})
    assert again.headers["idempotent-replayed"] == "true"
    assert again.body == first.body
    assert len(assert_ok(basic.call("GET", HOOKS))) == 1


# --- events and deliveries -------------------------------------------------------------------


def test_an_executed_post_is_delivered_signed(
    hooks: Webhooks, basic: User, receiver: Receiver
) -> None:
    created = assert_ok(register(basic, receiver.url))
    hooks.records()  # start after the setup's writes
    schedule_id = executed(basic)
    assert hooks.emit() == 1
    assert hooks.deliver() == []

    (request,) = receiver.requests
    assert request["path"] == "/hooks/tiktok"
    payload = Webhook(created["secret"]).verify(request["body"], request["headers"])
    assert payload["type"] == "schedule.executed"
    assert set(payload) == {"type", "timestamp", "data"}
    # The data is the post exactly as GET returns it.
    assert payload["data"] == assert_ok(basic.call("GET", f"/api/v1/schedule/{schedule_id}"))
    assert payload["data"]["tiktokPublishId"] == "v_pub_file~1"
    assert request["headers"]["webhook-id"].startswith("msg_")
    assert request["headers"]["Content-Type"] == "application/json"
    # A tampered body does not verify.
    with pytest.raises(Exception, match="signature"):
        Webhook(created["secret"]).verify(request["body"] + b" ", request["headers"])

    (delivery,) = deliveries(basic, created["id"])
    assert delivery["eventId"] == request["headers"]["webhook-id"]
    assert delivery["type"] == "schedule.executed"
    assert delivery["scheduleId"] == schedule_id
    assert (delivery["status"], delivery["attempt"], delivery["responseStatus"]) == (
        "delivered",
        1,
        200,
    )
    assert "nextAttemptAt" not in delivery


def test_failed_and_cancelled_posts_and_subscriptions(
    hooks: Webhooks, basic: User, receiver: Receiver
) -> None:
    every = assert_ok(register(basic, receiver.url))
    only_failed = assert_ok(register(basic, receiver.url, ["schedule.failed"]))
    hooks.records()
    failed = basic.scheduled()
    basic.mark(failed, "failed", failureReason="spam risk", failedAt=datetime.now(UTC))
    cancelled = basic.scheduled()
    assert_ok(basic.put(cancelled, {"status": "cancelled"}))
    assert_ok(basic.put(basic.scheduled(), {"title": "not an ending"}))
    assert hooks.emit() == 3  # failed: two webhooks; cancelled: one
    while hooks.deliver():
        pass
    types = sorted(json.loads(r["body"])["type"] for r in receiver.requests)
    assert types == ["schedule.cancelled", "schedule.failed", "schedule.failed"]
    assert {d["type"] for d in deliveries(basic, every["id"])} == {
        "schedule.failed",
        "schedule.cancelled",
    }
    (only,) = deliveries(basic, only_failed["id"])
    assert only["scheduleId"] == failed
    failed_payload = next(
        json.loads(r["body"]) for r in receiver.requests if b"schedule.failed" in r["body"]
    )
    assert failed_payload["data"]["failureReason"] == "spam risk"


def test_a_receiver_500_is_retried_with_the_same_webhook_id(
    hooks: Webhooks, basic: User, receiver: Receiver
) -> None:
    created = assert_ok(register(basic, receiver.url))
    hooks.records()
    executed(basic)
    hooks.emit()
    receiver.statuses = [500, 503]
    assert len(hooks.deliver()) == 1
    (pending,) = deliveries(basic, created["id"])
    assert (pending["status"], pending["attempt"], pending["responseStatus"]) == ("pending", 1, 500)
    assert pending["nextAttemptAt"] > pending["time"]
    assert len(hooks.deliver()) == 1
    assert hooks.deliver() == []

    assert len(receiver.requests) == 3
    ids = {r["headers"]["webhook-id"] for r in receiver.requests}
    assert len(ids) == 1
    for request in receiver.requests:  # each attempt is signed afresh, and verifies
        Webhook(created["secret"]).verify(request["body"], request["headers"])
    (delivery,) = deliveries(basic, created["id"])
    assert (delivery["status"], delivery["attempt"], delivery["responseStatus"]) == (
        "delivered",
        3,
        200,
    )
    # The deployed backoff: 5 s, then 5 min.
    assert hooks.visibility == [5, 300]
    assert hooks.queued() == 0


def test_a_timeout_is_retried(hooks: Webhooks, basic: User, receiver: Receiver) -> None:
    created = assert_ok(register(basic, receiver.url))
    hooks.records()
    executed(basic)
    hooks.emit()
    receiver.delay = 1.5  # over the 0.5 s these tests allow (10 s deployed)
    started = time.monotonic()
    assert len(hooks.deliver()) == 1
    assert time.monotonic() - started < 1.4
    (pending,) = deliveries(basic, created["id"])
    assert pending["status"] == "pending"
    assert "responseStatus" not in pending
    assert "no answer within 0.5 s" in pending["error"]
    receiver.delay = 0
    assert hooks.deliver() == []
    assert deliveries(basic, created["id"])[0]["status"] == "delivered"


def test_after_the_last_retry_the_delivery_is_failed(
    hooks: Webhooks, basic: User, receiver: Receiver
) -> None:
    created = assert_ok(register(basic, receiver.url))
    hooks.records()
    executed(basic)
    hooks.emit()
    receiver.statuses = [500] * 10
    for _ in range(7):
        assert len(hooks.deliver()) in (0, 1)
    assert hooks.deliver() == []
    assert len(receiver.requests) == 7
    (delivery,) = deliveries(basic, created["id"])
    assert (delivery["status"], delivery["attempt"], delivery["responseStatus"]) == (
        "failed",
        7,
        500,
    )
    assert hooks.visibility == [5, 300, 1800, 7200, 18000, 36000]
    assert hooks.queued() == 0


def test_events_still_come_after_a_failed_transaction(
    hooks: Webhooks, basic: User, receiver: Receiver
) -> None:
    """moto restores a table's objects when a transaction fails; the stream must go on."""
    assert_ok(register(basic, receiver.url))
    hooks.records()
    video, account = basic.video(), basic.account()
    assert_ok(basic.create(video, account))
    assert_error(basic.create(video, account), 409, "CONFLICT")  # a cancelled transaction
    executed(basic)
    assert hooks.emit() == 1


def test_a_repeated_stream_record_queues_nothing_twice(
    hooks: Webhooks, basic: User, receiver: Receiver
) -> None:
    assert_ok(register(basic, receiver.url))
    hooks.records()
    executed(basic)
    records = hooks.records()
    assert hooks.emit(records) == 1
    assert hooks.deliver() == []
    assert hooks.emit(records) == 0
    assert hooks.deliver() == []
    assert len(receiver.requests) == 1


def test_a_deleted_webhook_gets_nothing(hooks: Webhooks, basic: User, receiver: Receiver) -> None:
    created = assert_ok(register(basic, receiver.url))
    hooks.records()
    executed(basic)
    hooks.emit()
    assert_ok(basic.call("DELETE", f"{HOOKS}/{created['id']}"))
    assert hooks.deliver() == []
    assert receiver.requests == []
    assert hooks.queued() == 0


def test_a_target_that_now_resolves_to_a_private_address_is_refused_at_delivery(
    stack: AwsStack, basic: User, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deployed settings: registered while the name was public; at delivery it resolves to
    loopback (DNS rebinding) and nothing is sent."""
    answers = {"hooks.example.com": [PUBLIC_ADDRESS]}
    monkeypatch.setattr(webhook_sender, "resolve_host", lambda host, port: answers[host])
    created = assert_ok(register(basic, "https://hooks.example.com/tiktok"))
    driver = Webhooks(stack)
    try:
        driver.records()
        executed(basic)
        driver.emit()
        answers["hooks.example.com"] = ["127.0.0.1"]
        assert len(driver.deliver()) == 1
    finally:
        driver.close()
    assert receiver.requests == []
    (delivery,) = deliveries(basic, created["id"])
    assert delivery["status"] == "pending"
    assert "refused" in delivery["error"]
    assert "loopback" in delivery["error"]


def test_deliveries_are_paged_newest_first(
    hooks: Webhooks, basic: User, receiver: Receiver
) -> None:
    created = assert_ok(register(basic, receiver.url))
    hooks.records()
    ids = [executed(basic) for _ in range(3)]
    hooks.emit()
    while hooks.deliver():
        pass
    first = basic.call("GET", f"{HOOKS}/{created['id']}/deliveries", query="limit=2")
    page = assert_ok(first)
    assert len(page) == 2
    rest = assert_ok(
        basic.call(
            "GET",
            f"{HOOKS}/{created['id']}/deliveries",
            query=f"limit=2&nextToken={first.body['nextToken']}",
        )
    )
    assert [d["scheduleId"] for d in page + rest] == list(reversed(ids))


# --- AWS calls and the functions' policies --------------------------------------------------------


def test_calls_of_the_webhook_functions(
    hooks: Webhooks, basic: User, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.iam import allowed, required_permissions
    from tests.support import FunctionCallRecorder

    stack = hooks.stack
    recorder = FunctionCallRecorder()
    recorder.watch(stack.gateway.runner, monkeypatch)
    clients = [aws_client(s) for s in ("dynamodb", "sqs", "kms")]
    for client in clients:
        client.meta.events.register("before-parameter-build", recorder.record)
    try:

        def calls(action: Any, function: str) -> list[str]:
            start = len(recorder.calls)
            action()
            return [op for name, op, _ in recorder.calls[start:] if name == function]

        created: list[Any] = []
        assert calls(
            lambda: created.append(assert_ok(register(basic, receiver.url))),
            "CreateWebhookFunction",
        ) == ["kms.Encrypt", "dynamodb.TransactWriteItems"]
        webhook_id = created[0]["id"]
        assert calls(lambda: assert_ok(basic.call("GET", HOOKS)), "ListWebhooksFunction") == [
            "dynamodb.Query"
        ]
        hooks.records()
        executed(basic)
        assert calls(hooks.emit, "WebhookEventsFunction") == [
            "dynamodb.Query",
            "dynamodb.BatchGetItem",
            "dynamodb.PutItem",
            "sqs.SendMessageBatch",
        ]
        receiver.statuses = [500]
        assert calls(hooks.deliver, "WebhookDeliveryFunction") == [
            "dynamodb.GetItem",
            "dynamodb.GetItem",
            "kms.Decrypt",
            "dynamodb.UpdateItem",
            "sqs.ChangeMessageVisibility",
        ]
        assert calls(hooks.deliver, "WebhookDeliveryFunction") == [
            "dynamodb.GetItem",
            "dynamodb.GetItem",
            "kms.Decrypt",
            "dynamodb.UpdateItem",
        ]
        assert calls(
            lambda: assert_ok(basic.call("GET", f"{HOOKS}/{webhook_id}/deliveries")),
            "ListWebhookDeliveriesFunction",
        ) == ["dynamodb.Query", "dynamodb.GetItem"]
        assert calls(
            lambda: assert_ok(basic.call("DELETE", f"{HOOKS}/{webhook_id}")),
            "DeleteWebhookFunction",
        ) == ["dynamodb.TransactWriteItems"]
        for _ in range(10):
            assert_ok(register(basic, receiver.url))
        assert_error(register(basic, receiver.url), 409, "CONFLICT")
    finally:
        for client in clients:
            client.meta.events.unregister("before-parameter-build", recorder.record)
    missing = [
        (function, action, resource)
        for function, operation, params in recorder.calls
        for action, resource in required_permissions(stack, operation, params)
        if not allowed(stack, function, action, resource)
    ]
    assert missing == []
