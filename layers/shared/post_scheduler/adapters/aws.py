"""boto3 clients, created once per process with timeouts and standard retries.

The endpoint comes from the standard `AWS_ENDPOINT_URL` variables, which is how the local stack
points the same code at moto's server.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(
    connect_timeout=3,
    read_timeout=10,
    retries={"mode": "standard", "max_attempts": 3},
    # The publisher runs a batch's posts in parallel threads on the same clients.
    max_pool_connections=100,
)


@cache
def aws_client(service: str) -> Any:
    """A shared client for `service`; tests clear the cache inside each moto context."""
    return boto3.client(service, config=_CONFIG)
