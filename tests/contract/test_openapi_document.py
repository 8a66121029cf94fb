"""openapi.json is the code's document (regenerate with `make openapi`), a valid OpenAPI 3.1
document, and says what the API contract says: the template's operations exactly, both bearer
schemes with the public operations open, the error envelope for every error status, and the
reference's examples, each valid against its schema."""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

import pytest
from openapi_spec_validator import validate

from local.aws.lambda_runtime import _load_module
from local.aws.openapi import build_document, placeholder_settings, render
from local.aws.template import Template
from post_scheduler.api.http import JsonApi
from post_scheduler.errors import ApiError
from post_scheduler.timestamps import TimestampError, parse_utc
from tests.contract.document import DOCUMENT_PATH, Document, committed

REFERENCE_CREATE_REQUEST = {
    "videoId": "550e8400-e29b-41d4-a716-446655440000",
    "tiktokAccountId": "123e4567-e89b-12d3-a456-426614174000",
    "scheduledPublishTime": "2025-10-21T14:30:00Z",
}
REFERENCE_CREATE_RESPONSE = {
    "success": True,
    "data": {
        "scheduleId": "650e8400-e29b-41d4-a716-446655440000",
        "scheduledTime": "2025-10-21T14:30:00.000Z",
        "status": "pending",
        "createdAt": "2025-01-20T10:30:00.000Z",
    },
}
REFERENCE_LIST_ITEM = {
    "id": "650e8400-e29b-41d4-a716-446655440000",
    "scheduledPublishTime": "2025-10-21T14:30:00.000Z",
    "status": "pending",
    "video": {
        "id": "550e8400-e29b-41d4-a716-446655440000",
        "title": "Amazing TikTok Video",
        "description": "Check out this content!",
    },
    "tiktokAccount": {
        "id": "123e4567-e89b-12d3-a456-426614174000",
        "username": "my_tiktok_handle",
        "displayName": "My TikTok Name",
    },
}
REFERENCE_UPDATE_REQUEST = {"scheduledPublishTime": "2025-10-22T10:00:00Z", "status": "pending"}
ERROR_CODES = {
    400: {"VALIDATION_ERROR"},
    401: {"UNAUTHORIZED"},
    403: {"FORBIDDEN", "SCHEDULING_LIMIT_EXCEEDED"},
    404: {"NOT_FOUND"},
    409: {"CONFLICT"},
    413: {"PAYLOAD_TOO_LARGE"},
    415: {"UNSUPPORTED_MEDIA_TYPE"},
    422: {"UNPROCESSABLE_ENTITY", "IDEMPOTENCY_KEY_REUSED"},
    500: {"INTERNAL_ERROR"},
    503: {"SERVICE_UNAVAILABLE"},
}
# The statuses each operation documents besides 200, 400, 401 (authenticated ones), 500 and
# 503, and 413/415 (those with a body): what its handler and domain can answer.
OWN_STATUSES = {
    ("POST", "/api/v1/schedule/create"): {403, 404, 409, 422},
    ("POST", "/api/v1/schedule"): {403, 404, 409, 422},
    ("GET", "/api/v1/schedule/scheduled-videos"): set(),
    ("PUT", "/api/v1/schedule/{scheduleId}"): {403, 404, 409, 422},
    ("DELETE", "/api/v1/schedule/{scheduleId}"): {404, 409},
    ("POST", "/api/v1/schedule/{scheduleId}/retry"): {403, 404, 409, 422},
    ("GET", "/api/v1/schedule/upcoming"): set(),
    ("GET", "/api/v1/schedule/{scheduleId}"): {404},
    ("GET", "/api/v1/schedule/quota"): set(),
    ("GET", "/api/v1/videos"): set(),
    ("POST", "/api/v1/videos"): {409, 422},  # Idempotency-Key in flight / reused
    ("GET", "/api/v1/videos/{videoId}"): {404},
    ("POST", "/api/v1/videos/{videoId}/complete"): {404, 409},
    ("DELETE", "/api/v1/videos/{videoId}"): {404, 409},
    ("GET", "/api/v1/tiktok-accounts"): set(),
    ("GET", "/api/v1/tiktok-accounts/connect"): set(),
    ("GET", "/api/v1/tiktok-accounts/callback"): {302},
    ("POST", "/api/v1/tiktok-accounts/connect/complete"): {403, 409},
    ("DELETE", "/api/v1/tiktok-accounts/{accountId}"): {404, 409},
    ("POST", "/api/v1/api-keys"): {409},
    ("GET", "/api/v1/api-keys"): set(),
    ("DELETE", "/api/v1/api-keys/{keyId}"): {404},
    ("POST", "/api/v1/webhooks"): {409, 422},
    ("GET", "/api/v1/webhooks"): set(),
    ("DELETE", "/api/v1/webhooks/{webhookId}"): {404},
    ("GET", "/api/v1/webhooks/{webhookId}/deliveries"): {404},
}


# Routes whose JSON body may be left out.
OPTIONAL_BODIES = {"/api/v1/schedule/{scheduleId}/retry"}


@pytest.fixture(scope="module")
def document() -> Document:
    return committed()


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.load()


def test_the_committed_document_is_generated_from_the_code() -> None:
    generated = render(build_document())
    committed_text = DOCUMENT_PATH.read_text(encoding="utf-8")
    if committed_text != generated:
        diff = difflib.unified_diff(
            committed_text.splitlines(), generated.splitlines(), "openapi.json", "the code", n=1
        )
        shown = "\n".join(list(diff)[:60])
        pytest.fail(f"openapi.json is out of date: run `make openapi`\n{shown}", pytrace=False)


def test_it_is_a_valid_openapi_3_1_document(document: Document) -> None:
    assert document.content["openapi"].startswith("3.1.")
    validate(document.content)


def test_its_operations_are_exactly_the_templates_routes(
    document: Document, template: Template
) -> None:
    routes = {(route.method, route.path) for route in template.http_routes()}
    assert set(document.operations) == routes
    assert set(OWN_STATUSES) == routes


def test_operation_ids_are_unique(document: Document) -> None:
    ids = [operation["operationId"] for operation in document.operations.values()]
    assert len(ids) == len(set(ids))


def _handler_api(template: Template, function: str) -> JsonApi:
    folder, handler = template.function_code(function)
    module_name = handler.rpartition(".")[0]
    with placeholder_settings(folder.name):
        module = _load_module(f"_contract_{function}_{module_name}", folder / f"{module_name}.py")
    (api,) = (value for value in vars(module).values() if isinstance(value, JsonApi))
    return api


def test_public_operations_have_no_security_and_the_others_need_a_bearer_token(
    document: Document, template: Template
) -> None:
    schemes = document.content["components"]["securitySchemes"]
    assert set(schemes) == {"bearerJwt", "bearerApiKey"}
    assert all(s["type"] == "http" and s["scheme"] == "bearer" for s in schemes.values())
    assert schemes["bearerJwt"]["bearerFormat"] == "JWT"
    # Either scheme alone authorizes a request.
    assert document.content["security"] == [{"bearerJwt": []}, {"bearerApiKey": []}]
    for route in template.http_routes():
        operation = document.operation(route.method, route.path)
        authenticated = _handler_api(template, route.function).authenticated
        assert authenticated is not route.public, route
        if route.public:
            assert operation["security"] == [], route
            assert "401" not in operation["responses"], route
        else:
            assert "security" not in operation, route  # the document's default: both schemes
            assert "401" in operation["responses"], route
    public = {(r.method, r.path) for r in template.http_routes() if r.public}
    assert public == {
        ("GET", "/api/v1/schedule/upcoming"),
        ("GET", "/api/v1/tiktok-accounts/callback"),
    }


def test_every_operation_documents_its_statuses(document: Document) -> None:
    for (method, path), operation in document.operations.items():
        expected = {200, 400, 500, 503} | OWN_STATUSES[(method, path)]
        if operation.get("security") != []:
            expected.add(401)
        if "requestBody" in operation:
            expected |= {413, 415}
        assert document.statuses(method, path) == expected, (method, path)


def test_request_bodies_are_required_json_objects_with_a_schema(document: Document) -> None:
    for (method, path), operation in document.operations.items():
        if method in ("POST", "PUT"):
            body = operation["requestBody"]
            assert body["required"] is (path not in OPTIONAL_BODIES), (method, path)
            assert set(body["content"]) == {"application/json"}, (method, path)
            assert "$ref" in body["content"]["application/json"]["schema"], (method, path)
        else:
            assert "requestBody" not in operation, (method, path)


# TikTok's redirect back lands in a browser: a page (or a redirect to the deployer's app).
HAND_OFF = ("GET", "/api/v1/tiktok-accounts/callback")


def test_the_callback_answers_a_page_or_a_redirect(document: Document) -> None:
    responses = document.operations[HAND_OFF]["responses"]
    assert set(responses["200"]["content"]) == {"text/html"}
    assert not any(media.get("schema") for media in responses["302"].get("content", {}).values())


def test_every_response_is_json_with_a_schema(document: Document) -> None:
    for (method, path), operation in document.operations.items():
        for status, response in operation["responses"].items():
            if (method, path) == HAND_OFF and status in ("200", "302"):
                continue
            assert set(response["content"]) == {"application/json"}, (method, path, status)
            assert response["content"]["application/json"]["schema"], (method, path, status)
            assert response["description"], (method, path, status)


def _resolved(document: Document, schema: dict[str, Any]) -> dict[str, Any]:
    name = schema["$ref"].rsplit("/", 1)[1]
    resolved: dict[str, Any] = document.content["components"]["schemas"][name]
    return resolved


def test_successes_are_the_envelope(document: Document) -> None:
    for (method, path), _ in document.operations.items():
        if (method, path) == HAND_OFF:
            continue
        envelope = _resolved(document, document.response_schema(method, path, 200))
        assert envelope["properties"]["success"]["const"] is True, (method, path)
        assert set(envelope["required"]) == {"success", "data"}, (method, path)
        assert set(envelope["properties"]) <= {"success", "data", "nextToken"}, (method, path)
        if envelope["properties"]["data"].get("type") == "array":
            assert "nextToken" in envelope["properties"], (method, path)


def test_errors_are_the_envelope_with_the_codes_of_their_status(document: Document) -> None:
    for (method, path), operation in document.operations.items():
        for status_text, response in operation["responses"].items():
            status = int(status_text)
            if status in (200, 302):
                continue
            schema = response["content"]["application/json"]["schema"]
            refs = [s["$ref"] for s in schema.get("anyOf", [schema])]
            envelope = _resolved(document, {"$ref": refs[0]})
            assert envelope["required"] == ["success", "error"], (method, path, status)
            assert envelope["properties"]["success"] == {"const": False}
            error = envelope["properties"]["error"]
            assert set(error["required"]) == {"code", "message"}
            assert set(error["properties"]) == {"code", "message", "details"}
            code = error["properties"]["code"]
            codes = {code["const"]} if "const" in code else set(code["enum"])
            assert codes == ERROR_CODES[status], (method, path, status)
            assert len(refs) == 1, (method, path, status)  # 401 too: always our envelope
            examples = response["content"]["application/json"]["examples"]
            assert {
                e["value"]["error"]["code"] for e in examples.values() if "error" in e["value"]
            } == codes


def test_no_validation_error_shape_of_powertools_remains(document: Document) -> None:
    text = json.dumps(document.content)
    assert "HTTPValidationError" not in text
    for (method, path), operation in document.operations.items():
        if "422" in operation["responses"]:
            assert OWN_STATUSES[(method, path)] >= {422}, (method, path)


def _examples(document: Document) -> list[tuple[str, dict[str, Any], Any]]:
    """(where, schema, example) of every example in the document."""
    found = []
    for (method, path), operation in document.operations.items():
        for status, response in operation["responses"].items():
            media = response.get("content", {}).get("application/json", {})
            for name, example in media.get("examples", {}).items():
                found.append(
                    (f"{method} {path} {status} {name}", media["schema"], example["value"])
                )
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body:
            model = _resolved(document, body["schema"])
            for index, example in enumerate(model.get("examples", [])):
                found.append((f"{method} {path} request {index}", body["schema"], example))
            for name, example in body.get("examples", {}).items():
                found.append((f"{method} {path} request {name}", body["schema"], example["value"]))
    return found


def test_every_example_is_valid_against_its_schema(document: Document) -> None:
    examples = _examples(document)
    # A success example for every operation, an error example for every error response.
    responses = sum(len(op["responses"]) for op in document.operations.values()) - 2  # HAND_OFF
    assert len([e for e in examples if " request " not in e[0]]) >= responses
    for where, schema, example in examples:
        errors = [e.message for e in document.validator(schema).iter_errors(example)]
        assert not errors, (where, errors)


def _success_example(document: Document, method: str, path: str) -> Any:
    media = document.operation(method, path)["responses"]["200"]["content"]["application/json"]
    return media["examples"]["success"]["value"]


def test_the_references_examples_are_in_it(document: Document) -> None:
    for path in ("/api/v1/schedule/create", "/api/v1/schedule"):
        request = document.operation("POST", path)["requestBody"]["content"]["application/json"]
        (example,) = _resolved(document, request["schema"])["examples"]
        assert example == {
            **REFERENCE_CREATE_REQUEST,
            "title": "Scheduled Amazing Video",
            "hashtags": "#trending #viral",
        }
        assert _success_example(document, "POST", path) == REFERENCE_CREATE_RESPONSE

    listed = _success_example(document, "GET", "/api/v1/schedule/scheduled-videos")
    (item,) = listed["data"]
    assert item.items() >= REFERENCE_LIST_ITEM.items()

    update = document.operation("PUT", "/api/v1/schedule/{scheduleId}")["requestBody"]
    schema = _resolved(document, update["content"]["application/json"]["schema"])
    assert schema["examples"] == [REFERENCE_UPDATE_REQUEST]

    upcoming = _success_example(document, "GET", "/api/v1/schedule/upcoming")
    assert upcoming["data"]["upcomingPosts"] == [
        {
            "scheduleId": "650e8400-e29b-41d4-a716-446655440000",
            "publishTime": "2025-10-21T14:30:00.000Z",
            "accountId": "123e4567-e89b-12d3-a456-426614174000",
        }
    ]


def test_the_documented_time_pattern_is_what_the_api_parses(document: Document) -> None:
    schema = document.content["components"]["schemas"]["CreateScheduleRequest"]
    pattern = re.compile(schema["properties"]["scheduledPublishTime"]["pattern"])
    for text in (
        "2025-10-21T14:30:00Z",
        "2025-10-21T14:30:00.123Z",
        "2025-10-21t14:30:00.123456789z",
        "2025-10-21T14:30:00+00:00",
    ):
        assert pattern.search(text), text
        parse_utc(text)
    for text in (
        "2025-10-21T14:30:00",
        "2025-10-21T14:30:00+01:00",
        "2025-10-21T14:30:00-00:00",
        "2025-10-21 14:30:00Z",
        "2025-10-21T14:30Z",
        "20251021T143000Z",
    ):
        assert not pattern.search(text), text
        with pytest.raises(TimestampError):
            parse_utc(text)


def _error_classes(base: type[ApiError] = ApiError) -> list[type[ApiError]]:
    found = [base]
    for sub in base.__subclasses__():
        found += _error_classes(sub)
    return found


def test_the_documented_error_codes_are_those_of_the_code(document: Document) -> None:
    raised: dict[int, set[str]] = {}
    for error in _error_classes():
        raised.setdefault(error.status_code, set()).add(error.code)
    documented: dict[int, set[str]] = {}
    for operation in document.operations.values():
        for status, response in operation["responses"].items():
            json_media = response.get("content", {}).get("application/json", {})
            for example in json_media.get("examples", {}).values():
                if "error" in example["value"]:
                    documented.setdefault(int(status), set()).add(example["value"]["error"]["code"])
    assert documented == raised == ERROR_CODES
