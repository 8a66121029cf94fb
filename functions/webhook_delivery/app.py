"""Consumer of the webhook delivery queue: one signed POST per message. A failed attempt's
message is held back (its visibility timeout) until its next attempt is due and reported as a
batch item failure, so SQS hands it over again then; its receive count is the attempt number."""

import json
from typing import Any

from post_scheduler.observability import count, logger, metrics, tracer
from post_scheduler.wiring import check_settings, delivery_queue, webhook_deliverer

check_settings("webhook_delivery")  # fail at cold start, naming any missing variable


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures: list[dict[str, str]] = []
    for record in event.get("Records") or []:
        attempt = int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
        try:
            retry_in = webhook_deliverer().deliver(json.loads(record["body"]), attempt)
        except Exception:
            # AWS or KMS trouble: the message comes back after the queue's visibility timeout.
            logger.exception("webhook delivery failed", extra={"messageId": record["messageId"]})
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        if retry_in is not None:
            delivery_queue().retry_in(record["receiptHandle"], retry_in)
            failures.append({"itemIdentifier": record["messageId"]})
            count("WebhookAttemptsFailed")
    return {"batchItemFailures": failures}
