"""DELETE /api/v1/api-keys/{keyId}: revoke one of the caller's API keys."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ok
from post_scheduler.models.api_keys import ApiKeyView
from post_scheduler.models.fields import ID_PATTERN
from post_scheduler.observability import count, logger, tracer
from post_scheduler.wiring import api_key_service, check_settings

check_settings("delete_api_key")  # fail at cold start, naming any missing variable

api = JsonApi()


class RevokedApiKey(ApiKeyView):
    """The revoked key."""

    model_config = docs.DEFERRED

    revoked: Literal[True]


KeyIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="API key ID")]


@api.routes.delete(
    "/api/v1/api-keys/<keyId>",
    summary="Revoke an API key",
    description=(
        "Deletes the key at once. API Gateway caches each Authorization header's authorization"
        " for the deployment's AuthorizerCacheSeconds (300 seconds by default), so requests with"
        " a revoked key may still pass for up to that long."
    ),
    responses=docs.responses(
        docs.success(
            docs.Ok[RevokedApiKey],
            docs.ok_example({**docs.API_KEY, "revoked": True}),
            "The key is revoked",
        ),
        404,
        messages={404: "API key not found"},
    ),
    tags=["API keys"],
)
@tracer.capture_method
def delete_api_key(keyId: KeyIdPath) -> Response[str]:  # noqa: N803
    revoked = api_key_service().revoke(api.caller.user_id, keyId)
    logger.info("API key revoked", extra={"keyId": keyId})
    count("ApiKeysRevoked")
    return ok({**revoked.model_dump(), "revoked": True})


lambda_handler = api.lambda_handler()
