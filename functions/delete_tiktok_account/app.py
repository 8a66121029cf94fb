"""DELETE /api/v1/tiktok-accounts/{accountId}: cancel its pending posts, then delete it."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ok
from post_scheduler.models.accounts import DeletedAccount
from post_scheduler.models.fields import ID_PATTERN
from post_scheduler.observability import count, logger, tracer
from post_scheduler.wiring import account_service, check_settings

check_settings("delete_tiktok_account")  # fail at cold start, naming any missing variable

api = JsonApi()

AccountIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="TikTok account ID")]


@api.routes.delete(
    "/api/v1/tiktok-accounts/<accountId>",
    summary="Delete a TikTok account",
    description=(
        "Cancels every pending post to the account (as PUT status=cancelled would: plan slot and"
        " video freed, schedule removed), then deletes the account and its stored tokens."
        " 409 while one of its posts is being published."
    ),
    responses=docs.responses(
        docs.success(
            docs.Ok[DeletedAccount],
            docs.ok_example(
                {"id": docs.ACCOUNT_ID, "deleted": True, "cancelledScheduleIds": [docs.SCHEDULE_ID]}
            ),
            "The account is deleted; its pending posts were cancelled",
        ),
        404,
        409,
        messages={404: "TikTok account not found"},
    ),
    tags=["TikTok accounts"],
)
@tracer.capture_method
def delete_tiktok_account(accountId: AccountIdPath) -> Response[str]:  # noqa: N803
    deleted = account_service().delete(api.caller.user_id, accountId)
    logger.info(
        "TikTok account deleted",
        extra={"accountId": accountId, "cancelled": len(deleted.cancelledScheduleIds)},
    )
    count("TikTokAccountsDeleted")
    count("PostsCancelled", len(deleted.cancelledScheduleIds))
    return ok(deleted.model_dump())


lambda_handler = api.lambda_handler()
