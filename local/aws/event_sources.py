"""The functions' other event sources, read from their `Events` in the template:

- `Schedule` (an EventBridge rule) with `rate(N unit)`: the function is invoked asynchronously
  every period with the rule's Input or EventBridge's "Scheduled Event". (`ScheduleV2` events
  are Scheduler schedules: provisioned into moto, run by the scheduler loop.)
- `SQS`: the queue is polled and the function invoked synchronously with a real SQS event
  batch, as an event source mapping does; processed messages are deleted, a failed batch stays
  for the queue's visibility timeout and redrive policy (`ReportBatchItemFailures` honoured).
  SQS delivers at least once: with the duplicate-delivery probability a processed message is
  not deleted but made visible again a moment later, so it comes once more (same message id).
- `DynamoDB`: the table's stream is read from the stack's start on, and the function invoked
  synchronously with batches of its records (after the event's `FilterCriteria`, whose
  value-list patterns are matched), as an event source mapping does; a failed batch is retried
  up to `MaximumRetryAttempts` times, then skipped.
  Batches run concurrently, at most `ScalingConfig.MaximumConcurrency` at once, and the queue
  is polled only while the function has concurrency left (local/aws/concurrency.py).
- `S3`: the bucket gets a notification configuration (moto delivers S3's event
  notifications to a queue of the local stack's) and the function is invoked asynchronously
  with each S3 event, as S3 invokes it.

A template that declares none of these just gets no threads.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import boto3

from local.aws.invoker import AsyncInvoker, DuplicateDelivery
from local.aws.lambda_runtime import FunctionRunner
from local.aws.provision import queue_url
from local.aws.scheduler_loop import rate_seconds
from local.aws.template import Template

logger = logging.getLogger("local.events")


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class RateRules(threading.Thread):
    """Runs the functions' `Schedule` events that have a `rate(...)` expression."""

    def __init__(self, template: Template, invoker: AsyncInvoker, stop: threading.Event) -> None:
        super().__init__(name="rate-rules", daemon=True)
        self.template = template
        self.invoker = invoker
        self.stop = stop
        self.rules: list[dict[str, Any]] = []
        now = time.time()
        for function in template.of_type("AWS::Serverless::Function"):
            for event_name, event in template.function_events(function, "Schedule").items():
                props = template.resolve(event.get("Properties", {}))
                expression = str(props.get("Schedule", ""))
                period = rate_seconds(expression)
                enabled = props.get("Enabled", True) and props.get("State", "ENABLED") == "ENABLED"
                if period is None:
                    logger.warning(
                        "%s.%s: %r is not emulated locally", function, event_name, expression
                    )
                    continue
                if not enabled:
                    continue
                name = str(props.get("Name") or f"{function}{event_name}")
                self.rules.append(
                    {
                        "function": function,
                        "name": name,
                        "period": period,
                        "next": now + period,
                        "input": props.get("Input"),
                    }
                )

    def event(self, rule: dict[str, Any], moment: float) -> Any:
        if rule["input"]:
            return json.loads(rule["input"])
        template = self.template
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": template.account_id,
            "time": _iso(moment),
            "region": template.region,
            "resources": [
                f"arn:aws:events:{template.region}:{template.account_id}:rule/{rule['name']}"
            ],
            "detail": {},
        }

    def run(self) -> None:
        while self.rules and not self.stop.is_set():
            now = time.time()
            for rule in self.rules:
                if rule["next"] <= now:
                    self.invoker.invoke(
                        rule["function"], self.event(rule, rule["next"]), f"rule {rule['name']}"
                    )
                    while rule["next"] <= now:
                        rule["next"] += rule["period"]
            self.stop.wait(max(0.0, min(r["next"] for r in self.rules) - time.time()))


class SqsPoller(threading.Thread):
    """One `SQS` event of a function: an event source mapping."""

    def __init__(
        self,
        template: Template,
        runner: FunctionRunner,
        stop: threading.Event,
        function: str,
        properties: dict[str, Any],
        duplicates: DuplicateDelivery | None = None,
    ) -> None:
        super().__init__(name=f"sqs-{function}", daemon=True)
        self.duplicates = duplicates or DuplicateDelivery(0.0)
        # Message ids chosen to come twice -> whether the second delivery has come.
        self._duplicated: dict[str, bool] = {}
        self.template = template
        self.runner = runner
        self.stop = stop
        self.function = function
        self.queue_arn = str(properties["Queue"])
        self.queue_url = queue_url(template, self.queue_arn)
        self.batch_size = int(properties.get("BatchSize", 10))
        self.window = float(properties.get("MaximumBatchingWindowInSeconds", 0))
        self.partial = "ReportBatchItemFailures" in (properties.get("FunctionResponseTypes") or [])
        scaling = properties.get("ScalingConfig") or {}
        # The mapping's MaximumConcurrency: at most this many batches at once (None: no cap).
        self.max_concurrency = int(scaling["MaximumConcurrency"]) if scaling else None
        self._batches = threading.Condition()
        self._in_flight = 0
        self.client = boto3.client("sqs", region_name=template.region)

    def run(self) -> None:
        gate = self.runner.gate
        while not self.stop.is_set():
            try:
                # Poll only when a batch may run: below the mapping's cap, with a free slot.
                if not self._below_cap() or not gate.acquire(self.function, self.stop, take=False):
                    continue
                messages = self._receive()
                if not messages:
                    continue
                # Lambda's poller keeps a received batch and retries while throttled.
                if not gate.acquire(self.function, self.stop, timeout=30):
                    continue  # the batch returns to the queue after its visibility timeout
                with self._batches:
                    self._in_flight += 1
                threading.Thread(
                    target=self._deliver_batch,
                    args=(messages,),
                    name=f"sqs-{self.function}-batch",
                    daemon=True,
                ).start()
            except Exception:
                if self.stop.is_set():
                    return
                logger.exception("%s: polling %s failed", self.function, self.queue_arn)
                self.stop.wait(1)

    def _below_cap(self) -> bool:
        """Wait (up to a second) until fewer than MaximumConcurrency batches run."""
        with self._batches:
            if self.max_concurrency is not None and self._in_flight >= self.max_concurrency:
                self._batches.wait(1)
            return self.max_concurrency is None or self._in_flight < self.max_concurrency

    def _deliver_batch(self, messages: list[dict[str, Any]]) -> None:
        try:
            self._deliver(messages)
        except Exception:
            logger.exception("%s: delivering a batch from %s failed", self.function, self.queue_arn)
        finally:
            with self._batches:
                self._in_flight -= 1
                self._batches.notify_all()

    def _receive(self) -> list[dict[str, Any]]:
        """One batch, as the event source mapping gathers it: from the first message, up to
        BatchSize messages or MaximumBatchingWindowInSeconds, whichever comes first."""
        messages: list[dict[str, Any]] = []
        deadline = 0.0
        while len(messages) < self.batch_size and not self.stop.is_set():
            response = self.client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.batch_size - len(messages)),
                WaitTimeSeconds=1 if not messages else 0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = response.get("Messages", [])
            if received and not messages:
                deadline = time.monotonic() + self.window
            messages.extend(received)
            if not messages or time.monotonic() >= deadline:
                break
            if not received:
                self.stop.wait(min(0.05, max(0.0, deadline - time.monotonic())))
        return messages

    def record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = {}
        for name, value in (message.get("MessageAttributes") or {}).items():
            attributes[name] = {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": value.get("StringListValues", []),
                "binaryListValues": value.get("BinaryListValues", []),
                "dataType": value.get("DataType"),
            }
            attributes[name] = {k: v for k, v in attributes[name].items() if v is not None}
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": message.get("Attributes", {}),
            "messageAttributes": attributes,
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.template.region,
        }

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        event = {"Records": [self.record(m) for m in messages]}
        started = time.perf_counter()
        try:
            result = self.runner.invoke(self.function, event, slot_held=True)
        except Exception as exc:
            logger.warning(
                "%s failed on a batch of %d from SQS (left on the queue): %s: %s",
                self.function,
                len(messages),
                type(exc).__name__,
                exc,
                exc_info=exc,
            )
            return
        failed = self._failed_ids(result, messages)
        done = self._deliver_again([m for m in messages if m["MessageId"] not in failed])
        for start in range(0, len(done), 10):
            self.client.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )
        logger.info(
            "%s processed %d SQS message(s), %d failed (%.0f ms)",
            self.function,
            len(messages),
            len(failed),
            (time.perf_counter() - started) * 1000,
        )

    def _deliver_again(self, processed: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The processed messages to delete: those chosen for a second delivery stay on the
        queue, visible again after a short delay. Each message comes at most twice."""
        delete = []
        for message in processed:
            message_id = message["MessageId"]
            if message_id in self._duplicated:
                if not self._duplicated[message_id]:
                    self._duplicated[message_id] = True
                    self.duplicates.count_delivered()  # this was its second delivery
                delete.append(message)
                continue
            delay = self.duplicates.second_delivery_delay()
            if delay is None:
                delete.append(message)
                continue
            self._duplicated[message_id] = False
            self.client.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=max(1, math.ceil(delay)),
            )
            logger.info("%s: SQS message %s will be delivered again", self.function, message_id)
        return delete

    def _failed_ids(self, result: Any, messages: list[dict[str, Any]]) -> set[str]:
        if not self.partial or not isinstance(result, dict):
            return set()
        everything = {m["MessageId"] for m in messages}
        failures = result.get("batchItemFailures") or []
        ids = {str(f.get("itemIdentifier") or "") for f in failures if isinstance(f, dict)}
        if "" in ids or not ids <= everything:
            return everything  # an invalid answer fails the whole batch, as Lambda does
        return ids


class StreamPoller(threading.Thread):
    """One `DynamoDB` event of a function: an event source mapping on the table's stream."""

    def __init__(
        self,
        template: Template,
        runner: FunctionRunner,
        stop: threading.Event,
        function: str,
        properties: dict[str, Any],
    ) -> None:
        super().__init__(name=f"stream-{function}", daemon=True)
        self.runner = runner
        self.stop = stop
        self.function = function
        self.stream_arn = str(properties["Stream"])
        self.batch_size = int(properties.get("BatchSize", 100))
        self.retries = int(properties.get("MaximumRetryAttempts", 2))
        filters = (properties.get("FilterCriteria") or {}).get("Filters") or []
        self.patterns = [json.loads(f["Pattern"]) for f in filters]
        self.client = boto3.client("dynamodbstreams", region_name=template.region)
        # Each poll asks for a fresh iterator after the last record seen: moto replaces a
        # table's objects (its stream shard too) when a transaction fails, which leaves an
        # older iterator reading a shard nothing is added to any more.
        self.last_seen: dict[str, str | None] = {}
        for shard in self._shards():
            records = self._read(shard, None)
            self.last_seen[shard] = records[-1]["dynamodb"]["SequenceNumber"] if records else None

    def _shards(self) -> list[str]:
        description = self.client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        return [str(shard["ShardId"]) for shard in description["Shards"]]

    def _read(self, shard: str, after: str | None) -> list[dict[str, Any]]:
        position: dict[str, Any] = (
            {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
            if after
            else {"ShardIteratorType": "TRIM_HORIZON"}
        )
        iterator = self.client.get_shard_iterator(
            StreamArn=self.stream_arn, ShardId=shard, **position
        )["ShardIterator"]
        records: list[dict[str, Any]] = []
        while iterator:
            # Small pages: each read holds the moto server's DynamoDB lock (SerializedMotoServer)
            # while it serializes the records' images, so other requests get in between.
            response = self.client.get_records(ShardIterator=iterator, Limit=100)
            records.extend(response["Records"])
            if not response["Records"]:
                break
            iterator = response.get("NextShardIterator")
        return records

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                records: list[dict[str, Any]] = []
                for shard in self._shards():
                    found = self._read(shard, self.last_seen.get(shard))
                    if found:
                        self.last_seen[shard] = found[-1]["dynamodb"]["SequenceNumber"]
                    records.extend(found)
                wanted = [r for r in records if self._matches(r)]
                for start in range(0, len(wanted), self.batch_size):
                    self._deliver(wanted[start : start + self.batch_size])
            except Exception:
                if self.stop.is_set():
                    return
                logger.exception("%s: reading %s failed", self.function, self.stream_arn)
            self.stop.wait(0.25)

    def _matches(self, record: dict[str, Any]) -> bool:
        return not self.patterns or any(_pattern_matches(p, record) for p in self.patterns)

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        event = {
            "Records": [
                {**r, "eventSource": "aws:dynamodb", "eventSourceARN": self.stream_arn}
                for r in records
            ]
        }
        for attempt in range(self.retries + 1):
            try:
                self.runner.invoke(self.function, event)
                return
            except Exception as exc:
                logger.warning(
                    "%s failed on %d stream record(s) (attempt %d): %s",
                    self.function,
                    len(records),
                    attempt + 1,
                    exc,
                )
                if self.stop.wait(1):
                    return
        logger.error("%s: skipped %d stream record(s) after retries", self.function, len(records))


def _pattern_matches(pattern: Any, value: Any) -> bool:
    """An event filter pattern's subset the template uses: nested objects whose leaves are
    lists of allowed values."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            key in value and _pattern_matches(inner, value[key]) for key, inner in pattern.items()
        )
    if isinstance(pattern, list):
        return value in pattern
    return bool(pattern == value)


class BucketNotifications(threading.Thread):
    """A function's `S3` event, as SAM wires it: a notification configuration on the bucket.
    moto's S3 sends its event notifications to SQS queues (its Lambda target needs Docker), so
    each subscription gets a queue of the local stack's own; this thread reads it and invokes
    the function asynchronously with the S3 event, as S3 does."""

    def __init__(
        self,
        template: Template,
        invoker: AsyncInvoker,
        stop: threading.Event,
        function: str,
        event_name: str,
        properties: dict[str, Any],
    ) -> None:
        super().__init__(name=f"s3-{function}", daemon=True)
        self.template = template
        self.invoker = invoker
        self.stop = stop
        self.function = function
        self.bucket = str(properties["Bucket"])
        events = properties.get("Events") or []
        self.events = [events] if isinstance(events, str) else [str(e) for e in events]
        rules = ((properties.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
        self.rules = [{"Name": str(r["Name"]).lower(), "Value": str(r["Value"])} for r in rules]
        self.id = event_name
        self.sqs = boto3.client("sqs", region_name=template.region)
        queue = f"{template.stack_name}-{function}-{event_name}-s3-events"[:80]
        self.queue_url = self.sqs.create_queue(QueueName=queue)["QueueUrl"]
        self.queue_arn = f"arn:aws:sqs:{template.region}:{template.account_id}:{queue}"

    def configuration(self) -> dict[str, Any]:
        """This subscription in the bucket's notification configuration."""
        entry: dict[str, Any] = {"Id": self.id, "QueueArn": self.queue_arn, "Events": self.events}
        if self.rules:
            entry["Filter"] = {"Key": {"FilterRules": self.rules}}
        return entry

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                response = self.sqs.receive_message(
                    QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                )
                for message in response.get("Messages", []):
                    self._deliver(json.loads(message["Body"]))
                    self.sqs.delete_message(
                        QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                    )
            except Exception:
                if self.stop.is_set():
                    return
                logger.exception("%s: reading S3 notifications failed", self.function)
                self.stop.wait(1)

    def _deliver(self, event: dict[str, Any]) -> None:
        if "Records" not in event:
            return  # S3's test event for a new queue destination; a function never sees it
        for record in event.get("Records", []):
            complete_record(record)
        keys = ", ".join(r["s3"]["object"]["key"] for r in event.get("Records", []))
        self.invoker.invoke(self.function, event, f"s3 {self.bucket}/{keys}")


def complete_record(record: dict[str, Any]) -> None:
    """Fill in the fields of an S3 event record that moto leaves out or writes differently."""
    record.setdefault("userIdentity", {"principalId": "AWS:LOCAL"})
    record.setdefault("requestParameters", {"sourceIPAddress": "127.0.0.1"})
    record.setdefault(
        "responseElements",
        {"x-amz-request-id": uuid.uuid4().hex[:16].upper(), "x-amz-id-2": uuid.uuid4().hex},
    )
    s3 = record.setdefault("s3", {})
    s3.setdefault("bucket", {}).setdefault("ownerIdentity", {"principalId": "LOCAL"})
    obj = s3.setdefault("object", {})
    obj.setdefault("sequencer", f"{time.time_ns():016X}")
    # S3 URL-encodes the key as a form value but keeps its slashes (moto encodes them too).
    obj["key"] = quote_plus(unquote_plus(str(obj.get("key", ""))), safe="/")


def _notify(template: Template, subscriptions: list[BucketNotifications]) -> None:
    """Put each bucket's notification configuration (one per bucket, as S3 keeps it)."""
    s3 = boto3.client("s3", region_name=template.region)
    for bucket in {s.bucket for s in subscriptions}:
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={
                "QueueConfigurations": [
                    s.configuration() for s in subscriptions if s.bucket == bucket
                ]
            },
        )


def start_event_sources(
    template: Template,
    runner: FunctionRunner,
    invoker: AsyncInvoker,
    stop: threading.Event,
) -> list[threading.Thread]:
    """Start a thread for each kind of event source the template declares (an SQS message
    comes twice with the same probability as the invoker's asynchronous events do)."""
    threads: list[threading.Thread] = []
    rules = RateRules(template, invoker, stop)
    if rules.rules:
        threads.append(rules)
    for function in template.of_type("AWS::Serverless::Function"):
        for event in template.function_events(function, "SQS").values():
            props = template.resolve(event.get("Properties", {}))
            if props.get("Enabled", True):
                threads.append(
                    SqsPoller(template, runner, stop, function, props, invoker.duplicates)
                )
        for event in template.function_events(function, "DynamoDB").values():
            props = template.resolve(event.get("Properties", {}))
            if props.get("Enabled", True):
                threads.append(StreamPoller(template, runner, stop, function, props))
    subscriptions = [
        BucketNotifications(
            template, invoker, stop, function, name, template.resolve(event.get("Properties", {}))
        )
        for function in template.of_type("AWS::Serverless::Function")
        for name, event in template.function_events(function, "S3").items()
    ]
    if subscriptions:
        _notify(template, subscriptions)
        threads.extend(subscriptions)
    for thread in threads:
        thread.start()
    return threads
