"""Log lines of the package's own module loggers come out as Powertools JSON with their extra
fields and the correlation id, and the X-Ray SDK is loaded only when the deployment asks."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from post_scheduler import observability

ROOT = Path(__file__).resolve().parents[2]


def test_a_domain_log_line_keeps_its_fields_and_the_correlation_id() -> None:
    handlers = [
        handler
        for handler in logging.getLogger("post_scheduler").handlers
        if isinstance(handler, logging.StreamHandler)
        and handler.formatter is observability.logger.registered_formatter
    ]
    assert handlers, "the package logger has no handler: its lines would be plain text or lost"
    output = io.StringIO()
    streams = [handler.setStream(output) for handler in handlers]
    observability.logger.set_correlation_id("request-1234")
    try:
        logging.getLogger("post_scheduler.domain.publishing").warning(
            "post failed", extra={"scheduleId": "s-1", "reason": "TikTok refused the post"}
        )
    finally:
        observability.logger.set_correlation_id(None)
        for handler, stream in zip(handlers, streams, strict=True):
            handler.setStream(stream)
    lines = [json.loads(line) for line in output.getvalue().splitlines() if line]
    assert len(lines) == 1
    line = lines[0]
    assert line["message"] == "post failed"
    assert line["level"] == "WARNING"
    assert line["name"] == "post_scheduler.domain.publishing"
    assert line["scheduleId"] == "s-1"
    assert line["reason"] == "TikTok refused the post"
    assert line["correlation_id"] == "request-1234"
    assert line["service"] == os.environ["POWERTOOLS_SERVICE_NAME"]


def _imports_after_observability(trace_disabled: str) -> dict[str, object]:
    script = (
        "import json, sys\n"
        "from post_scheduler import observability as o\n"
        "print(json.dumps({'xray': 'aws_xray_sdk.core' in sys.modules,"
        " 'tracer': type(o.tracer).__name__}))\n"
    )
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": trace_disabled}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "layers" / "shared"), str(ROOT)])
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_without_the_sdk_nothing_of_xray_is_imported() -> None:
    assert _imports_after_observability("true") == {"xray": False, "tracer": "NoTracer"}


def test_with_the_sdk_the_powertools_tracer_is_used() -> None:
    assert _imports_after_observability("false") == {"xray": True, "tracer": "Tracer"}


def test_the_stand_in_tracer_keeps_handlers_working() -> None:
    tracer = observability.NoTracer()

    @tracer.capture_lambda_handler
    def handler(event: dict[str, int], context: object) -> int:
        return event["n"] + 1

    @tracer.capture_method(capture_response=False)
    def method(value: int) -> int:
        return value * 2

    tracer.patch(modules=("requests",))
    assert handler({"n": 1}, None) == 2
    assert method(3) == 6
