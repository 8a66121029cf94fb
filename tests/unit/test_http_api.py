"""api/http.py: the envelope, the error mapping, the body checks, and handler isolation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from local.aws.apigw import route_event
from post_scheduler.api.http import JsonApi, error_response, ok
from post_scheduler.errors import Conflict, NotFound, ValidationFailed

CALLER = {"userId": "alice", "plan": "basic", "credential": "apiKey", "expiresAt": 0}


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str


def make_api(authenticated: bool = True) -> JsonApi:
    api = JsonApi(authenticated=authenticated)

    @api.routes.post("/things")
    def create(body: Body):  # type: ignore[no-untyped-def]
        if body.name == "boom":
            raise RuntimeError("internal detail /var/task/app.py")
        if body.name == "taken":
            raise Conflict("already there", {"name": body.name})
        return ok({"name": body.name, "user": api.caller.user_id})

    @api.routes.get("/things")
    def listing():  # type: ignore[no-untyped-def]
        return ok([1, 2], next_token="abc")

    return api


def call(
    api: JsonApi,
    method: str = "POST",
    body: bytes | None = b'{"name": "x"}',
    context: dict[str, Any] | None = CALLER,
    headers: list[tuple[str, str]] | None = None,
) -> tuple[int, Any]:
    event = route_event(
        method=method,
        path="/things",
        route_key=f"{method} /things",
        headers=headers if headers is not None else [("content-type", "application/json")],
        body=body,
        authorizer_context=context,
    )
    result = api.handle(event, None)
    assert result["headers"]["Content-Type"] == "application/json"
    return result["statusCode"], json.loads(result["body"])


def test_success_envelope() -> None:
    status, body = call(make_api())
    assert (status, body) == (200, {"success": True, "data": {"name": "x", "user": "alice"}})


def test_next_token_is_top_level_and_only_when_given() -> None:
    assert call(make_api(), "GET", None)[1] == {"success": True, "data": [1, 2], "nextToken": "abc"}
    assert json.loads(ok([]).body) == {"success": True, "data": []}  # type: ignore[arg-type]
    assert "nextToken" not in json.loads(ok([], next_token="").body)  # type: ignore[arg-type]


def test_api_errors_map_to_their_status_and_code() -> None:
    status, body = call(make_api(), body=b'{"name": "taken"}')
    assert (status, body) == (
        409,
        {
            "success": False,
            "error": {"code": "CONFLICT", "message": "already there", "details": {"name": "taken"}},
        },
    )
    response = error_response(NotFound("nope"))
    assert response.status_code == 404
    assert json.loads(response.body) == {  # type: ignore[arg-type]
        "success": False,
        "error": {"code": "NOT_FOUND", "message": "nope"},
    }


def test_request_validation_is_400_not_powertools_422() -> None:
    status, body = call(make_api(), body=b'{"name": 5, "extra": true}')
    assert status == 400
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert {d["field"] for d in body["error"]["details"]} == {"name", "extra"}


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b"{", 400, "VALIDATION_ERROR"),
        (b'{"name": "a", "name": "b"}', 400, "VALIDATION_ERROR"),
        (b'{"name": NaN}', 400, "VALIDATION_ERROR"),
        (b'{"name": Infinity}', 400, "VALIDATION_ERROR"),
        (b'{"a":' * 20 + b"1" + b"}" * 20, 400, "VALIDATION_ERROR"),
        (b"\xff\xfe", 400, "VALIDATION_ERROR"),
        (b'{"name": "' + b"x" * 70_000 + b'"}', 413, "PAYLOAD_TOO_LARGE"),
    ],
)
def test_body_checks(raw: bytes, status: int, code: str) -> None:
    got_status, body = call(make_api(), body=raw)
    assert (got_status, body["error"]["code"]) == (status, code)


def test_json_content_types() -> None:
    for content_type in ("application/json; charset=utf-8", "application/json;charset=UTF-8"):
        assert call(make_api(), headers=[("content-type", content_type)])[0] == 200
    status, body = call(make_api(), headers=[("content-type", "text/plain")])
    assert (status, body["error"]["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")


def test_unexpected_errors_are_500_without_internals() -> None:
    status, body = call(make_api(), body=b'{"name": "boom"}')
    assert status == 500
    assert body["error"]["code"] == "INTERNAL_ERROR"
    assert "/var/task" not in json.dumps(body)


def test_credentials_are_checked_before_anything_else() -> None:
    status, body = call(make_api(), body=b"{broken", context={"authError": "invalid API key"})
    assert (status, body["error"]) == (401, {"code": "UNAUTHORIZED", "message": "invalid API key"})
    status, body = call(make_api(), context=None)
    assert (status, body["error"]["code"]) == (401, "UNAUTHORIZED")


def test_public_routes_need_no_caller() -> None:
    api = make_api(authenticated=False)
    assert call(api, "GET", None, context=None)[0] == 200


def test_unknown_route_is_404_in_the_envelope() -> None:
    event = route_event(method="GET", path="/nowhere", route_key="GET /nowhere")
    event["requestContext"]["authorizer"] = {"lambda": CALLER}
    result = make_api().handle(event, None)
    assert result["statusCode"] == 404
    assert json.loads(result["body"])["error"]["code"] == "NOT_FOUND"


def test_validation_failure_for_bad_json() -> None:
    from post_scheduler.api.http import validation_failure

    error = validation_failure([{"type": "json_invalid", "loc": ("body",), "msg": "x"}])
    assert isinstance(error, ValidationFailed)
    assert error.message == "request body is not valid JSON"


def test_two_handler_instances_never_see_each_others_request() -> None:
    """Powertools keeps the current event on a class shared by all resolvers of a process. A
    local runner serving concurrent requests in one process (one handler instance each) must
    still give every handler its own request: here one request is handled while another is
    in the middle of being handled, which is what interleaving threads do."""
    outer, inner = JsonApi(), JsonApi()
    seen: dict[str, Any] = {}

    @inner.routes.post("/things")
    def inner_create(body: Body):  # type: ignore[no-untyped-def]
        return ok({"user": inner.caller.user_id, "name": body.name})

    @outer.routes.post("/things")
    def outer_create(body: Body):  # type: ignore[no-untyped-def]
        other = route_event(
            method="POST",
            path="/things",
            route_key="POST /things",
            headers=[("content-type", "application/json")],
            body=b'{"name": "bob\'s"}',
            authorizer_context={**CALLER, "userId": "bob"},
        )
        seen["inner"] = json.loads(inner.handle(other, None)["body"])["data"]
        seen["outer"] = {"user": outer.caller.user_id, "name": body.name}
        return ok(seen["outer"])

    status, body = call(outer, body=b'{"name": "alice\'s"}')

    assert status == 200
    assert seen["inner"] == {"user": "bob", "name": "bob's"}
    assert body["data"] == {"user": "alice", "name": "alice's"}


@pytest.mark.parametrize(
    "content_type",
    ["APPLICATION/JSON", "Application/Json; charset=UTF-8", "application/json;charset=utf-8"],
)
def test_json_media_type_is_case_insensitive(content_type: str) -> None:
    status, body = call(make_api(), headers=[("content-type", content_type)])
    assert status == 200, body
    assert body["data"]["name"] == "x"
