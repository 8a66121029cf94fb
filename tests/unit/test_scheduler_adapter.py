"""The EventBridge Scheduler adapter: what it sends (checked against botocore's service model
by Stubber, since moto checks nothing), and what it refuses to send."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from post_scheduler.adapters.scheduler import (
    PublishScheduler,
    PublishTarget,
    ScheduleRequestInvalid,
    at_expression,
    publisher_input,
    schedule_name,
)
from post_scheduler.errors import DependencyUnavailable

SCHEDULE_ID = "650e8400-e29b-41d4-a716-446655440000"
USER_ID = "user-1"
GROUP = "post-scheduler-dev-posts"
TARGET = PublishTarget(
    target_arn="arn:aws:sqs:us-east-1:123456789012:publish-queue",
    role_arn="arn:aws:iam::123456789012:role/scheduler",
    dead_letter_arn="arn:aws:sqs:us-east-1:123456789012:scheduler-dlq",
    max_retry_attempts=10,
    max_event_age_seconds=3600,
)
FIRE_AT = datetime(2025, 10, 21, 14, 29, tzinfo=UTC)


@pytest.fixture
def stubbed() -> Iterator[tuple[PublishScheduler, Stubber]]:
    client = boto3.client(
        "scheduler",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(client) as stubber:
        yield PublishScheduler(GROUP, TARGET, client=client), stubber
        stubber.assert_no_pending_responses()


def expected_definition(version: int = 1, fire_at: datetime = FIRE_AT) -> dict[str, Any]:
    return {
        "Name": f"post-{SCHEDULE_ID}",
        "GroupName": GROUP,
        "ScheduleExpression": f"at({fire_at.strftime('%Y-%m-%dT%H:%M:%S')})",
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE",
        "State": "ENABLED",
        "Description": f"Publish scheduled post {SCHEDULE_ID} (version {version})",
        "Target": {
            "Arn": TARGET.target_arn,
            "RoleArn": TARGET.role_arn,
            "Input": json.dumps(
                {"scheduleId": SCHEDULE_ID, "userId": USER_ID, "version": version},
                separators=(",", ":"),
            ),
            "RetryPolicy": {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 3600},
            "DeadLetterConfig": {"Arn": TARGET.dead_letter_arn},
        },
    }


ARN = {"ScheduleArn": f"arn:aws:scheduler:us-east-1:123456789012:schedule/{GROUP}/post-x"}


# --- names and expressions --------------------------------------------------------------------


def test_schedule_name_is_derived_from_the_schedule_id() -> None:
    assert schedule_name(SCHEDULE_ID) == f"post-{SCHEDULE_ID}"
    assert schedule_name("a" * 59) == "post-" + "a" * 59  # 64 characters: the limit


@pytest.mark.parametrize(
    "schedule_id", ["a" * 60, "a/b", "a:b", "a#b", "a b", "a\n", "\u00fc", "a*"]
)
def test_names_scheduler_would_refuse_are_never_sent(schedule_id: str) -> None:
    with pytest.raises(ScheduleRequestInvalid):
        schedule_name(schedule_id)


@pytest.mark.parametrize("group", ["", "a" * 65, "posts/dev", "posts dev", "posts\n"])
def test_group_names_are_checked(group: str) -> None:
    with pytest.raises(ScheduleRequestInvalid):
        PublishScheduler(group, TARGET, client=object())


@pytest.mark.parametrize(
    ("moment", "expression"),
    [
        (datetime(2025, 10, 21, 14, 29, tzinfo=UTC), "at(2025-10-21T14:29:00)"),
        (datetime(2025, 10, 21, 14, 29, 59, 999_999, tzinfo=UTC), "at(2025-10-21T14:29:00)"),
        # Expressions carry no offset: the zone is ScheduleExpressionTimezone (UTC).
        (
            datetime(2025, 10, 21, 16, 29, tzinfo=timezone(timedelta(hours=2))),
            "at(2025-10-21T14:29:00)",
        ),
        (datetime(2025, 12, 31, 23, 59, tzinfo=UTC), "at(2025-12-31T23:59:00)"),
    ],
)
def test_at_expression_is_a_whole_utc_minute(moment: datetime, expression: str) -> None:
    assert at_expression(moment) == expression


def test_publisher_input_holds_ids_and_version_only() -> None:
    assert json.loads(publisher_input(SCHEDULE_ID, USER_ID, 3)) == {
        "scheduleId": SCHEDULE_ID,
        "userId": USER_ID,
        "version": 3,
    }


@pytest.mark.parametrize(("retries", "age"), [(0, 60), (185, 86400), (10, 3600)])
def test_retry_policy_within_schedulers_limits(retries: int, age: int) -> None:
    target = PublishTarget("arn:f", "arn:r", "arn:q", retries, age)
    definition = PublishScheduler(GROUP, target, client=object()).definition(
        SCHEDULE_ID, USER_ID, 1, FIRE_AT
    )
    assert definition["Target"]["RetryPolicy"] == {
        "MaximumRetryAttempts": retries,
        "MaximumEventAgeInSeconds": age,
    }


@pytest.mark.parametrize(("retries", "age"), [(-1, 3600), (186, 3600), (10, 59), (10, 86401)])
def test_retry_policy_outside_schedulers_limits_is_refused(retries: int, age: int) -> None:
    target = PublishTarget("arn:f", "arn:r", "arn:q", retries, age)
    with pytest.raises(ScheduleRequestInvalid):
        PublishScheduler(GROUP, target, client=object()).definition(
            SCHEDULE_ID, USER_ID, 1, FIRE_AT
        )


# --- calls ------------------------------------------------------------------------------------


def test_create_sends_the_whole_definition(stubbed: tuple[PublishScheduler, Stubber]) -> None:
    scheduler, stubber = stubbed
    stubber.add_response("create_schedule", ARN, expected_definition())
    scheduler.create(SCHEDULE_ID, USER_ID, 1, FIRE_AT)


def test_create_replaces_a_leftover_schedule(stubbed: tuple[PublishScheduler, Stubber]) -> None:
    scheduler, stubber = stubbed
    stubber.add_client_error("create_schedule", "ConflictException", http_status_code=409)
    stubber.add_response("update_schedule", ARN, expected_definition(version=2))
    scheduler.create(SCHEDULE_ID, USER_ID, 2, FIRE_AT)


def test_update_resends_every_field(stubbed: tuple[PublishScheduler, Stubber]) -> None:
    # UpdateSchedule replaces the whole definition: nothing may be left to defaults.
    scheduler, stubber = stubbed
    later = FIRE_AT + timedelta(days=1)
    stubber.add_response("update_schedule", ARN, expected_definition(version=2, fire_at=later))
    scheduler.update(SCHEDULE_ID, USER_ID, 2, later)


def test_update_recreates_a_missing_schedule(stubbed: tuple[PublishScheduler, Stubber]) -> None:
    scheduler, stubber = stubbed
    stubber.add_client_error("update_schedule", "ResourceNotFoundException", http_status_code=404)
    stubber.add_response("create_schedule", ARN, expected_definition(version=2))
    scheduler.update(SCHEDULE_ID, USER_ID, 2, FIRE_AT)


def test_delete(stubbed: tuple[PublishScheduler, Stubber]) -> None:
    scheduler, stubber = stubbed
    stubber.add_response("delete_schedule", {}, {"Name": f"post-{SCHEDULE_ID}", "GroupName": GROUP})
    scheduler.delete(SCHEDULE_ID)


def test_deleting_a_schedule_that_is_gone_is_fine(
    stubbed: tuple[PublishScheduler, Stubber],
) -> None:
    scheduler, stubber = stubbed
    stubber.add_client_error("delete_schedule", "ResourceNotFoundException", http_status_code=404)
    scheduler.delete(SCHEDULE_ID)


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        ("create_schedule", "ThrottlingException"),
        ("create_schedule", "InternalServerException"),
        ("create_schedule", "ValidationException"),
        ("create_schedule", "ServiceQuotaExceededException"),
        ("update_schedule", "ThrottlingException"),
        ("delete_schedule", "InternalServerException"),
    ],
)
def test_service_failures_become_503(
    stubbed: tuple[PublishScheduler, Stubber], operation: str, code: str
) -> None:
    scheduler, stubber = stubbed
    stubber.add_client_error(operation, code, http_status_code=500)
    call = {
        "create_schedule": lambda: scheduler.create(SCHEDULE_ID, USER_ID, 1, FIRE_AT),
        "update_schedule": lambda: scheduler.update(SCHEDULE_ID, USER_ID, 1, FIRE_AT),
        "delete_schedule": lambda: scheduler.delete(SCHEDULE_ID),
    }[operation]
    with pytest.raises(DependencyUnavailable) as failure:
        call()
    assert failure.value.status_code == 503
    assert failure.value.code == "SERVICE_UNAVAILABLE"


def test_connection_failures_become_503() -> None:
    class Unreachable:
        exceptions = boto3.client("scheduler", region_name="us-east-1").exceptions

        def create_schedule(self, **_: Any) -> None:
            raise EndpointConnectionError(endpoint_url="https://scheduler.invalid")

    scheduler = PublishScheduler(GROUP, TARGET, client=Unreachable())
    with pytest.raises(DependencyUnavailable):
        scheduler.create(SCHEDULE_ID, USER_ID, 1, FIRE_AT)
