"""GET /api/v1/tiktok-accounts/callback (public: TikTok redirects the browser here): finish
connecting the account the `state` was issued for."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ok
from post_scheduler.models.accounts import ConnectedAccount
from post_scheduler.observability import count, trace_http_client, tracer
from post_scheduler.wiring import account_service

api = JsonApi(authenticated=False)
trace_http_client()

Param = Annotated[str | None, Query(max_length=2048)]


@api.routes.get(
    "/api/v1/tiktok-accounts/callback",
    summary="TikTok OAuth callback",
    description="Where TikTok sends the browser back; not called by API clients.",
    responses=docs.responses(
        docs.success(
            docs.Ok[ConnectedAccount],
            docs.ok_example({"account": docs.ACCOUNT, "created": True, "scope": docs.SCOPES}),
            "The account is connected (or refreshed)",
        ),
        403,
        409,
        authenticated=False,
        messages={
            400: "the state is invalid or was already used; start connecting again",
            403: "the TikTok user declined to connect the account",
            409: "another TikTok user is connected under this account id",
        },
    ),
    tags=["TikTok accounts"],
)
@tracer.capture_method
def tiktok_account_callback(  # type: ignore[no-untyped-def]
    code: Param = None,
    state: Param = None,
    error: Param = None,
    error_description: Param = None,
):
    connected = account_service().finish_connect(
        state=state, code=code, error=error, error_description=error_description
    )
    count("TikTokAccountsConnected")
    return ok(connected.model_dump())


lambda_handler = api.lambda_handler()
