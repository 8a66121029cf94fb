"""Logger, Tracer and Metrics shared by the functions (service name and namespace come from
POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE set in the template).

Every module of the package logs through `logging.getLogger(__name__)`; those loggers are
children of `post_scheduler`, which gets the Powertools logger's JSON handler here, so their
`extra` fields and the correlation id reach the output like the handlers' own lines.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

PACKAGE_LOGGER = "post_scheduler"

logger = Logger()
logging.getLogger(PACKAGE_LOGGER)  # registered, so the copy below finds it
copy_config_to_registered_loggers(source_logger=logger, include={PACKAGE_LOGGER})
metrics = Metrics()


class NoTracer:
    """Stands in for Powertools' Tracer when the X-Ray SDK is off: the same decorators, doing
    nothing. Lambda's active tracing still records every invocation; only the SDK's
    subsegments (and its ~0.3 s import) are left out."""

    disabled = True

    def capture_lambda_handler(self, handler: Any = None, **options: Any) -> Any:
        return handler if handler is not None else _unchanged

    def capture_method(self, method: Any = None, **options: Any) -> Any:
        return method if method is not None else _unchanged

    def patch(self, modules: Sequence[str] | None = None) -> None:
        """Nothing to patch without the SDK."""

    def put_annotation(self, key: str, value: Any) -> None:
        """Annotations need the SDK."""

    def put_metadata(self, key: str, value: Any, namespace: str | None = None) -> None:
        """Metadata needs the SDK."""


def _unchanged[F: Callable[..., Any]](function: F) -> F:
    return function


def xray_sdk_enabled() -> bool:
    """The template's `XRaySdk` parameter, passed as Powertools' own POWERTOOLS_TRACE_DISABLED."""
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower()
    return disabled not in {"1", "true"}


def _tracer() -> Tracer:
    if not xray_sdk_enabled():
        # The handlers use only the decorators and `patch`, which NoTracer has.
        return cast("Tracer", NoTracer())
    from aws_lambda_powertools import Tracer

    # Only AWS SDK calls are traced by default: patching every library X-Ray knows would import
    # them (requests alone costs ~25 ms of cold start) into functions that never use them. The
    # functions that call TikTok add `trace_http_client()`.
    return Tracer(patch_modules=("botocore",))


tracer = _tracer()


def trace_http_client() -> None:
    """Trace outgoing `requests` calls too (the TikTok client's)."""
    tracer.patch(modules=("requests",))


HTTP_CORRELATION = correlation_paths.API_GATEWAY_HTTP

__all__ = [
    "HTTP_CORRELATION",
    "MetricUnit",
    "NoTracer",
    "logger",
    "metrics",
    "trace_http_client",
    "tracer",
]


def count(name: str, value: int = 1) -> None:
    """Add a Count metric to this invocation's EMF record."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
