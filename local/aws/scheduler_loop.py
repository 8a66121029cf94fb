"""EventBridge Scheduler's dispatcher, which moto does not have: reads the schedules through the
Scheduler API (every group) and invokes each one's target at its time.

- `at(...)` (one-time, in `ScheduleExpressionTimezone`): fires at a random offset in
  `[0, jitter]` seconds after its time, drawn once per schedule, as Scheduler fires anywhere
  inside the given minute (jitter 0: to the second); one already due when first seen fires at
  once. A schedule fires once for a given name, expression and input: an update that changes
  them arms it again (with a new offset).
- `rate(N unit)`: fires every N units from the schedule's creation (or StartDate), each time at
  a new random offset in `[0, jitter]` after the period's start.
- The offsets come from one seeded random generator, so a seed replays the same offsets for the
  same sequence of schedules.
- The target (a template function, by ARN) is invoked asynchronously with the schedule's Input
  (context attributes such as `<aws.scheduler.scheduled-time>` substituted), as Scheduler does;
  Lambda's retries and destinations then apply (local/aws/invoker.py).
- `ActionAfterCompletion: DELETE` deletes a one-time schedule after it fired, unless it was
  changed meanwhile.
- An SQS queue target gets the Input as one message, as Scheduler's SendMessage delivers it.
- A target that is not a template function or queue fails delivery: the event goes to the
  schedule's dead-letter queue, if it has one.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import boto3

from local.aws.invoker import AsyncInvoker
from local.aws.provision import queue_url
from local.aws.template import Template

logger = logging.getLogger("local.scheduler")

_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


def at_time(expression: str, timezone: str | None) -> datetime | None:
    """The moment of an `at(...)` expression in its time zone, or None if it is not one."""
    found = _AT.match(expression.strip())
    if not found:
        return None
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.fromisoformat(found.group(1)).replace(tzinfo=zone).astimezone(UTC)


def rate_seconds(expression: str) -> int | None:
    """The period of a `rate(...)` expression in seconds, or None if it is not one."""
    found = _RATE.match(expression.strip())
    if not found:
        return None
    return int(found.group(1)) * _UNITS[found.group(2).rstrip("s")]


@dataclass
class _Known:
    modified: Any
    details: dict[str, Any]


class Jitter:
    """Scheduler's firing offsets: uniform in `[0, seconds]`, from a seeded generator."""

    def __init__(self, seconds: float = 0.0, rng: random.Random | None = None) -> None:
        if not 0 <= seconds <= 60:
            raise ValueError("a firing offset stays within its minute (0 to 60 seconds)")
        self.seconds = seconds
        self._rng = rng or random.Random()
        self._offsets: dict[Any, float] = {}

    def offset(self, key: Any) -> float:
        """The offset of `key` (a one-time schedule), drawn the first time it is asked for."""
        if key not in self._offsets:
            self._offsets[key] = self.draw()
        return self._offsets[key]

    def draw(self) -> float:
        """A fresh offset (one firing of a recurring schedule)."""
        return self._rng.uniform(0.0, self.seconds) if self.seconds else 0.0

    def forget(self, key: Any) -> None:
        self._offsets.pop(key, None)

    def retain(self, keys: set[Any]) -> None:
        """Forget the offsets of every key but these (schedules deleted before they fired)."""
        for key in set(self._offsets) - keys:
            del self._offsets[key]


class SchedulerLoop(threading.Thread):
    """A thread that fires due schedules until `stop` is set."""

    def __init__(
        self,
        template: Template,
        invoker: AsyncInvoker,
        stop: threading.Event,
        poll_seconds: float = 0.5,
        jitter: Jitter | None = None,
    ) -> None:
        super().__init__(name="scheduler-loop", daemon=True)
        self.template = template
        self.invoker = invoker
        self.stop = stop
        self.poll_seconds = poll_seconds
        self.jitter = jitter or Jitter(0.0)
        self.client = boto3.client("scheduler", region_name=template.region)
        self._sqs = boto3.client("sqs", region_name=template.region)
        self._known: dict[tuple[str, str], _Known] = {}
        self._fired: set[tuple[str, str, str, str]] = set()
        self._next_rate: dict[tuple[str, str, str, str], float] = {}
        self._rate_offset: dict[tuple[str, str, str, str], float] = {}
        self._reported: set[tuple[str, str, str]] = set()
        self.fired_count = 0

    def run(self) -> None:
        while not self.stop.is_set():
            next_due: float | None = None
            try:
                next_due = self.tick()
            except Exception:
                if self.stop.is_set():
                    break
                logger.exception("scheduler loop: reading the schedules failed")
            wait = self.poll_seconds
            if next_due is not None:
                wait = min(wait, max(0.0, next_due - time.time()))
            self.stop.wait(wait)

    # --- one pass -----------------------------------------------------------------------------

    def _summaries(self) -> list[dict[str, Any]]:
        summaries: list[dict[str, Any]] = []
        request: dict[str, Any] = {}
        while True:
            page = self.client.list_schedules(**request)
            summaries.extend(page.get("Schedules", []))
            if not page.get("NextToken"):
                return summaries
            request["NextToken"] = page["NextToken"]

    def _details(self, summary: dict[str, Any]) -> dict[str, Any] | None:
        key = (summary["GroupName"], summary["Name"])
        known = self._known.get(key)
        if known is not None and known.modified == summary.get("LastModificationDate"):
            return known.details
        try:
            details: dict[str, Any] = self.client.get_schedule(Name=key[1], GroupName=key[0])
        except self.client.exceptions.ResourceNotFoundException:
            return None
        self._known[key] = _Known(summary.get("LastModificationDate"), details)
        return details

    def tick(self, now: float | None = None) -> float | None:
        """Fire what is due; return the time (epoch seconds) of the next known due schedule."""
        now = time.time() if now is None else now
        next_due: float | None = None
        seen: set[tuple[str, str]] = set()
        armed: set[tuple[str, str, str, str]] = set()
        for summary in self._summaries():
            seen.add((summary["GroupName"], summary["Name"]))
            details = self._details(summary)
            if details is None or details.get("State", "ENABLED") != "ENABLED":
                continue
            armed.add(self._identity(details))
            due = self._consider(details, now)
            if due is not None and (next_due is None or due < next_due):
                next_due = due
        for gone in set(self._known) - seen:
            del self._known[gone]
        self.jitter.retain(armed)
        return next_due

    def _identity(self, details: dict[str, Any]) -> tuple[str, str, str, str]:
        return (
            details["GroupName"],
            details["Name"],
            details["ScheduleExpression"],
            details.get("Target", {}).get("Input", ""),
        )

    def _consider(self, details: dict[str, Any], now: float) -> float | None:
        """Fire the schedule if due; return when it is due next (None: never again)."""
        identity = self._identity(details)
        expression = details["ScheduleExpression"]
        moment = at_time(expression, details.get("ScheduleExpressionTimezone"))
        if moment is not None:
            if identity in self._fired:
                return None
            due = moment.timestamp() + self.jitter.offset(identity)
            if due > now:
                return due
            self._fired.add(identity)
            self.jitter.forget(identity)
            self._fire(details, moment.timestamp(), due)
            if details.get("ActionAfterCompletion") == "DELETE":
                self._delete_if_unchanged(details)
            return None
        period = rate_seconds(expression)
        if period is not None:
            if identity not in self._next_rate:
                start = details.get("StartDate") or details.get("CreationDate")
                first = start.timestamp() if isinstance(start, datetime) else now
                self._next_rate[identity] = first + period
                self._rate_offset[identity] = self.jitter.draw()
            nominal = self._next_rate[identity]
            end = details.get("EndDate")
            if isinstance(end, datetime) and nominal > end.timestamp():
                return None
            due = nominal + self._rate_offset[identity]
            if due > now:
                return due
            self._fire(details, nominal, due)
            # Missed periods (the machine slept) are skipped, as Scheduler does.
            while self._next_rate[identity] <= now:
                self._next_rate[identity] += period
            self._rate_offset[identity] = self.jitter.draw()
            return self._next_rate[identity] + self._rate_offset[identity]
        report = (details["GroupName"], details["Name"], expression)
        if report not in self._reported:
            self._reported.add(report)
            logger.warning(
                "schedule %s/%s: %r is not emulated locally (only at() and rate())",
                details["GroupName"],
                details["Name"],
                expression,
            )
        return None

    # --- firing -------------------------------------------------------------------------------

    def _fire(self, details: dict[str, Any], scheduled: float, due: float) -> None:
        """Invoke the target of a schedule whose time (`scheduled`) plus its offset (`due`)
        has come; the Input's scheduled-time is the schedule's own time, as Scheduler's is."""
        target = details.get("Target", {})
        execution_id = str(uuid.uuid4())
        raw = _substitute(target.get("Input"), details, scheduled, execution_id)
        try:
            event: Any = json.loads(raw) if raw is not None else {}
        except ValueError:
            event = raw
        self.fired_count += 1
        lateness = max(0.0, time.time() - scheduled)
        if _is_queue(str(target.get("Arn", ""))):
            self._send_to_queue(details, raw, execution_id, lateness)
            return
        function = self.template.function_for_arn(str(target.get("Arn", "")))
        if function is None:
            logger.warning(
                "schedule %s/%s: target %s is not a function of the template",
                details["GroupName"],
                details["Name"],
                target.get("Arn"),
            )
            self._dead_letter(details, raw, execution_id, "ResourceNotFoundException")
            return
        logger.info(
            "schedule %s/%s fired (%s, %.1f s after its time; offset %.1f s) -> %s",
            details["GroupName"],
            details["Name"],
            details["ScheduleExpression"],
            lateness,
            due - scheduled,
            function,
        )
        self.invoker.invoke(function, event, f"schedule {details['Name']}")

    def _send_to_queue(
        self, details: dict[str, Any], body: str | None, execution_id: str, lateness: float
    ) -> None:
        """An SQS target: the Input becomes one message (Scheduler's SendMessage)."""
        arn = str(details["Target"]["Arn"])
        try:
            self._sqs.send_message(QueueUrl=queue_url(self.template, arn), MessageBody=body or "{}")
        except Exception as exc:
            logger.warning("schedule %s: sending to %s failed: %s", details["Name"], arn, exc)
            self._dead_letter(details, body, execution_id, "SQS.SendMessageFailed")
            return
        logger.info(
            "schedule %s/%s fired (%s, %.1f s after its time) -> queue %s",
            details["GroupName"],
            details["Name"],
            details["ScheduleExpression"],
            lateness,
            arn.rsplit(":", 1)[-1],
        )

    def _delete_if_unchanged(self, details: dict[str, Any]) -> None:
        group, name = details["GroupName"], details["Name"]
        try:
            current = self.client.get_schedule(Name=name, GroupName=group)
            if self._identity(current) != self._identity(details):
                return  # updated since it fired: it is a new schedule now
            self.client.delete_schedule(Name=name, GroupName=group)
        except self.client.exceptions.ResourceNotFoundException:
            return
        self._known.pop((group, name), None)
        logger.info("schedule %s/%s deleted after completion", group, name)

    def _dead_letter(
        self, details: dict[str, Any], body: str | None, execution_id: str, code: str
    ) -> None:
        arn = (details.get("Target", {}).get("DeadLetterConfig") or {}).get("Arn")
        if not arn:
            return
        attributes = {
            "ERROR_CODE": code,
            "ERROR_MESSAGE": f"target {details['Target'].get('Arn')} not found",
            "EXECUTION_ID": execution_id,
            "SCHEDULE_ARN": details.get("Arn", ""),
            "TARGET_ARN": details["Target"].get("Arn", ""),
            "ATTEMPT": "1",
        }
        self._sqs.send_message(
            QueueUrl=queue_url(self.template, arn),
            MessageBody=body or "{}",
            MessageAttributes={
                key: {"DataType": "String", "StringValue": value or "-"}
                for key, value in attributes.items()
            },
        )


def _is_queue(arn: str) -> bool:
    return arn.startswith("arn:") and arn.split(":")[2:3] == ["sqs"]


def _substitute(
    raw: str | None, details: dict[str, Any], due: float, execution_id: str
) -> str | None:
    """Scheduler's context attributes in a target's Input."""
    if raw is None:
        return None
    scheduled = datetime.fromtimestamp(due, UTC).replace(microsecond=0)
    values = {
        "<aws.scheduler.schedule-arn>": details.get("Arn", ""),
        "<aws.scheduler.scheduled-time>": scheduled.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "<aws.scheduler.execution-id>": execution_id,
        "<aws.scheduler.attempt-number>": "1",
    }
    for placeholder, value in values.items():
        raw = raw.replace(placeholder, value)
    return raw
