"""The API's OpenAPI 3.1 document, generated from the code.

Each function of template.yaml with `HttpApi` events is imported from its CodeUri and Handler;
its `JsonApi`'s resolver (Powertools, validation on) gives the document of its routes, which
says what the route decorators and the pydantic request/response models say. The documents are
merged into one, and the template decides what the parts cannot: which operations exist (their
paths and methods must match the template's routes exactly) and which are public (no
authorizer: `security: []`). Powertools documents a 422 for request validation; the API answers
those with 400 VALIDATION_ERROR (`api/http.py`), so that response is dropped.

    python -m local.aws.openapi            write openapi.json (`make openapi`)
    python -m local.aws.openapi --check    exit 1 when openapi.json differs from the code
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from local.aws.template import ROOT, Template

if TYPE_CHECKING:
    from local.aws.gateway import GatewayResponse

logger = logging.getLogger("local.openapi")

DOCUMENT_PATH = ROOT / "openapi.json"
# Powertools' own validation-error response and its schemas: never answered by this API.
_POWERTOOLS_VALIDATION = ("HTTPValidationError", "ValidationError")

DESCRIPTION = """\
Schedule stored videos to be published to TikTok at an exact UTC time.

**Authentication.** Every operation except the public ones (upcoming posts and the TikTok OAuth
callback) needs `Authorization: Bearer <token>`, where the token is either a JWT from the
deployment's identity provider or an API key (`psk_...`, see `POST /api/v1/api-keys`).
Scheduling needs the Basic or Professional plan.

**Envelope.** Success: `{"success": true, "data": ...}`; lists add `nextToken` when another
page exists (pass it back as the `nextToken` query parameter, with `limit` 1-100).
Errors: `{"success": false, "error": {"code": "...", "message": "...", "details": ...}}`,
where `code` is one of VALIDATION_ERROR (400), UNAUTHORIZED (401), FORBIDDEN and
SCHEDULING_LIMIT_EXCEEDED (403), NOT_FOUND (404), CONFLICT (409), PAYLOAD_TOO_LARGE (413),
UNSUPPORTED_MEDIA_TYPE (415), UNPROCESSABLE_ENTITY (422), INTERNAL_ERROR (500) and
SERVICE_UNAVAILABLE (503). A request without an Authorization header, or to a path that matches
no route, gets API Gateway's own `{"message": ...}` answer.

**Times.** Send ISO 8601 in UTC (`2025-10-21T14:30:00Z` or `+00:00`); other offsets are
refused, not converted. Times come back as `YYYY-MM-DDTHH:MM:SS.sssZ`. A post must be scheduled
at least 15 minutes ahead (the deployment's minimum lead) and is published at its exact second.
"""


class DocumentError(Exception):
    """The code and the template disagree about the API."""


def _project_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


@contextmanager
def placeholder_settings(function: str) -> Iterator[None]:
    """Stand-ins for the variables a handler checks at cold start: reading its routes needs no
    deployment, and none of them is used while the document is built."""
    from post_scheduler.settings import FUNCTION_SETTINGS

    added = []
    for field in FUNCTION_SETTINGS[function].model_fields.values():
        if field.is_required() and field.alias and not os.environ.get(field.alias, "").strip():
            os.environ[field.alias] = "placeholder-for-the-openapi-document"
            added.append(field.alias)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def _function_documents(template: Template) -> dict[str, dict[str, Any]]:
    """Each HTTP function's own document, by logical id."""
    from local.aws.lambda_runtime import _load_module
    from post_scheduler.api import docs
    from post_scheduler.api.http import JsonApi

    documents: dict[str, dict[str, Any]] = {}
    for function in sorted({route.function for route in template.http_routes()}):
        folder, handler = template.function_code(function)
        module_name = handler.rpartition(".")[0]
        with placeholder_settings(folder.name), docs.generating():
            module = _load_module(
                f"_openapi_{function}_{module_name}", folder / f"{module_name}.py"
            )
        apis = [value for value in vars(module).values() if isinstance(value, JsonApi)]
        if len(apis) != 1:
            raise DocumentError(f"{function}: expected one JsonApi in its handler, got {len(apis)}")
        schema = apis[0].routes.get_openapi_json_schema(
            title="part", version="0", openapi_version="3.1.0"
        )
        documents[function] = json.loads(schema)
        if apis[0].idempotency_scope is not None:
            documents[function]["idempotent"] = True
    return documents


IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Makes a retry safe (IETF httpapi draft, The Idempotency-Key HTTP Header Field): 1-255"
        " printable ASCII characters, bare or as a quoted structured-field string, unique per"
        " request, kept 24 hours per caller. The same key with the same request answers the"
        " first response again (with `Idempotent-Replayed: true`) and changes nothing; with a"
        " different request it is 422 IDEMPOTENCY_KEY_REUSED; while the first request still"
        " runs, 409. Server errors (5xx) are not kept, so they may be retried with the key."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
    "example": "8e03978e-40d5-43e8-bc93-6894a57f9324",
}
REPLAYED_HEADER = {
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer of an earlier request with the key",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


def _optional_body(operation: dict[str, Any]) -> None:
    """An optional body (`Model | None`) is the model's schema, not required: JSON `null` is
    not a body this API takes (every body is an object)."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    variants = content.get("schema", {}).get("anyOf", [])
    refs = [v for v in variants if "$ref" in v]
    if len(variants) == 2 and len(refs) == 1 and {"type": "null"} in variants:
        content["schema"] = refs[0]
        operation["requestBody"]["required"] = False


def _make_idempotent(operation: dict[str, Any]) -> None:
    """Document the Idempotency-Key header, its replay header and its 409/422 answers."""
    from post_scheduler.api import docs

    operation.setdefault("parameters", []).append(IDEMPOTENCY_PARAMETER)
    for response in operation["responses"].values():
        response["headers"] = REPLAYED_HEADER
    with docs.generating():
        answers = docs.errors(409, 422)
    for status, response in answers.items():
        operation["responses"].setdefault(str(status), response)


def _merge_schemas(target: dict[str, Any], source: dict[str, Any], origin: str) -> None:
    for name, schema in source.items():
        if name in target and target[name] != schema:
            raise DocumentError(f"{origin}: schema {name!r} differs from another function's")
        target[name] = schema


def _drop_powertools_validation(operation: dict[str, Any]) -> None:
    response = operation.get("responses", {}).get("422")
    text = json.dumps(response or {})
    if any(f"/{name}" in text for name in _POWERTOOLS_VALIDATION):
        del operation["responses"]["422"]


def _referenced(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = set()
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for item in value.values():
            found |= _referenced(item)
        return found
    if isinstance(value, list):
        return set().union(*(_referenced(item) for item in value)) if value else set()
    return set()


def _prune_schemas(document: dict[str, Any]) -> None:
    """Drop component schemas nothing refers to (Powertools adds its validation error's)."""
    schemas: dict[str, Any] = document["components"]["schemas"]
    used = _referenced({k: v for k, v in document.items() if k != "components"})
    pending = list(used)
    while pending:
        name = pending.pop()
        for inner in _referenced(schemas.get(name, {})) - used:
            used.add(inner)
            pending.append(inner)
    for name in sorted(set(schemas) - used):
        del schemas[name]


def build_document(template: Template | None = None) -> dict[str, Any]:
    """The whole API's document."""
    from local.aws.lambda_runtime import add_layers_to_path

    template = template or Template.load()
    add_layers_to_path(template)
    from post_scheduler.api import docs

    routes = {(r.method.lower(), r.path): r for r in template.http_routes()}
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for function, part in _function_documents(template).items():
        idempotent = part.pop("idempotent", False)
        for path, item in part.get("paths", {}).items():
            for method, operation in item.items():
                route = routes.get((method, path))
                if route is None:
                    raise DocumentError(
                        f"{function}: {method.upper()} {path} is not in the template"
                    )
                if route.function != function:
                    raise DocumentError(
                        f"{function}: {method.upper()} {path} belongs to {route.function}"
                    )
                if method in paths.get(path, {}):
                    raise DocumentError(f"{method.upper()} {path} is documented twice")
                _drop_powertools_validation(operation)
                _optional_body(operation)
                if idempotent:
                    _make_idempotent(operation)
                operation["responses"] = dict(sorted(operation["responses"].items()))
                if route.public:
                    operation["security"] = []
                paths.setdefault(path, {})[method] = operation
        _merge_schemas(schemas, part.get("components", {}).get("schemas", {}), function)
    documented = {(method, path) for path, item in paths.items() for method in item}
    missing = sorted(f"{m.upper()} {p}" for m, p in set(routes) - documented)
    if missing:
        raise DocumentError(f"routes of the template without a documented operation: {missing}")
    _merge_schemas(schemas, docs.components(), "post_scheduler.api.docs")
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "TikTok Post Scheduler API",
            "version": _project_version(),
            "description": DESCRIPTION,
        },
        "servers": [{"url": "/", "description": "The API's own address"}],
        "security": docs.SECURITY,
        "tags": _tags(paths),
        "paths": {path: dict(sorted(paths[path].items())) for path in sorted(paths)},
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": docs.SECURITY_SCHEMES,
        },
    }
    _prune_schemas(document)
    return document


def _tags(paths: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    names = sorted(
        {tag for item in paths.values() for op in item.values() for tag in op.get("tags", [])}
    )
    return [{"name": name} for name in names]


def render(document: dict[str, Any]) -> str:
    """The document as committed: indented JSON, UTF-8, with a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# --- served by the local stack -----------------------------------------------------------------

DOCUMENT_URL = "/api/v1/openapi.json"
DOCS_URL = "/api/v1/docs"
# Swagger UI's own files (from the swagger-ui-py package: no CDN, works offline).
_ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>TikTok Post Scheduler API</title>
  <link rel="stylesheet" href="{docs}/swagger-ui.css">
  <link rel="icon" type="image/png" href="{docs}/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{docs}/swagger-ui-bundle.js"></script>
  <script src="{docs}/start.js"></script>
</body>
</html>
"""
_START = """window.ui = SwaggerUIBundle({{
  url: "{document}",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
}});
"""


class ApiDocs:
    """Answers `GET /api/v1/openapi.json` (generated from the running code on first use) and
    the Swagger UI page at `/api/v1/docs`, before requests reach the gateway's routes."""

    def __init__(self, template: Template) -> None:
        self.template = template
        self._document: bytes | None = None
        self._lock = threading.Lock()

    def document(self) -> bytes:
        with self._lock:
            if self._document is None:
                self._document = render(build_document(self.template)).encode()
            return self._document

    def response(self, method: str, path: str) -> GatewayResponse | None:
        """The answer for a docs path, or None for any other request."""
        from local.aws.gateway import GatewayResponse

        if method.upper() != "GET":
            return None
        if path == DOCUMENT_URL:
            try:
                body = self.document()
            except Exception:
                logger.exception("the OpenAPI document could not be generated")
                failure = json.dumps({"message": "the OpenAPI document could not be generated"})
                return GatewayResponse(500, {"content-type": "application/json"}, failure.encode())
            return GatewayResponse(200, {"content-type": "application/json"}, body)
        if path in (DOCS_URL, f"{DOCS_URL}/"):
            page = _PAGE.format(docs=DOCS_URL).encode()
            return GatewayResponse(200, {"content-type": "text/html; charset=utf-8"}, page)
        if path == f"{DOCS_URL}/start.js":
            script = _START.format(document=DOCUMENT_URL).encode()
            return GatewayResponse(200, {"content-type": _ASSETS["swagger-ui-bundle.js"]}, script)
        name = path.removeprefix(f"{DOCS_URL}/")
        if name in _ASSETS:
            asset = resources.files("swagger_ui").joinpath("static", name).read_bytes()
            return GatewayResponse(200, {"content-type": _ASSETS[name]}, asset)
        return None


def _prepare_environment() -> None:
    # The handler modules import Powertools' tracer and metrics; nothing is called here.
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.aws.openapi", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--output", type=Path, default=DOCUMENT_PATH)
    args = parser.parse_args(argv)
    _prepare_environment()
    text = render(build_document())
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run `make openapi`", file=sys.stderr)
            return 1
        print(f"{args.output} matches the code")
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
