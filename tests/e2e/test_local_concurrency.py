"""The local stack's emulation of Lambda's concurrency limits (local/aws/concurrency.py): the
account limit, reserved concurrency, a throttled synchronous call (429 at the gateway), a
throttled asynchronous event kept and retried, an SQS event source that polls only when its
function may run and honours MaximumConcurrency, and the GB-seconds record."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.aws.concurrency import ConcurrencyGate, Invocation, Throttled, async_throttle_delays
from local.aws.event_sources import SqsPoller
from local.aws.gateway import Gateway
from local.aws.invoker import AsyncInvoker
from local.aws.lambda_runtime import FunctionRunner
from local.aws.provision import provision
from local.aws.template import Template

SLOW_HANDLER = """
import json, time
def handler(event, context):
    with open({log!r}, "a") as log:
        log.write(json.dumps({{"start": time.time(), "event": event}}) + "\\n")
    time.sleep(event.get("sleep", 0) if isinstance(event, dict) and "Records" not in event
               else {batch_sleep})
    with open({log!r}, "a") as log:
        log.write(json.dumps({{"end": time.time()}}) + "\\n")
    return {{"batchItemFailures": []}}
"""


def _function(code: Path, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Serverless::Function",
        "Properties": {"CodeUri": str(code), "Handler": "slow.handler", **extra},
    }


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    log = tmp_path / "calls.jsonl"
    code = tmp_path / "code"
    code.mkdir()
    (code / "slow.py").write_text(SLOW_HANDLER.format(log=str(log), batch_sleep=0.4))
    queue = {"Fn::GetAtt": ["Work", "Arn"]}
    document = {
        "Resources": {
            "Work": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 30}},
            "Plain": _function(code, MemorySize=512),
            "Other": _function(code),
            "Reserved": _function(code, ReservedConcurrentExecutions=1),
            "Consumer": _function(
                code,
                Events={
                    "Batches": {
                        "Type": "SQS",
                        "Properties": {
                            "Queue": queue,
                            "BatchSize": 1,
                            "ScalingConfig": {"MaximumConcurrency": 2},
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
        gate = ConcurrencyGate.from_template(template, account_limit=3)
        runner = FunctionRunner(template, pooled=True, gate=gate)
        invoker = AsyncInvoker(template, runner, stop, 0.05, throttle_retry_scale=0.05)
        yield {
            "template": template,
            "gate": gate,
            "runner": runner,
            "invoker": invoker,
            "stop": stop,
            "calls": lambda: (
                [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
            ),
        }
        stop.set()
        invoker.wait(5)


def _in_background(runner: FunctionRunner, function: str, event: Any) -> threading.Thread:
    thread = threading.Thread(target=runner.invoke, args=(function, event), daemon=True)
    thread.start()
    return thread


def _until(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def test_account_limit_is_shared_and_reserved_concurrency_is_carved_out() -> None:
    gate = ConcurrencyGate(account_limit=3, reserved={"Publisher": 1})
    assert gate.try_acquire("Api")
    assert gate.try_acquire("Api2")
    assert not gate.try_acquire("Api")  # the shared pool is 3 - 1 reserved = 2
    assert gate.try_acquire("Publisher")  # its reserved slot is always its own
    assert not gate.try_acquire("Publisher")  # and it never gets more than that
    gate.release("Api")
    assert gate.try_acquire("Api3")
    assert gate.throttles == {"Api": 1, "Publisher": 1}
    assert gate.peak_total == 3
    with pytest.raises(ValueError, match="exceeds the account limit"):
        ConcurrencyGate(account_limit=2, reserved={"A": 2, "B": 1})


def test_unlimited_by_default_but_reserved_still_caps_its_function() -> None:
    gate = ConcurrencyGate(reserved={"Publisher": 2})
    assert all(gate.try_acquire("Api") for _ in range(500))
    assert gate.try_acquire("Publisher")
    assert gate.try_acquire("Publisher")
    assert not gate.try_acquire("Publisher")


def test_billed_gb_seconds_round_up_to_the_millisecond() -> None:
    assert Invocation("f", 0.0, 1.0, 1024).billed_gb_seconds == pytest.approx(1.0)
    assert Invocation("f", 0.0, 0.0101, 512).billed_gb_seconds == pytest.approx(0.011 * 0.5)
    assert async_throttle_delays(1.0)[0] == 1.0
    assert async_throttle_delays(1.0)[-1] == 300.0
    assert async_throttle_delays(0.1)[-1] == pytest.approx(30.0)


def test_synchronous_invocation_over_the_limit_is_throttled(world: dict[str, Any]) -> None:
    runner, gate = world["runner"], world["gate"]
    # The account limit is 3 with 1 reserved for `Reserved`: two unreserved slots.
    busy = [_in_background(runner, "Plain", {"sleep": 0.5}) for _ in range(2)]
    assert _until(lambda: gate.running() == 2)
    with pytest.raises(Throttled):
        runner.invoke("Other", {"sleep": 0})
    runner.invoke("Reserved", {"sleep": 0})  # its reserved slot is free
    for thread in busy:
        thread.join(5)
    runner.invoke("Other", {"sleep": 0})  # free again
    plain = gate.report()["functions"]["Plain"]
    assert plain["invocations"] == 2
    assert plain["peakConcurrency"] == 2
    assert plain["gbSeconds"] == pytest.approx(2 * 0.5 * 0.5, rel=0.2)  # 512 MB, 0.5 s each
    assert gate.report()["functions"]["Other"]["throttles"] == 1


def test_reserved_concurrency_from_the_template_is_honoured(world: dict[str, Any]) -> None:
    runner, gate = world["runner"], world["gate"]
    assert gate.reserved == {"Reserved": 1}
    busy = _in_background(runner, "Reserved", {"sleep": 0.5})
    assert _until(lambda: gate.running("Reserved") == 1)
    with pytest.raises(Throttled):
        runner.invoke("Reserved", {"sleep": 0})
    runner.invoke("Other", {"sleep": 0})  # other functions keep the shared pool
    busy.join(5)


def test_gateway_answers_429_when_the_function_is_throttled() -> None:
    template = Template.load()
    gate = ConcurrencyGate(account_limit=1)
    gateway = Gateway(template, FunctionRunner(template, gate=gate))
    assert gate.try_acquire("PublisherFunction")  # the account's only slot is busy
    response = gateway.handle("GET", "/api/v1/schedule/upcoming")
    assert response.status == 429
    assert response.json() == {"message": "Too Many Requests"}
    assert gate.throttles == {"UpcomingFunction": 1}


def test_throttled_async_event_is_kept_and_retried_until_it_runs(world: dict[str, Any]) -> None:
    gate, invoker = world["gate"], world["invoker"]
    assert gate.try_acquire("Plain")
    assert gate.try_acquire("Plain")  # both unreserved slots taken
    invoker.invoke("Other", {"sleep": 0, "n": 1})
    time.sleep(0.4)
    assert world["calls"]() == []
    assert gate.throttles["Other"] >= 2  # retried with backoff, not dropped
    gate.release("Plain")
    assert invoker.wait(5)
    starts = [c for c in world["calls"]() if "start" in c]
    assert [c["event"]["n"] for c in starts] == [1]  # ran exactly once, no failure


def test_sqs_source_polls_only_when_its_function_may_run(world: dict[str, Any]) -> None:
    template, gate, stop = world["template"], world["gate"], world["stop"]
    sqs = boto3.client("sqs")
    url = template.attributes["Work.QueueUrl"]
    for n in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n}))
    assert gate.try_acquire("Plain")
    assert gate.try_acquire("Plain")
    props = template.resolve(template.function_events("Consumer", "SQS")["Batches"]["Properties"])
    poller = SqsPoller(template, world["runner"], stop, "Consumer", props)
    poller.start()
    time.sleep(1.0)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"  # not even received
    assert world["calls"]() == []
    gate.release("Plain")
    gate.release("Plain")

    assert _until(lambda: len([c for c in world["calls"]() if "end" in c]) == 5, 15)
    # MaximumConcurrency 2 caps the mapping even though the account has room for it.
    assert gate.report()["functions"]["Consumer"]["peakConcurrency"] == 2
    assert _until(
        lambda: (
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"][
                "ApproximateNumberOfMessages"
            ]
            == "0"
        )
    )


def test_sqs_source_gathers_a_batch_for_its_whole_window(world: dict[str, Any]) -> None:
    template = world["template"]
    sqs = boto3.client("sqs")
    url = template.attributes["Work.QueueUrl"]
    props = template.resolve(template.function_events("Consumer", "SQS")["Batches"]["Properties"])
    poller = SqsPoller(
        template,
        world["runner"],
        world["stop"],
        "Consumer",
        {**props, "BatchSize": 20, "MaximumBatchingWindowInSeconds": 1},
    )

    def trickle() -> None:
        for n in range(6):
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n}))
            time.sleep(0.1)

    sender = threading.Thread(target=trickle)
    sender.start()
    batch = poller._receive()
    sender.join()
    # Messages arriving 100 ms apart make one batch, not six.
    assert sorted(json.loads(m["Body"])["n"] for m in batch) == list(range(6))
