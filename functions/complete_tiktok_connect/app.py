"""POST /api/v1/tiktok-accounts/connect/complete: link the TikTok account of a connect flow the
caller started, with what TikTok handed back to the callback (`code` and `state`)."""

from aws_lambda_powertools.event_handler import Response

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ok
from post_scheduler.models.accounts import CompleteConnectRequest, ConnectedAccount
from post_scheduler.observability import count, trace_http_client, tracer
from post_scheduler.wiring import account_service, check_settings

check_settings("complete_tiktok_connect")  # fail at cold start, naming any missing variable

api = JsonApi()
trace_http_client()


@api.routes.post(
    "/api/v1/tiktok-accounts/connect/complete",
    summary="Finish connecting a TikTok account",
    description=(
        "Send the `code` and `state` TikTok handed to the callback (or its `error` and"
        " `errorDescription`), as the user who called `/tiktok-accounts/connect`: a state issued"
        " to another user links nothing and answers 400. The state works once."
    ),
    responses=docs.responses(
        docs.success(
            docs.Ok[ConnectedAccount],
            docs.ok_example({"account": docs.ACCOUNT, "created": True, "scope": docs.SCOPES}),
            "The account is connected (or refreshed)",
        ),
        403,
        409,
        body=True,
        messages={
            400: "the state is invalid, was already used, or was issued to another user;"
            " start connecting again",
            403: "the TikTok user declined to connect the account",
            409: "another TikTok user is connected under this account id",
        },
    ),
    tags=["TikTok accounts"],
)
@tracer.capture_method
def complete_tiktok_connect(body: CompleteConnectRequest) -> Response[str]:
    connected = account_service().finish_connect(
        api.caller.user_id,
        state=body.state,
        code=body.code,
        error=body.error,
        error_description=body.errorDescription,
    )
    count("TikTokAccountsConnected")
    return ok(connected.model_dump())


lambda_handler = api.lambda_handler()
