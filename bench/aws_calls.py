"""AWS API calls per request of each endpoint, under moto's in-process mock.

The template is provisioned into moto as the tests do (tests.support.AwsStack); requests go
through the local API Gateway to the real handlers, in this process. Every botocore call is
counted by wrapping `BaseClient._make_api_call` (so every client counts, whoever created it:
the functions' shared clients, Powertools' SSM client, KMS), and attributed to the function
being invoked at the time; the harness's own set-up calls are left out.

A transaction counts as one call; its parts are shown in brackets.

    python -m bench.aws_calls
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bench.common import LAYER, ROOT, emit

# Goal per endpoint: at most this many AWS calls per request.
GOALS = {"create": 2, "list": 1, "upcoming": 1, "update": 3, "delete": 2}

_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_METRICS_NAMESPACE": "PostScheduler",
    "POWERTOOLS_SERVICE_NAME": "post-scheduler-bench",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
}


class CallLog:
    """Calls made while a function runs, attributed to that function."""

    def __init__(self) -> None:
        self.running: list[str] = []
        self.calls: list[tuple[str, str]] = []

    def record(self, service: str, operation: str, params: dict[str, Any]) -> None:
        if not self.running:
            return  # the harness's own set-up
        if operation == "TransactWriteItems":
            parts = ",".join(next(iter(item)) for item in params.get("TransactItems", []))
            operation = f"{operation}[{parts}]"
        self.calls.append((self.running[-1], f"{service}.{operation}"))

    def of(self, function: str) -> list[str]:
        return [call for name, call in self.calls if name == function]


@contextmanager
def counting(log: CallLog) -> Iterator[None]:
    from botocore.client import BaseClient

    original = BaseClient._make_api_call

    def counted(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        log.record(self.meta.service_model.service_id.hyphenize(), operation_name, api_params)
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = counted
    try:
        yield
    finally:
        BaseClient._make_api_call = original


def measure() -> dict[str, Any]:
    os.environ.update(_ENVIRONMENT)
    for variable in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(variable, None)
    sys.path[:0] = [str(LAYER), str(ROOT)]
    import warnings

    import pytest
    from moto import mock_aws

    from post_scheduler import wiring
    from tests.support import AwsStack, claims, configure_jwt, future, hs256_token

    warnings.filterwarnings("ignore", message="No application metrics to publish")
    log = CallLog()
    paths: list[dict[str, Any]] = []
    monkeypatch = pytest.MonkeyPatch()
    with mock_aws(config={"core": {"reset_boto3_session": False}}):
        stack = AwsStack.create(monkeypatch)
        runner = stack.gateway.runner
        invoke = runner.invoke

        def tagged(function: str, event: Any, *args: Any, **kwargs: Any) -> Any:
            log.running.append(function)
            try:
                return invoke(function, event, *args, **kwargs)
            finally:
                log.running.pop()

        runner.invoke = tagged  # type: ignore[method-assign]
        user = stack.user("professional")
        account = user.account()

        def path(endpoint: str, name: str, function: str, action: Callable[[], Any]) -> Any:
            log.calls.clear()
            response = action()
            status = getattr(response, "status", None)
            if status is not None and status != 200:
                raise RuntimeError(f"{name}: HTTP {status} {response.body}")
            calls = log.of(function)
            goal = GOALS.get(endpoint)
            paths.append(
                {
                    "endpoint": endpoint,
                    "path": name,
                    "function": function,
                    "count": len(calls),
                    "calls": calls,
                    "goal": goal,
                    "met": None if goal is None else len(calls) <= goal,
                }
            )
            return response

        with counting(log):
            # Warm: the first request of each function builds its clients (no extra calls,
            # but keeps the figures below about steady-state requests).
            stack.call("GET", "/api/v1/schedule/upcoming")
            stack.gateway.forget_cached_authorizations()
            path(
                "authorizer",
                "API key, not cached (first request)",
                "AuthorizerFunction",
                lambda: user.call("GET", "/api/v1/videos"),
            )
            stack.gateway.forget_cached_authorizations()
            path(
                "authorizer",
                "API key, not cached (same minute)",
                "AuthorizerFunction",
                lambda: user.call("GET", "/api/v1/videos"),
            )
            created = path(
                "create",
                "create",
                "CreateScheduleFunction",
                lambda: user.create(user.video(), account, future(120)),
            )
            schedule_id = created.body["data"]["scheduleId"]
            for _ in range(4):
                user.create(user.video(), account, future(180))
            path(
                "list",
                "list (5 posts, one page)",
                "ListScheduledVideosFunction",
                lambda: user.call("GET", "/api/v1/schedule/scheduled-videos"),
            )
            path(
                "upcoming",
                "upcoming",
                "UpcomingFunction",
                lambda: stack.call("GET", "/api/v1/schedule/upcoming"),
            )
            update = "UpdateScheduleFunction"
            path(
                "update",
                "update: move time",
                update,
                lambda: user.put(schedule_id, {"scheduledPublishTime": future(240)}),
            )
            path(
                "update",
                "update: title only",
                update,
                lambda: user.put(schedule_id, {"title": "Benchmark title"}),
            )
            path(
                "update",
                "update: cancel",
                update,
                lambda: user.put(schedule_id, {"status": "cancelled"}),
            )
            path(
                "update",
                "update: re-activate",
                update,
                lambda: user.put(schedule_id, {"status": "pending"}),
            )
            delete = "DeleteScheduleFunction"
            path("delete", "delete: pending", delete, lambda: user.delete(schedule_id))
            cancelled = user.scheduled()
            user.put(cancelled, {"status": "cancelled"})
            path("delete", "delete: cancelled", delete, lambda: user.delete(cancelled))

            # The authorizer with a JWT (HS256 secret from SSM, cached by Powertools).
            configure_jwt(monkeypatch)
            stack.user("basic", user_id="jwt-user")
            token = hs256_token(claims("jwt-user"))
            for label in ("JWT, not cached (first request)", "JWT, not cached (secret cached)"):
                stack.gateway.forget_cached_authorizations()
                path(
                    "authorizer",
                    label,
                    "AuthorizerFunction",
                    lambda: stack.call("GET", "/api/v1/videos", token=token),
                )
    monkeypatch.undo()
    wiring.reset()
    return {"goals": GOALS, "paths": paths}


def main() -> None:
    emit(measure())


if __name__ == "__main__":
    main()
