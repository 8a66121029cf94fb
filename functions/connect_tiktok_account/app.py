"""GET /api/v1/tiktok-accounts/connect: TikTok's authorization URL to connect an account."""

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ok
from post_scheduler.models.accounts import ConnectStart
from post_scheduler.observability import tracer
from post_scheduler.wiring import account_service

api = JsonApi()

CALLBACK_PATH = "/api/v1/tiktok-accounts/callback"


@api.routes.get(
    "/api/v1/tiktok-accounts/connect",
    summary="Start connecting a TikTok account",
    description=(
        "Send the user's browser to `authorizationUrl` within 10 minutes. TikTok redirects it"
        f" to {CALLBACK_PATH}, which connects the account (or refreshes it when the same TikTok"
        " user was connected before). The `state` works once."
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
def connect_tiktok_account():  # type: ignore[no-untyped-def]
    event = api.routes.current_event
    host = event.request_context.domain_name
    loopback = host.split(":")[0] in ("127.0.0.1", "localhost")
    scheme = event.headers.get("x-forwarded-proto") or ("http" if loopback else "https")
    own_callback = f"{scheme}://{host}{CALLBACK_PATH}"
    start = account_service().start_connect(api.caller.user_id, own_callback)
    return ok(start.model_dump())


lambda_handler = api.lambda_handler()
