"""GET /api/v1/tiktok-accounts/connect: TikTok's authorization URL to connect an account."""

import os

from aws_lambda_powertools.event_handler import Response

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ok
from post_scheduler.models.accounts import ConnectStart
from post_scheduler.observability import tracer
from post_scheduler.wiring import account_service, check_settings

check_settings("connect_tiktok_account")  # fail at cold start, naming any missing variable

api = JsonApi()

CALLBACK_PATH = "/api/v1/tiktok-accounts/callback"


def own_callback() -> str:
    """The callback at this API's own default address: the API id is API Gateway's, the domain
    suffix the template's. Request headers (Host, X-Forwarded-*) are the client's, so never."""
    api_id = api.routes.current_event.request_context.api_id
    return f"https://{api_id}.{os.environ['API_DOMAIN_SUFFIX']}{CALLBACK_PATH}"


@api.routes.get(
    "/api/v1/tiktok-accounts/connect",
    summary="Start connecting a TikTok account",
    description=(
        "Send the user's browser to `authorizationUrl` within 10 minutes. TikTok redirects it"
        f" to {CALLBACK_PATH}, which hands `code` and `state` on; the same user then links the"
        " account with `POST /api/v1/tiktok-accounts/connect/complete`. The `state` works once."
    ),
    responses=docs.responses(
        docs.success(
            docs.Ok[ConnectStart],
            docs.ok_example(docs.CONNECT_START),
            "Where to send the user's browser",
        )
    ),
    tags=["TikTok accounts"],
)
@tracer.capture_method
def connect_tiktok_account() -> Response[str]:
    service = account_service()
    default = "" if service.settings.redirect_uri else own_callback()
    start = service.start_connect(api.caller.user_id, default)
    return ok(start.model_dump())


lambda_handler = api.lambda_handler()
