"""Shared fixtures: the template's resources under moto's in-process mock, the template's
functions behind a local API Gateway, and factories for users, keys, videos and accounts."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Settings every test process needs before any AWS client exists.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "PostScheduler",
        "POWERTOOLS_SERVICE_NAME": "post-scheduler-test",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
)
for _variable in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
    os.environ.pop(_variable, None)

from moto import mock_aws  # noqa: E402

from post_scheduler import wiring  # noqa: E402
from tests.support import AwsStack  # noqa: E402


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsStack]:
    """The template's table, bucket, queues and schedule group in moto, with the functions'
    environment applied and every cached client and setting forgotten."""
    with mock_aws():
        aws_stack = AwsStack.create(monkeypatch)
        yield aws_stack
    wiring.reset()
