"""GET /api/v1/api-keys: the caller's API keys (prefix and name, never the key), paged."""

from aws_lambda_powertools.event_handler import Response

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ok
from post_scheduler.api.params import DEFAULT_PAGE_SIZE, PageLimit, PageToken
from post_scheduler.models.api_keys import ApiKeyView
from post_scheduler.observability import tracer
from post_scheduler.wiring import api_key_service, check_settings

check_settings("list_api_keys")  # fail at cold start, naming any missing variable

api = JsonApi()


@api.routes.get(
    "/api/v1/api-keys",
    summary="List API keys",
    description="The user's API keys by prefix and name (never the key itself), a page at a time.",
    responses=docs.responses(
        docs.success(docs.Page[ApiKeyView], docs.page_example(docs.API_KEY), "A page of API keys")
    ),
    tags=["API keys"],
)
@tracer.capture_method
def list_api_keys(
    limit: PageLimit = DEFAULT_PAGE_SIZE, next_token: PageToken = None
) -> Response[str]:
    keys, token = api_key_service().list(api.caller.user_id, limit, next_token)
    return ok([key.model_dump() for key in keys], token)


lambda_handler = api.lambda_handler()
