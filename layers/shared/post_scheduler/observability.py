"""Logger, Tracer and Metrics shared by the functions (service name and namespace come from
POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE set in the template)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
tracer = Tracer()
metrics = Metrics()

HTTP_CORRELATION = correlation_paths.API_GATEWAY_HTTP

__all__ = ["HTTP_CORRELATION", "MetricUnit", "logger", "metrics", "tracer"]


def count(name: str, value: int = 1) -> None:
    """Add a Count metric to this invocation's EMF record."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
