"""GET /api/v1/webhooks: the caller's webhooks (never their secrets)."""

from aws_lambda_powertools.event_handler import Response

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ok
from post_scheduler.models.webhooks import WebhookView
from post_scheduler.observability import tracer
from post_scheduler.wiring import check_settings, webhook_service

check_settings("list_webhooks")  # fail at cold start, naming any missing variable

api = JsonApi()


@api.routes.get(
    "/api/v1/webhooks",
    summary="List webhooks",
    description="Your webhooks (at most 10), oldest first, without their secrets.",
    responses=docs.responses(
        docs.success(docs.Page[WebhookView], docs.page_example(docs.WEBHOOK), "Your webhooks")
    ),
    tags=["Webhooks"],
)
@tracer.capture_method
def list_webhooks() -> Response[str]:
    hooks = webhook_service().list_webhooks(api.caller.user_id)
    return ok([hook.model_dump() for hook in hooks])


lambda_handler = api.lambda_handler()
