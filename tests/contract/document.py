"""The committed OpenAPI document as tests read it: operations by method and template path, and
whether a response (status, content type, JSON body) is what the document says."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT_PATH = ROOT / "openapi.json"


@dataclass
class Document:
    content: dict[str, Any]
    _registry: Registry = field(init=False)

    def __post_init__(self) -> None:
        resource = Resource.from_contents(self.content, default_specification=DRAFT202012)
        self._registry = Registry().with_resource("urn:openapi", resource)

    @property
    def operations(self) -> dict[tuple[str, str], dict[str, Any]]:
        """(METHOD, path template) -> operation."""
        return {
            (method.upper(), path): operation
            for path, item in self.content["paths"].items()
            for method, operation in item.items()
        }

    def operation(self, method: str, path: str) -> dict[str, Any]:
        return self.operations[(method.upper(), path)]

    def template_path(self, method: str, path: str) -> str:
        """The documented path template a concrete path belongs to."""
        for documented_method, template in self.operations:
            if documented_method != method.upper():
                continue
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            if re.fullmatch(pattern, path):
                return template
        raise KeyError(f"{method} {path} is no documented operation")

    def statuses(self, method: str, path: str) -> set[int]:
        return {int(code) for code in self.operation(method, path)["responses"]}

    def validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        """A validator for a schema of the document (its $refs resolve within the document)."""
        return Draft202012Validator(_rebased(schema), registry=self._registry)

    def response_schema(self, method: str, path: str, status: int) -> dict[str, Any]:
        response = self.operation(method, path)["responses"][str(status)]
        schema: dict[str, Any] = response["content"]["application/json"]["schema"]
        return schema

    def check_response(
        self, method: str, path: str, status: int, content_type: str, body: Any
    ) -> None:
        """Assert the response is documented: its status for this operation, JSON, and a body
        that matches the status's schema."""
        template = self.template_path(method, path)
        documented = sorted(self.statuses(method, template))
        assert status in documented, (f"{method} {template}: {status} not in {documented}", body)
        documented_types = self.operations[(method, template)]["responses"][str(status)].get(
            "content", {}
        )
        if "text/html" in documented_types:  # the callback's hand-off page
            assert content_type.startswith("text/html"), content_type
            return
        assert content_type.startswith("application/json"), content_type
        errors = sorted(
            self.validator(self.response_schema(method, template, status)).iter_errors(body),
            key=str,
        )
        assert not errors, (f"{method} {template} {status}", body, [e.message for e in errors[:3]])


def _rebased(value: Any) -> Any:
    """Local `#/components/...` refs as refs into the registered document."""
    if isinstance(value, dict):
        return {
            key: (
                f"urn:openapi{item}"
                if key == "$ref" and isinstance(item, str) and item.startswith("#/")
                else _rebased(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_rebased(item) for item in value]
    return value


@cache
def committed() -> Document:
    return Document(json.loads(DOCUMENT_PATH.read_text(encoding="utf-8")))
