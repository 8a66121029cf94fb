"""EventBridge Scheduler: one one-time schedule per pending post, in the project's group.

moto checks none of the names, expressions or time zones it is given, so this adapter checks
what AWS would refuse before sending it (and the unit tests check this adapter).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from post_scheduler.adapters.aws import aws_client
from post_scheduler.errors import DependencyUnavailable

_NAME = re.compile(r"^[0-9a-zA-Z_.-]{1,64}$")
_AT = re.compile(r"^at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)$")
SCHEDULE_NAME_PREFIX = "post-"
# The sweep's re-arms get names of their own, never the post's: see `PublishScheduler.rearm`.
REARM_NAME_PREFIX = "rearm-"


class ScheduleRequestInvalid(ValueError):
    """We built a request AWS would refuse: a bug, caught before it leaves the process."""


@dataclass(frozen=True)
class PublishTarget:
    """Where schedules deliver: the publish queue (SQS) the publisher consumes, through the role
    Scheduler assumes."""

    target_arn: str
    role_arn: str
    dead_letter_arn: str
    max_retry_attempts: int = 10
    max_event_age_seconds: int = 3600


def schedule_name(schedule_id: str) -> str:
    """The Scheduler name of a post's schedule."""
    name = f"{SCHEDULE_NAME_PREFIX}{schedule_id}"
    if not _NAME.fullmatch(name):
        raise ScheduleRequestInvalid(f"schedule name {name!r} breaks Scheduler's naming rule")
    return name


def rearm_name(schedule_id: str, version: int, rearm: int) -> str:
    """The Scheduler name of the sweep's `rearm`-th re-arm of a post's `version`."""
    name = f"{REARM_NAME_PREFIX}{schedule_id}-{version}-{rearm}"
    if not _NAME.fullmatch(name):
        raise ScheduleRequestInvalid(f"schedule name {name!r} breaks Scheduler's naming rule")
    return name


def at_expression(fire_at: datetime) -> str:
    """`at(...)` for a whole UTC minute (Scheduler's precision)."""
    fire_at = fire_at.astimezone(UTC).replace(second=0, microsecond=0)
    expression = f"at({fire_at.strftime('%Y-%m-%dT%H:%M:%S')})"
    if not _AT.fullmatch(expression):
        raise ScheduleRequestInvalid(f"{expression!r} is not a one-time schedule expression")
    return expression


def publisher_input(schedule_id: str, user_id: str, version: int) -> str:
    """The event the publisher receives: ids and the post's version only."""
    return json.dumps(
        {"scheduleId": schedule_id, "userId": user_id, "version": version},
        separators=(",", ":"),
    )


class PublishScheduler:
    """Creates, moves and removes posts' one-time schedules."""

    def __init__(self, group_name: str, target: PublishTarget, client: Any = None) -> None:
        if not _NAME.fullmatch(group_name):
            raise ScheduleRequestInvalid(f"schedule group {group_name!r} breaks the naming rule")
        self.group_name = group_name
        self.target = target
        self.client = client if client is not None else aws_client("scheduler")

    def definition(
        self,
        schedule_id: str,
        user_id: str,
        version: int,
        fire_at: datetime,
        name: str | None = None,
    ) -> dict[str, Any]:
        """The full schedule definition. UpdateSchedule replaces every field, so create and update
        both send all of it. No ClientToken: boto3 generates one per call, which de-duplicates
        its own retries without ever mistaking a later, different request for a replay."""
        retry = self.target.max_retry_attempts
        age = self.target.max_event_age_seconds
        if not 0 <= retry <= 185 or not 60 <= age <= 86400:
            raise ScheduleRequestInvalid("retry policy outside Scheduler's limits")
        return {
            "Name": name or schedule_name(schedule_id),
            "GroupName": self.group_name,
            "ScheduleExpression": at_expression(fire_at),
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE",
            "State": "ENABLED",
            "Description": f"Publish scheduled post {schedule_id} (version {version})",
            "Target": {
                "Arn": self.target.target_arn,
                "RoleArn": self.target.role_arn,
                "Input": publisher_input(schedule_id, user_id, version),
                "RetryPolicy": {
                    "MaximumRetryAttempts": retry,
                    "MaximumEventAgeInSeconds": age,
                },
                "DeadLetterConfig": {"Arn": self.target.dead_letter_arn},
            },
        }

    def create(self, schedule_id: str, user_id: str, version: int, fire_at: datetime) -> None:
        """Create the post's schedule; if one is left over from an earlier life of the post
        (a delete that failed), replace it instead."""
        definition = self.definition(schedule_id, user_id, version, fire_at)
        with _unavailable_on_failure("create"):
            try:
                self.client.create_schedule(**definition)
            except self.client.exceptions.ConflictException:
                self.client.update_schedule(**definition)

    def rearm(
        self, schedule_id: str, user_id: str, version: int, rearm: int, fire_at: datetime
    ) -> None:
        """The sweep's re-arm: a one-time schedule of its own name (post, version, re-arm
        count), created and never updated. So it can never replace the post's own schedule,
        which a move may have made newer since the sweep read the post; an event it delivers
        for an old version is ignored by the publisher. A name that exists already is the
        same re-arm made by a concurrent sweep."""
        definition = self.definition(
            schedule_id, user_id, version, fire_at, rearm_name(schedule_id, version, rearm)
        )
        definition["Description"] = f"Re-arm {rearm} of post {schedule_id} (version {version})"
        with (
            _unavailable_on_failure("create"),
            suppress(self.client.exceptions.ConflictException),
        ):
            self.client.create_schedule(**definition)

    def update(self, schedule_id: str, user_id: str, version: int, fire_at: datetime) -> None:
        """Move the post's schedule (or recreate it if it was already gone)."""
        definition = self.definition(schedule_id, user_id, version, fire_at)
        with _unavailable_on_failure("update"):
            try:
                self.client.update_schedule(**definition)
            except self.client.exceptions.ResourceNotFoundException:
                self.client.create_schedule(**definition)

    def delete(self, schedule_id: str) -> None:
        """Remove the post's schedule; one that is already gone is fine."""
        with (
            _unavailable_on_failure("delete"),
            suppress(self.client.exceptions.ResourceNotFoundException),
        ):
            self.client.delete_schedule(Name=schedule_name(schedule_id), GroupName=self.group_name)


@contextmanager
def _unavailable_on_failure(action: str) -> Iterator[None]:
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise DependencyUnavailable(
            f"the scheduling service could not {action} the post's schedule; nothing was changed,"
            " retry shortly"
        ) from exc
