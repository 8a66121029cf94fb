"""Logger, Tracer and Metrics shared by the functions (service name and namespace come from
POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE set in the template)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
# Only AWS SDK calls are traced by default: patching every library X-Ray knows would import
# them (requests alone costs ~25 ms of cold start) into functions that never use them. The
# functions that call TikTok add `trace_http_client()`.
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()


def trace_http_client() -> None:
    """Trace outgoing `requests` calls too (the TikTok client's)."""
    tracer.patch(modules=("requests",))


HTTP_CORRELATION = correlation_paths.API_GATEWAY_HTTP

__all__ = ["HTTP_CORRELATION", "MetricUnit", "logger", "metrics", "trace_http_client", "tracer"]


def count(name: str, value: int = 1) -> None:
    """Add a Count metric to this invocation's EMF record."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
