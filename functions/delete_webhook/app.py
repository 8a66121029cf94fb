"""DELETE /api/v1/webhooks/{webhookId}: stop sending events to a webhook."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ok
from post_scheduler.models.fields import ID_PATTERN
from post_scheduler.observability import count, logger, tracer
from post_scheduler.wiring import check_settings, webhook_service

check_settings("delete_webhook")  # fail at cold start, naming any missing variable

api = JsonApi()

WebhookIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="Webhook ID")]


class DeletedWebhook(BaseModel):
    model_config = docs.DEFERRED

    id: str
    deleted: Literal[True]


@api.routes.delete(
    "/api/v1/webhooks/<webhookId>",
    summary="Delete a webhook",
    description="No more events are sent to it; deliveries still queued are cancelled.",
    responses=docs.responses(
        docs.success(
            docs.Ok[DeletedWebhook],
            docs.ok_example({"id": docs.WEBHOOK_ID, "deleted": True}),
            "The webhook is deleted",
        ),
        404,
        messages={404: "webhook not found"},
    ),
    tags=["Webhooks"],
)
@tracer.capture_method
def delete_webhook(webhookId: WebhookIdPath) -> Response[str]:  # noqa: N803
    webhook_service().delete(api.caller.user_id, webhookId)
    logger.info("webhook deleted", extra={"webhookId": webhookId})
    count("WebhooksDeleted")
    return ok({"id": webhookId, "deleted": True})


lambda_handler = api.lambda_handler()
