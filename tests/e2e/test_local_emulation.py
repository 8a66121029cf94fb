"""The local stack's emulation of what moto does not do, checked in process against moto's
mock with a small template of throw-away functions: the scheduler loop (at() to the second,
once, DELETE after completion; with jitter, at a seeded random offset in its window), Lambda's
asynchronous retries and on-failure destination record, duplicate delivery of asynchronous
events and SQS messages, and an SQS event source mapping with partial batch failures."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.aws.event_sources import RateRules, SqsPoller, start_event_sources
from local.aws.invoker import AsyncInvoker, DuplicateDelivery
from local.aws.lambda_runtime import FunctionRunner
from local.aws.provision import provision
from local.aws.scheduler_loop import Jitter, SchedulerLoop, at_time, rate_seconds
from local.aws.template import Template
from local.config import ConfigError, LocalConfig

HANDLERS = {
    "recorder.py": """
import json
def handler(event, context):
    with open({log!r}, "a") as log:
        log.write(json.dumps({{"fn": "recorder", "event": event,
                               "request": context.aws_request_id}}) + "\\n")
    return {{"ok": True}}
""",
    "flaky.py": """
import json
def handler(event, context):
    with open({log!r}, "a") as log:
        log.write(json.dumps({{"fn": "flaky", "event": event,
                               "request": context.aws_request_id}}) + "\\n")
    raise RuntimeError("TikTok is down")
""",
    "consumer.py": """
import json
def handler(event, context):
    failures = []
    with open({log!r}, "a") as log:
        for record in event["Records"]:
            log.write(json.dumps({{"fn": "consumer", "event": record}}) + "\\n")
            if json.loads(record["body"]).get("fail"):
                failures.append({{"itemIdentifier": record["messageId"]}})
    return {{"batchItemFailures": failures}}
""",
}


def _function(code: Path, module: str, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Serverless::Function",
        "Properties": {"CodeUri": str(code), "Handler": f"{module}.handler", **extra},
    }


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    log = tmp_path / "calls.jsonl"
    code = tmp_path / "code"
    code.mkdir()
    for name, source in HANDLERS.items():
        (code / name).write_text(source.format(log=str(log)))
    failure_queue = {"Fn::GetAtt": ["FailureQueue", "Arn"]}
    document = {
        "Resources": {
            "Group": {"Type": "AWS::Scheduler::ScheduleGroup", "Properties": {"Name": "posts"}},
            "FailureQueue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 1}},
            "Videos": {"Type": "AWS::S3::Bucket", "Properties": {}},
            "Recorder": _function(
                code,
                "recorder",
                Events={
                    "Uploaded": {
                        "Type": "S3",
                        "Properties": {
                            "Bucket": {"Ref": "Videos"},
                            "Events": "s3:ObjectCreated:*",
                            "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "in/"}]}},
                        },
                    }
                },
            ),
            "Flaky": _function(
                code,
                "flaky",
                EventInvokeConfig={
                    "MaximumRetryAttempts": 1,
                    "DestinationConfig": {
                        "OnFailure": {"Type": "SQS", "Destination": failure_queue}
                    },
                },
            ),
            "DefaultRetries": _function(code, "flaky"),
            "Ticker": _function(
                code,
                "recorder",
                Events={
                    "Tick": {"Type": "Schedule", "Properties": {"Schedule": "rate(5 minutes)"}}
                },
            ),
            "Consumer": _function(
                code,
                "consumer",
                Events={
                    "Failures": {
                        "Type": "SQS",
                        "Properties": {
                            "Queue": failure_queue,
                            "FunctionResponseTypes": ["ReportBatchItemFailures"],
                        },
                    }
                },
            ),
        }
    }
    stop = threading.Event()
    with mock_aws():
        template = provision(Template(document))
        runner = FunctionRunner(template, pooled=True)
        invoker = AsyncInvoker(template, runner, stop, retry_delay_seconds=0.05)
        yield {
            "template": template,
            "runner": runner,
            "invoker": invoker,
            "stop": stop,
            "calls": lambda: (
                [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
            ),
        }
        stop.set()
        invoker.wait(5)


def _schedule(template: Template, name: str, when: datetime, payload: str, **extra: Any) -> None:
    boto3.client("scheduler").create_schedule(
        Name=name,
        GroupName="posts",
        ScheduleExpression=f"at({when.strftime('%Y-%m-%dT%H:%M:%S')})",
        ScheduleExpressionTimezone="UTC",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": template.attributes["Recorder.Arn"],
            "RoleArn": "arn:aws:iam::123456789012:role/scheduler",
            "Input": payload,
        },
        **extra,
    )


def _names() -> set[str]:
    schedules = boto3.client("scheduler").list_schedules()["Schedules"]
    return {s["Name"] for s in schedules}


def test_expressions() -> None:
    assert at_time("at(2030-01-02T03:04:05)", "UTC") == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert at_time("at(2030-01-02T03:04:05)", "Europe/Paris") == datetime(
        2030, 1, 2, 2, 4, 5, tzinfo=UTC
    )
    assert at_time("rate(5 minutes)", "UTC") is None
    assert rate_seconds("rate(5 minutes)") == 300
    assert rate_seconds("rate(1 hour)") == 3600
    assert rate_seconds("cron(0 12 * * ? *)") is None


def test_one_time_schedule_fires_once_at_its_second_then_is_deleted(
    world: dict[str, Any],
) -> None:
    template, invoker = world["template"], world["invoker"]
    loop = SchedulerLoop(template, invoker, world["stop"])
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)
    _schedule(template, "later", due, '{"scheduleId": "s1", "version": 1}',
              ActionAfterCompletion="DELETE")  # fmt: skip
    _schedule(template, "past", due - timedelta(hours=1), '{"scheduleId": "s0"}')

    next_due = loop.tick(now=due.timestamp() - 1)
    invoker.wait(5)
    assert [c["event"] for c in world["calls"]()] == [{"scheduleId": "s0"}]
    assert next_due == due.timestamp()
    assert _names() == {"later", "past"}  # ActionAfterCompletion NONE keeps a fired schedule

    loop.tick(now=due.timestamp())
    loop.tick(now=due.timestamp() + 5)
    invoker.wait(5)
    events = [c["event"] for c in world["calls"]()]
    assert events == [{"scheduleId": "s0"}, {"scheduleId": "s1", "version": 1}]
    assert _names() == {"past"}


def test_updated_schedule_fires_again(world: dict[str, Any]) -> None:
    template, invoker = world["template"], world["invoker"]
    loop = SchedulerLoop(template, invoker, world["stop"])
    past = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    _schedule(template, "post-1", past, '{"version": 1}')
    loop.tick()
    loop.tick()
    boto3.client("scheduler").update_schedule(
        Name="post-1",
        GroupName="posts",
        ScheduleExpression=f"at({past.strftime('%Y-%m-%dT%H:%M:%S')})",
        FlexibleTimeWindow={"Mode": "OFF"},
        State="ENABLED",
        Target={
            "Arn": template.attributes["Recorder.Arn"],
            "RoleArn": "arn:aws:iam::123456789012:role/scheduler",
            "Input": '{"version": 2}',
        },
    )
    loop.tick()
    loop.tick()
    invoker.wait(5)
    # Asynchronous invocations may finish in either order; both must have happened.
    fired = sorted(c["event"]["version"] for c in world["calls"]())
    assert fired == [1, 2]


def _failure_records(template: Template) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    url = template.attributes["FailureQueue.QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_async_errors_are_retried_then_recorded_on_failure(world: dict[str, Any]) -> None:
    template, invoker = world["template"], world["invoker"]
    request_id = invoker.invoke("Flaky", {"scheduleId": "s9"})
    assert invoker.wait(5)

    calls = world["calls"]()
    assert len(calls) == 2  # MaximumRetryAttempts: 1
    assert {c["request"] for c in calls} == {request_id}
    (record,) = _failure_records(template)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestContext"]["functionArn"].startswith(template.attributes["Flaky.Arn"])
    assert record["requestPayload"] == {"scheduleId": "s9"}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert record["responsePayload"]["errorMessage"] == "TikTok is down"


def test_lambda_default_is_two_retries(world: dict[str, Any]) -> None:
    invoker = world["invoker"]
    invoker.invoke("DefaultRetries", {})
    assert invoker.wait(5)
    assert len(world["calls"]()) == 3
    assert _failure_records(world["template"]) == []  # no destination configured


def test_sqs_event_source_deletes_processed_and_keeps_failed(world: dict[str, Any]) -> None:
    template = world["template"]
    sqs = boto3.client("sqs")
    url = template.attributes["FailureQueue.QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"fail": False, "n": 1}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"fail": True, "n": 2}))
    props = template.resolve(template.function_events("Consumer", "SQS")["Failures"]["Properties"])
    poller = SqsPoller(template, world["runner"], world["stop"], "Consumer", props)

    poller._deliver(poller._receive())

    records = [c["event"] for c in world["calls"]()]
    assert sorted(json.loads(r["body"])["n"] for r in records) == [1, 2]
    assert {r["eventSource"] for r in records} == {"aws:sqs"}
    assert {r["eventSourceARN"] for r in records} == {template.attributes["FailureQueue.Arn"]}
    time.sleep(1.1)  # the failed message becomes visible again after the visibility timeout
    left = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert [json.loads(m["Body"])["n"] for m in left] == [2]


def test_new_objects_are_s3_events_for_the_subscriber(world: dict[str, Any]) -> None:
    template = world["template"]
    start_event_sources(template, world["runner"], world["invoker"], world["stop"])
    s3, bucket = boto3.client("s3"), template.physical["Videos"]
    s3.put_object(Bucket=bucket, Key="elsewhere/skipped.mp4", Body=b"x")
    s3.put_object(Bucket=bucket, Key="in/my clip.mp4", Body=b"12345")

    deadline = time.monotonic() + 10
    while not world["calls"]() and time.monotonic() < deadline:
        time.sleep(0.05)
    world["invoker"].wait(5)
    (call,) = world["calls"]()
    (record,) = call["event"]["Records"]
    assert call["fn"] == "recorder"
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"]["name"] == bucket
    assert record["s3"]["object"]["key"] == "in/my+clip.mp4"
    assert record["s3"]["object"]["size"] == 5


def test_schedule_events_run_on_their_rate(world: dict[str, Any]) -> None:
    rules = RateRules(world["template"], world["invoker"], world["stop"])
    (rule,) = rules.rules
    assert (rule["function"], rule["period"]) == ("Ticker", 300)
    assert rule["next"] == pytest.approx(time.time() + 300, abs=5)
    event = rules.event(rule, rule["next"])
    assert event["source"] == "aws.events"
    assert event["detail-type"] == "Scheduled Event"
    assert event["resources"][0].endswith(":rule/TickerTick")


# --- AWS at its worst: firing offsets and duplicate delivery ---------------------------------


def test_jitter_offsets_are_uniform_in_the_window_and_the_seed_replays_them() -> None:
    jitter = Jitter(59, random.Random(7))
    offsets = [jitter.offset(("posts", f"post-{i}")) for i in range(400)]
    assert all(0 <= o <= 59 for o in offsets)
    assert min(offsets) < 3
    assert max(offsets) > 56
    assert sum(1 for o in offsets if o < 29.5) == pytest.approx(200, abs=40)
    assert jitter.offset(("posts", "post-3")) == offsets[3]  # drawn once per schedule

    replay = Jitter(59, random.Random(7))
    assert [replay.offset(("posts", f"post-{i}")) for i in range(400)] == offsets
    other = Jitter(59, random.Random(8))
    assert [other.offset(("posts", f"post-{i}")) for i in range(400)] != offsets
    assert {Jitter(0).offset(i) for i in range(20)} == {0.0}
    with pytest.raises(ValueError, match="minute"):
        Jitter(61)


def _jittered_loop(world: dict[str, Any], seed: int) -> SchedulerLoop:
    jitter = Jitter(59, random.Random(seed))
    return SchedulerLoop(world["template"], world["invoker"], world["stop"], jitter=jitter)


def test_one_time_schedules_fire_at_their_offset_in_the_window(world: dict[str, Any]) -> None:
    template, invoker = world["template"], world["invoker"]
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)
    payload = '{"name": "%s", "scheduledTime": "<aws.scheduler.scheduled-time>"}'
    for name in ("a", "b", "c"):
        _schedule(template, name, due, payload % name)
    loop = _jittered_loop(world, seed=5)

    fired_at: dict[str, float] = {}
    moment = due.timestamp() - 1
    while len(fired_at) < 3:
        next_due = loop.tick(now=moment)
        invoker.wait(5)
        for call in world["calls"]():
            fired_at.setdefault(call["event"]["name"], moment)
        assert next_due is not None or len(fired_at) == 3
        if next_due is not None:
            assert next_due > moment  # nothing fires before its offset
            moment = next_due
    assert all(due.timestamp() <= t <= due.timestamp() + 59 for t in fired_at.values())
    assert len(set(fired_at.values())) == 3  # each schedule has its own offset
    events = [c["event"] for c in world["calls"]()]
    assert sorted(e["name"] for e in events) == ["a", "b", "c"]  # each fired once
    # The Input's scheduled time is the schedule's own, not the moment it fired.
    assert {e["scheduledTime"] for e in events} == {due.strftime("%Y-%m-%dT%H:%M:%SZ")}

    # The same seed replays the same offsets for the same schedules.
    replay = _jittered_loop(world, seed=5)
    first = replay.tick(now=due.timestamp() - 1)
    assert first == min(fired_at.values())
    assert _jittered_loop(world, seed=6).tick(now=due.timestamp() - 1) != first


def test_a_schedule_whose_window_has_passed_fires_at_once(world: dict[str, Any]) -> None:
    template, invoker = world["template"], world["invoker"]
    past = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    _schedule(template, "late", past, '{"name": "late"}')
    assert _jittered_loop(world, seed=1).tick() is None
    invoker.wait(5)
    assert [c["event"] for c in world["calls"]()] == [{"name": "late"}]


def test_rate_schedules_fire_at_a_new_offset_in_each_period(world: dict[str, Any]) -> None:
    template, invoker = world["template"], world["invoker"]
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    _schedule(template, "tick", start, '{"name": "tick"}')
    boto3.client("scheduler").update_schedule(
        Name="tick",
        GroupName="posts",
        ScheduleExpression="rate(5 minutes)",
        StartDate=start,
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": template.attributes["Recorder.Arn"],
            "RoleArn": "arn:aws:iam::123456789012:role/scheduler",
            "Input": '{"name": "tick"}',
        },
    )
    loop = _jittered_loop(world, seed=9)
    periods = [start.timestamp() + 300 * n for n in (1, 2, 3)]
    offsets = []
    for period in periods:
        due = loop.tick(now=period - 1)
        assert due is not None
        assert period <= due <= period + 59
        assert loop.tick(now=due - 0.01) == due  # not yet
        offsets.append(due - period)
        loop.tick(now=due)
    invoker.wait(5)
    assert len(world["calls"]()) == 3
    assert len(set(offsets)) == 3  # a fresh offset each period


def test_duplicate_delivery_delivers_each_chosen_event_twice_and_counts_it(
    world: dict[str, Any],
) -> None:
    template, runner, stop = world["template"], world["runner"], world["stop"]
    always = DuplicateDelivery(1.0, random.Random(1), delay_seconds=(0.05, 0.2))
    invoker = AsyncInvoker(template, runner, stop, 0.05, always)
    first_ids = {invoker.invoke("Recorder", {"n": n}) for n in range(5)}
    assert invoker.wait(10)

    calls = world["calls"]()
    assert sorted(c["event"]["n"] for c in calls) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert len({c["request"] for c in calls}) == 10  # the second delivery is its own invocation
    assert first_ids < {c["request"] for c in calls}
    assert (always.chosen, always.delivered) == (5, 5)


def _duplicated_pattern(world: dict[str, Any], seed: int, offset: int) -> list[int]:
    """Which of 40 events a half-chance DuplicateDelivery with `seed` delivers twice."""
    template, runner, stop = world["template"], world["runner"], world["stop"]
    half = DuplicateDelivery(0.5, random.Random(seed), delay_seconds=(0.01, 0.05))
    invoker = AsyncInvoker(template, runner, stop, 0.05, half)
    for n in range(40):
        invoker.invoke("Recorder", {"n": offset + n})
    assert invoker.wait(10)
    counts = [0] * 40
    for call in world["calls"]():
        if offset <= call["event"]["n"] < offset + 40:
            counts[call["event"]["n"] - offset] += 1
    assert set(counts) <= {1, 2}
    assert half.delivered == half.chosen == counts.count(2)
    return counts


def test_duplicate_draws_replay_with_the_seed(world: dict[str, Any]) -> None:
    first = _duplicated_pattern(world, seed=21, offset=0)
    assert 8 <= first.count(2) <= 32
    assert _duplicated_pattern(world, seed=21, offset=100) == first
    assert _duplicated_pattern(world, seed=22, offset=200) != first


def test_without_duplicates_each_event_is_delivered_once(world: dict[str, Any]) -> None:
    invoker = world["invoker"]
    for n in range(5):
        invoker.invoke("Recorder", {"n": n})
    assert invoker.wait(5)
    assert sorted(c["event"]["n"] for c in world["calls"]()) == [0, 1, 2, 3, 4]
    assert invoker.duplicates.delivered == 0


def test_sqs_messages_chosen_for_duplicate_delivery_come_twice(world: dict[str, Any]) -> None:
    template = world["template"]
    sqs = boto3.client("sqs")
    url = template.attributes["FailureQueue.QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"fail": False, "n": 1}))
    props = template.resolve(template.function_events("Consumer", "SQS")["Failures"]["Properties"])
    always = DuplicateDelivery(1.0, random.Random(3), delay_seconds=(0.1, 0.5))
    poller = SqsPoller(template, world["runner"], world["stop"], "Consumer", props, always)

    poller._deliver(poller._receive())
    assert sqs.receive_message(QueueUrl=url, VisibilityTimeout=0).get("Messages", []) == []
    deadline = time.monotonic() + 5
    again: list[dict[str, Any]] = []
    while not again and time.monotonic() < deadline:
        again = poller._receive()
    poller._deliver(again)
    time.sleep(1.1)  # had it been kept again, it would be visible by now
    assert poller._receive() == []

    records = [c["event"] for c in world["calls"]()]
    assert [json.loads(r["body"])["n"] for r in records] == [1, 1]
    assert records[0]["messageId"] == records[1]["messageId"]  # the same message, twice
    assert (always.chosen, always.delivered) == (1, 1)


def test_settings_of_jitter_seed_and_duplicates() -> None:
    assert LocalConfig.from_env({}).scheduler_jitter_seconds == 59
    assert LocalConfig.from_env({}).duplicate_delivery == 0
    assert LocalConfig.from_env({}).scheduler_seed is None
    config = LocalConfig.from_env(
        {
            "LOCAL_SCHEDULER_JITTER_SECONDS": "0",
            "LOCAL_DUPLICATE_DELIVERY": "0.2",
            "LOCAL_SCHEDULER_SEED": "42",
        }
    )
    assert (config.scheduler_jitter_seconds, config.duplicate_delivery) == (0, 0.2)
    assert config.scheduler_seed == 42
    for name, value in (
        ("LOCAL_SCHEDULER_JITTER_SECONDS", "60"),
        ("LOCAL_SCHEDULER_JITTER_SECONDS", "-1"),
        ("LOCAL_SCHEDULER_JITTER_SECONDS", "soon"),
        ("LOCAL_DUPLICATE_DELIVERY", "1.5"),
        ("LOCAL_DUPLICATE_DELIVERY", "nan"),
        ("LOCAL_SCHEDULER_SEED", "abc"),
    ):
        with pytest.raises(ConfigError, match=name):
            LocalConfig.from_env({name: value})


def test_the_banner_states_jitter_duplicates_and_seed() -> None:
    from types import SimpleNamespace

    from local.__main__ import banner

    template = SimpleNamespace(
        http_routes=lambda: ["GET /x"], physical={"Table": "t", "VideoBucket": "b"}
    )
    stack = SimpleNamespace(
        api_keys={"free": "k1", "basic": "k2", "professional": "k3"},
        template=template,
        config=LocalConfig.from_env(
            {"LOCAL_DUPLICATE_DELIVERY": "0.2", "LOCAL_SCHEDULER_JITTER_SECONDS": "30"}
        ),
        api_url="http://127.0.0.1:3000",
        stub_url="http://127.0.0.1:3001",
        moto_url="http://127.0.0.1:5000",
        seed=1234,
    )
    text = banner(stack)
    assert "fires each schedule 0-30 s after its time" in text
    assert "(LOCAL_SCHEDULER_JITTER_SECONDS=30)" in text
    assert "delivered twice with probability 0.2 (LOCAL_DUPLICATE_DELIVERY)" in text
    assert "LOCAL_SCHEDULER_SEED=1234 replays" in text
    stack.config = LocalConfig.from_env({"LOCAL_SCHEDULER_JITTER_SECONDS": "0"})
    assert "fires each schedule at its second" in banner(stack)
