"""Lambda REQUEST authorizer (HTTP API, payload 2.0, simple responses): JWT or API key."""

from typing import Any

from post_scheduler.observability import logger
from post_scheduler.wiring import authorizer, check_settings

check_settings("authorizer")  # fail at cold start, naming any missing variable


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    return authorizer().simple_response(headers.get("authorization"))
