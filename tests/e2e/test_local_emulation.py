"""The local stack's emulation of what moto does not do, checked in process against moto's
mock with a small template of throw-away functions: the scheduler loop (at() to the second,
once, DELETE after completion), Lambda's asynchronous retries and on-failure destination
record, and an SQS event source mapping with partial batch failures."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.event_sources import RateRules, SqsPoller, start_event_sources
from local.invoker import AsyncInvoker
from local.lambda_runtime import FunctionRunner
from local.provision import provision
from local.scheduler_loop import SchedulerLoop, at_time, rate_seconds
from local.template import Template

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
