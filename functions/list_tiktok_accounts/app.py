"""GET /api/v1/tiktok-accounts: the caller's connected TikTok accounts, paged."""

from aws_lambda_powertools.event_handler import Response

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ok
from post_scheduler.api.params import DEFAULT_PAGE_SIZE, PageLimit, PageToken
from post_scheduler.models.responses import AccountItem
from post_scheduler.observability import tracer
from post_scheduler.wiring import check_settings, scheduling_table

check_settings("list_tiktok_accounts")  # fail at cold start, naming any missing variable

api = JsonApi()


@api.routes.get(
    "/api/v1/tiktok-accounts",
    summary="List TikTok accounts",
    description="The user's connected TikTok accounts, a page at a time.",
    responses=docs.responses(
        docs.success(
            docs.Page[AccountItem], docs.page_example(docs.ACCOUNT), "A page of TikTok accounts"
        )
    ),
    tags=["TikTok accounts"],
)
@tracer.capture_method
def list_tiktok_accounts(
    limit: PageLimit = DEFAULT_PAGE_SIZE, next_token: PageToken = None
) -> Response[str]:
    accounts, token = scheduling_table().list_accounts(api.caller.user_id, limit, next_token)
    return ok([AccountItem.of(a).model_dump() for a in accounts], token)


lambda_handler = api.lambda_handler()
