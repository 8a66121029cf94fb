"""GET /api/v1/webhooks/{webhookId}/deliveries: what was sent to a webhook, newest first."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ok
from post_scheduler.api.params import DEFAULT_PAGE_SIZE, PageLimit, PageToken
from post_scheduler.models.fields import ID_PATTERN
from post_scheduler.models.webhooks import DeliveryView
from post_scheduler.observability import tracer
from post_scheduler.wiring import check_settings, webhook_service

check_settings("list_webhook_deliveries")  # fail at cold start, naming any missing variable

api = JsonApi()

WebhookIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="Webhook ID")]


@api.routes.get(
    "/api/v1/webhooks/<webhookId>/deliveries",
    summary="List a webhook's deliveries",
    description=(
        "One entry per event sent to the webhook, newest event first: the event id (the"
        " `webhook-id` header), type, post, `status` (pending while attempts remain, then"
        " delivered or failed), attempts so far, the last answer's HTTP status and time, and"
        " when the next attempt is due. Kept 30 days."
    ),
    responses=docs.responses(
        docs.success(
            docs.Page[DeliveryView], docs.page_example(docs.DELIVERY), "A page of deliveries"
        ),
        404,
        messages={404: "webhook not found"},
    ),
    tags=["Webhooks"],
)
@tracer.capture_method
def list_webhook_deliveries(
    webhookId: WebhookIdPath,  # noqa: N803
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    next_token: PageToken = None,
) -> Response[str]:
    items, token = webhook_service().deliveries(api.caller.user_id, webhookId, limit, next_token)
    return ok([item.model_dump(exclude_none=True) for item in items], token)


lambda_handler = api.lambda_handler()
