"""The local stack's HTTP front serves the document at /api/v1/openapi.json and Swagger UI at
/api/v1/docs from files of an installed package: nothing on the page comes from another host,
so it works offline."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from werkzeug.test import Client

from local.aws.gateway import Gateway
from local.aws.http_server import ApiServer
from local.aws.template import Template
from tests.contract.document import DOCUMENT_PATH


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    server = ApiServer(Gateway(Template.load()), port=0)
    server.start()
    try:
        yield Client(server.wsgi)
    finally:
        server.stop()


def test_the_document_is_served_as_committed(client: Client) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.get_data() == DOCUMENT_PATH.read_bytes()


def test_swagger_ui_is_served_from_local_files(client: Client) -> None:
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.get_data(as_text=True)
    assert "://" not in html  # no CDN, no other host
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert set(assets) == {
        "/api/v1/docs/swagger-ui.css",
        "/api/v1/docs/favicon-32x32.png",
        "/api/v1/docs/swagger-ui-bundle.js",
        "/api/v1/docs/start.js",
    }
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.get_data()) > 0, asset
    start = client.get("/api/v1/docs/start.js").get_data(as_text=True)
    assert '"/api/v1/openapi.json"' in start
    assert "validatorUrl: null" in start  # Swagger UI would otherwise call an online validator
    assert "://" not in start
    bundle = client.get("/api/v1/docs/swagger-ui-bundle.js").get_data(as_text=True)
    # Swagger UI 5 renders OpenAPI 3.1; 4 does not.
    assert re.search(r'"5\.\d+\.\d+"', bundle)


def test_other_paths_under_docs_are_not_files(client: Client) -> None:
    for path in (
        "/api/v1/docs/../../pyproject.toml",
        "/api/v1/docs/%2e%2e/openapi.py",
        "/api/v1/docs/core.py",
        "/api/v1/docs/swagger-editor.js",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.get_json() == {"message": "Not Found"}


def test_only_get_is_answered(client: Client) -> None:
    response = client.post("/api/v1/openapi.json", data=b"{}")
    assert response.status_code == 404
