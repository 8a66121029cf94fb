"""POST /api/v1/webhooks: register a webhook (its signing secret is in this answer only)."""

from aws_lambda_powertools.event_handler import Response

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ok
from post_scheduler.models.webhooks import CreatedWebhook, CreateWebhookRequest
from post_scheduler.observability import count, logger, tracer
from post_scheduler.wiring import check_settings, webhook_service

check_settings("create_webhook")  # fail at cold start, naming any missing variable

api = JsonApi(idempotency_scope="create_webhook")


@api.routes.post(
    "/api/v1/webhooks",
    summary="Register a webhook",
    description=(
        "Events `schedule.executed`, `schedule.failed` and `schedule.cancelled` are POSTed to"
        ' `url` following the Standard Webhooks specification: body `{"type", "timestamp",'
        ' "data": <the post as GET /api/v1/schedule/{scheduleId} shows it>}`, headers'
        " `webhook-id` (the event id, the same on every retry), `webhook-timestamp` and"
        ' `webhook-signature` (`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` keyed'
        " with the base64-decoded part of `secret` after `whsec_`): verify with any Standard"
        " Webhooks library. A non-2xx answer or no answer within 10 s is retried after 5 s, 5"
        " min, 30 min, 2 h, 5 h and 10 h, then the delivery is failed. The URL must be https"
        " and resolve to public addresses only (checked again at each delivery); at most 2048"
        " characters; at most 10 webhooks per user. `secret` is shown only in this answer."
    ),
    responses=docs.responses(
        docs.success(
            docs.Ok[CreatedWebhook],
            docs.ok_example({**docs.WEBHOOK, "secret": docs.WEBHOOK_SECRET}),
            "The webhook; `secret` is shown this once",
        ),
        409,
        422,
        body=True,
        messages={
            409: "at most 10 webhooks per user; delete one first",
            422: "the webhook URL is refused: the URL must use https",
        },
    ),
    tags=["Webhooks"],
)
@tracer.capture_method
def create_webhook(body: CreateWebhookRequest) -> Response[str]:
    created = webhook_service().register(api.caller.user_id, body)
    logger.info("webhook registered", extra={"webhookId": created.id, "events": created.events})
    count("WebhooksRegistered")
    return ok(created.model_dump())


lambda_handler = api.lambda_handler()
