"""POST /api/v1/api-keys: mint an API key (its plaintext is in this answer only)."""

from aws_lambda_powertools.event_handler import Response

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ok
from post_scheduler.models.api_keys import CreateApiKeyRequest, CreatedApiKey
from post_scheduler.observability import count, logger, tracer
from post_scheduler.wiring import api_key_service, check_settings

check_settings("create_api_key")  # fail at cold start, naming any missing variable

api = JsonApi()


@api.routes.post(
    "/api/v1/api-keys",
    summary="Create an API key",
    description=(
        "Answers the key's plaintext in `apiKey` once; only its SHA-256 hash is stored. Use it"
        " as `Authorization: Bearer <apiKey>`."
    ),
    responses=docs.responses(
        docs.success(
            docs.Ok[CreatedApiKey],
            docs.ok_example({**docs.API_KEY, "lastUsedAt": None, "apiKey": docs.API_KEY_PLAINTEXT}),
            "The new key; `apiKey` is shown this once",
        ),
        409,
        body=True,
        messages={409: "a user can hold at most 20 API keys; revoke one first"},
    ),
    tags=["API keys"],
)
@tracer.capture_method
def create_api_key(body: CreateApiKeyRequest) -> Response[str]:
    created = api_key_service().create(api.caller.user_id, body.name)
    logger.info("API key created", extra={"keyId": created.keyId, "prefix": created.prefix})
    count("ApiKeysCreated")
    return ok(created.model_dump())


lambda_handler = api.lambda_handler()
