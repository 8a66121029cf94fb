"""Every `HttpApi` event in template.yaml answers on the local stack: whatever the function
says (a 400 for an empty body, a 404 envelope for an unknown id), never the router's own
404 `{"message": "Not Found"}`."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from local.aws.template import HttpRoute, Template
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

ROUTER_NOT_FOUND = {"message": "Not Found"}
ROUTES = Template.load().http_routes()


def _is_router_404(status: int, body: bytes) -> bool:
    try:
        return status == 404 and json.loads(body) == ROUTER_NOT_FOUND
    except ValueError:
        return False


@pytest.mark.parametrize("route", ROUTES, ids=[r.route_key for r in ROUTES])
def test_route_answers_locally(local_stack: RunningStack, route: HttpRoute) -> None:
    path = re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), route.path)
    body = b"{}" if route.method in ("POST", "PUT", "PATCH") else None
    response = local_stack.call(
        route.method,
        path,
        plan=None if route.public else "professional",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    assert not _is_router_404(response.status_code, response.content), (
        f"{route.route_key} is not routed locally: {response.status_code} {response.text}"
    )
    assert response.status_code < 500, f"{route.route_key}: {response.status_code} {response.text}"


def test_unknown_route_gets_the_router_404(local_stack: RunningStack) -> None:
    response = local_stack.call("GET", "/api/v1/no-such-route")
    assert _is_router_404(response.status_code, response.content)
