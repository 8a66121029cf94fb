"""Shared fixtures: the template's resources under moto's in-process mock, the template's
functions behind a local API Gateway, and factories for users, keys, videos and accounts."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from typing import Any

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
from moto.core.botocore_stubber import BotocoreStubber  # noqa: E402
from moto.kms import models as moto_kms_models  # noqa: E402

from post_scheduler import wiring  # noqa: E402
from tests.support import MOTO_CONFIG, AwsStack  # noqa: E402

pytest_plugins = ("tests.tiktok_fixtures",)

# moto gives every KMS key an RSA key pair for Sign/Verify, even symmetric keys that never use
# it; generating one costs ~40 ms a key. Symmetric keys share one pair (their own random key
# material, which Encrypt/Decrypt use, stays per key); asymmetric specs are unchanged.
_real_generate_private_key = moto_kms_models.generate_private_key


@functools.cache
def _shared_unused_key_pair(key_spec: str) -> Any:
    return _real_generate_private_key(key_spec)


def _generate_private_key(key_spec: str) -> Any:
    if key_spec in ("SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512"):
        return _shared_unused_key_pair(key_spec)
    return _real_generate_private_key(key_spec)


moto_kms_models.generate_private_key = _generate_private_key


def pytest_configure(config: pytest.Config) -> None:
    # Read-only handlers publish no business metrics; Powertools warns about it on each call.
    config.addinivalue_line(
        "filterwarnings", "ignore:No application metrics to publish:UserWarning"
    )


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsStack]:
    """The template's table, bucket, queues and schedule group in moto, with the functions'
    environment applied and every cached client and setting forgotten."""
    with mock_aws(config=MOTO_CONFIG):
        aws_stack = AwsStack.create(monkeypatch)
        yield aws_stack
    wiring.reset()


@pytest.fixture
def atomic_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each request to moto runs alone, start to end (one AWS request = one atomic step), as
    DynamoDB runs each request atomically: moto's in-process backends are not thread-safe (a
    failed transaction restores a copy of the table, wiping other threads' writes). It never
    spans two requests, so races between the requests of a use case stay real."""
    lock = threading.RLock()
    process = BotocoreStubber.process_request

    def one_at_a_time(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            return process(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", one_at_a_time)
