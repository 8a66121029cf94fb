"""Lambda's asynchronous invocation, locally: the event is queued (a worker thread here), the
function runs, and an error is retried per the function's `EventInvokeConfig`
(`MaximumRetryAttempts`, Lambda's default 2; `MaximumEventAgeInSeconds`, default 6 hours).
What happens then also follows the configuration: the on-success / on-failure destinations
(SQS queue or another function) get Lambda's invocation record, and a function's own
`DeadLetterQueue` (SQS) gets the event.

Lambda waits about one minute before the first retry and two before the second; locally the
waits are `retry_delay_seconds` and twice that (env ASYNC_RETRY_DELAY_SECONDS, default 5).

AWS delivers asynchronous events at least once: Lambda may run a function twice for one event
that did not fail, and Scheduler's and SQS's delivery is at least once too. `DuplicateDelivery`
(env LOCAL_DUPLICATE_DELIVERY, a probability) makes that happen here: a chosen event is delivered
a second time, as a separate invocation, after a short random delay, and each one is counted.

An event throttled by the concurrency limits (local/aws/concurrency.py) is kept and retried as
Lambda does, from about 1 s doubling up to 5 minutes, until its maximum age; locally those
delays are scaled by `throttle_retry_scale` (env LOCAL_THROTTLE_RETRY_SCALE, default 0.1).
"""

from __future__ import annotations

import copy
import json
import logging
import random
import threading
import time
import traceback
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3

from local.aws.concurrency import Throttled, async_throttle_delays
from local.aws.lambda_runtime import FunctionRunner
from local.aws.provision import queue_url
from local.aws.template import Template

logger = logging.getLogger("local.invoke")

DEFAULT_MAX_RETRY_ATTEMPTS = 2
DEFAULT_MAX_EVENT_AGE_SECONDS = 6 * 3600
# How long after the first delivery a second one comes: a short wait, as AWS's duplicates do.
DUPLICATE_DELAY_SECONDS = (0.1, 3.0)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def error_payload(exc: BaseException, request_id: str) -> dict[str, Any]:
    """An unhandled error as the Python runtime reports it."""
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


class DuplicateDelivery:
    """Which deliveries AWS makes twice: each with `probability`, the second one after a short
    random delay (`delay_seconds`, uniform). Shared by every event source; thread-safe."""

    def __init__(
        self,
        probability: float = 0.0,
        rng: random.Random | None = None,
        delay_seconds: tuple[float, float] = DUPLICATE_DELAY_SECONDS,
    ) -> None:
        if not 0 <= probability <= 1:
            raise ValueError("a probability is between 0 and 1")
        self.probability = probability
        self.delay_seconds = delay_seconds
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self.chosen = 0  # deliveries drawn to be made a second time
        self.delivered = 0  # second deliveries made

    def second_delivery_delay(self) -> float | None:
        """Seconds until this delivery is made again, or None: delivered once."""
        if self.probability <= 0:
            return None
        with self._lock:
            if self._rng.random() >= self.probability:
                return None
            self.chosen += 1
            return self._rng.uniform(*self.delay_seconds)

    def count_delivered(self) -> None:
        with self._lock:
            self.delivered += 1


class AsyncInvoker:
    """Invokes functions asynchronously with Lambda's retry and destination rules."""

    def __init__(
        self,
        template: Template,
        runner: FunctionRunner,
        stop: threading.Event,
        retry_delay_seconds: float = 5.0,
        duplicates: DuplicateDelivery | None = None,
        throttle_retry_scale: float = 0.1,
    ) -> None:
        self.template = template
        self.runner = runner
        self.stop = stop
        self.retry_delay_seconds = retry_delay_seconds
        self.duplicates = duplicates or DuplicateDelivery(0.0)
        self.throttle_retry_scale = throttle_retry_scale
        self._sqs = boto3.client("sqs", region_name=template.region)
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def invoke(
        self, function: str, event: Any, source: str = "", duplicate_of: str | None = None
    ) -> str:
        """Queue an event for `function`; returns the request id (shared by all retries).
        `duplicate_of`: this is AWS's second delivery of that invocation's event."""
        request_id = str(uuid.uuid4())
        if duplicate_of is None:
            self._maybe_deliver_again(function, event, source, request_id)
        thread = threading.Thread(
            target=self._run,
            args=(function, event, request_id, source, time.time()),
            name=f"async-{function}-{request_id[:8]}",
            daemon=True,
        )
        with self._lock:  # started under the lock: wait() only ever sees started threads
            self._threads.add(thread)
            thread.start()
        return request_id

    def in_flight(self) -> int:
        with self._lock:
            return sum(1 for t in self._threads if t.is_alive())

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for running invocations (and those they start, such
        as a second delivery or a destination's); True when none is left."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                threads = [t for t in self._threads if t.is_alive()]
            if not threads:
                return True
            if time.monotonic() >= deadline:
                return False
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))

    # --- at-least-once delivery ---------------------------------------------------------------

    def _maybe_deliver_again(self, function: str, event: Any, source: str, request_id: str) -> None:
        """Maybe deliver `event` to `function` once more after a short delay, as AWS may."""
        delay = self.duplicates.second_delivery_delay()
        if delay is None:
            return
        copied = copy.deepcopy(event)  # the function may change the event it gets

        def deliver_again() -> None:
            try:
                if self.stop.wait(delay):
                    return
                self.duplicates.count_delivered()
                again = self.invoke(
                    function, copied, f"duplicate, {source or 'async'}", duplicate_of=request_id
                )
                logger.info("%s: event of %s delivered again as %s, %.1f s later (%s)",
                            function, request_id, again, delay, source or "async")  # fmt: skip
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())

        thread = threading.Thread(
            target=deliver_again, name=f"duplicate-{function}-{request_id[:8]}", daemon=True
        )
        with self._lock:
            self._threads.add(thread)
            thread.start()

    # --- one asynchronous invocation ----------------------------------------------------------

    def _run(
        self, function: str, event: Any, request_id: str, source: str, received: float
    ) -> None:
        try:
            self._attempts(function, event, request_id, source, received)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _attempts(
        self, function: str, event: Any, request_id: str, source: str, received: float
    ) -> None:
        config = self.template.event_invoke_config(function)
        max_retries = int(config.get("MaximumRetryAttempts", DEFAULT_MAX_RETRY_ATTEMPTS))
        max_age = float(config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE_SECONDS))
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                result = self._invoke_when_allowed(function, event, request_id, received, max_age)
            except _Dropped:
                return
            except Exception as exc:
                elapsed = (time.perf_counter() - started) * 1000
                logger.warning(
                    "%s failed (attempt %d of %d, %.0f ms, %s): %s: %s",
                    function,
                    attempt,
                    max_retries + 1,
                    elapsed,
                    source or "async",
                    type(exc).__name__,
                    exc,
                    exc_info=exc,
                )
                failure = error_payload(exc, request_id)
                if attempt > max_retries:
                    condition = "RetriesExhausted"
                else:
                    delay = self.retry_delay_seconds * attempt
                    if time.time() + delay - received > max_age:
                        condition = "EventAgeExceeded"
                    elif self.stop.wait(delay):
                        logger.info("%s: retry dropped, the local stack is stopping", function)
                        return
                    else:
                        continue
                self._failed(function, event, request_id, attempt, condition, failure)
                return
            elapsed = (time.perf_counter() - started) * 1000
            timeout = self.template.function_timeout(function)
            if elapsed > timeout * 1000:
                logger.warning(
                    "%s ran %.1f s, past its %d s timeout: Lambda would have stopped it",
                    function,
                    elapsed / 1000,
                    timeout,
                )
            logger.info(
                "%s succeeded (attempt %d, %.0f ms, %s)",
                function,
                attempt,
                elapsed,
                source or "async",
            )
            self._destination(function, "OnSuccess", event, request_id, attempt, "Success", result)
            return

    def _invoke_when_allowed(
        self, function: str, event: Any, request_id: str, received: float, max_age: float
    ) -> Any:
        """Invoke; a throttled event is kept and retried with Lambda's throttle backoff (which
        does not use up the function's retry attempts) until it runs or grows too old."""
        delays = async_throttle_delays(self.throttle_retry_scale)
        throttles = 0
        while True:
            try:
                return self.runner.invoke(function, event, request_id=request_id)
            except Throttled as exc:
                delay = delays[min(throttles, len(delays) - 1)]
                throttles += 1
                if time.time() + delay - received > max_age:
                    self._failed(
                        function,
                        event,
                        request_id,
                        0,
                        "EventAgeExceeded",
                        error_payload(exc, request_id),
                    )
                    raise _Dropped from None
                if throttles == 1 or throttles % 10 == 0:
                    logger.info(
                        "%s throttled (%d time(s)); retrying in %.2f s", function, throttles, delay
                    )
                if self.stop.wait(delay):
                    raise _Dropped from None

    def _failed(
        self,
        function: str,
        event: Any,
        request_id: str,
        attempts: int,
        condition: str,
        failure: dict[str, Any],
    ) -> None:
        sent = self._destination(
            function, "OnFailure", event, request_id, attempts, condition, failure
        )
        dead_letter = self.template.resolve(
            self.template.resources[function]["Properties"].get("DeadLetterQueue")
        )
        if dead_letter and dead_letter.get("Type") == "SQS" and dead_letter.get("TargetArn"):
            self._sqs.send_message(
                QueueUrl=queue_url(self.template, dead_letter["TargetArn"]),
                MessageBody=json.dumps(event),
                MessageAttributes={
                    "RequestID": {"DataType": "String", "StringValue": request_id},
                    "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                    "ErrorMessage": {
                        "DataType": "String",
                        "StringValue": str(failure["errorMessage"])[:1000] or "error",
                    },
                },
            )
            sent = True
        if not sent:
            logger.error("%s: gave up after %d attempts (%s)", function, attempts, condition)

    def _destination(
        self,
        function: str,
        outcome: str,
        event: Any,
        request_id: str,
        attempts: int,
        condition: str,
        response: Any,
    ) -> bool:
        """Send Lambda's invocation record to the configured destination; True when sent."""
        config = self.template.event_invoke_config(function)
        destination = (config.get("DestinationConfig") or {}).get(outcome) or {}
        target = destination.get("Destination")
        if not target:
            if destination:
                logger.warning(
                    "%s: %s destination without an ARN is not emulated", function, outcome
                )
            return False
        function_arn = self.template.attributes[f"{function}.Arn"]
        record = {
            "version": "1.0",
            "timestamp": _iso(time.time()),
            "requestContext": {
                "requestId": request_id,
                "functionArn": f"{function_arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "requestPayload": event,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                **({"functionError": "Unhandled"} if outcome == "OnFailure" else {}),
            },
            "responsePayload": response,
        }
        kind = destination.get("Type") or _kind_of_arn(target)
        if kind == "SQS":
            self._sqs.send_message(
                QueueUrl=queue_url(self.template, target), MessageBody=json.dumps(record)
            )
        elif kind == "Lambda" and self.template.function_for_arn(target):
            self.invoke(
                str(self.template.function_for_arn(target)), record, f"{outcome} of {function}"
            )
        else:
            logger.warning("%s: %s destination %s is not emulated", function, outcome, target)
            return False
        logger.info("%s: invocation record (%s) sent to %s", function, condition, target)
        return True


class _Dropped(Exception):
    """The event will not run: the stack is stopping, or it aged out while throttled."""


def _kind_of_arn(arn: str) -> str:
    service = arn.split(":")[2] if arn.count(":") >= 2 else ""
    return {"sqs": "SQS", "lambda": "Lambda", "sns": "SNS", "events": "EventBridge"}.get(
        service, service
    )
