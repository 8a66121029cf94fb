"""Each function's settings are checked at cold start against its own small model: a missing or
unparsable variable fails the import and names itself; the models ask only for what the
template gives each function."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from local.aws.template import load_template
from post_scheduler.settings import FUNCTION_SETTINGS, SettingsError, check_settings

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


def _environment_names(document: dict[str, Any]) -> dict[str, set[str]]:
    """The variables the template sets for each function (Globals and its own), by folder."""
    shared = set(document["Globals"]["Function"]["Environment"]["Variables"])
    names: dict[str, set[str]] = {}
    for resource in document["Resources"].values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        folder = properties["CodeUri"].rstrip("/").split("/")[-1]
        own = (properties.get("Environment") or {}).get("Variables", {})
        names[folder] = shared | set(own)
    return names


def _complete_environment(monkeypatch: pytest.MonkeyPatch, function: str) -> None:
    for field in FUNCTION_SETTINGS[function].model_fields.values():
        assert field.alias is not None
        monkeypatch.setenv(field.alias, "value" if field.annotation is str else "10")


def test_every_function_has_a_settings_model_and_every_model_a_function() -> None:
    folders = {path.parent.name for path in FUNCTIONS.glob("*/app.py")}
    assert set(FUNCTION_SETTINGS) == folders


def test_each_model_asks_only_for_variables_the_template_gives_that_function() -> None:
    given = _environment_names(load_template())
    for function, model in FUNCTION_SETTINGS.items():
        required = {f.alias for f in model.model_fields.values() if f.is_required()}
        assert required <= given[function], (function, required - given[function])
        every = {f.alias for f in model.model_fields.values()}
        assert every <= given[function] | {
            "VIDEO_MULTIPART_THRESHOLD_BYTES",
            "VIDEO_PART_SIZE_BYTES",
            "VIDEO_UPLOAD_URL_SECONDS",
            "PUBLISH_RETRY_DELAY_SECONDS",
            "AUTHORIZER_CACHE_SECONDS",
        }, function


@pytest.mark.parametrize(
    ("function", "variable"),
    [
        ("create_schedule", "SCHEDULER_ROLE_ARN"),
        ("create_schedule", "PUBLISH_QUEUE_ARN"),
        ("publisher", "VIDEO_BUCKET"),
        ("publisher", "TOKEN_KMS_KEY_ID"),
        ("sweep", "PUBLISHER_FAILURE_QUEUE_URL"),
        ("webhook_delivery", "WEBHOOK_QUEUE_URL"),
        ("complete_tiktok_connect", "TIKTOK_CLIENT_PARAMETER"),
    ],
)
@pytest.mark.parametrize("unset", ["deleted", "blank"])
def test_a_missing_variable_names_itself(
    monkeypatch: pytest.MonkeyPatch, function: str, variable: str, unset: str
) -> None:
    _complete_environment(monkeypatch, function)
    if unset == "deleted":
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, "  ")
    with pytest.raises(SettingsError, match=rf"^{function}: {variable} is not set$"):
        check_settings(function)


def test_a_number_that_does_not_parse_names_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    _complete_environment(monkeypatch, "create_schedule")
    monkeypatch.setenv("MIN_SCHEDULE_LEAD_SECONDS", "fifteen minutes")
    with pytest.raises(SettingsError, match=r"MIN_SCHEDULE_LEAD_SECONDS is invalid"):
        check_settings("create_schedule")


def test_a_complete_environment_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    for function in FUNCTION_SETTINGS:
        _complete_environment(monkeypatch, function)
    for function in FUNCTION_SETTINGS:
        check_settings(function)


def test_a_misconfigured_function_fails_at_cold_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Importing the handler (Lambda's init phase) is what fails, before any request."""
    _complete_environment(monkeypatch, "create_video")
    monkeypatch.delenv("VIDEO_BUCKET")
    spec = importlib.util.spec_from_file_location(
        "cold_start_create_video", FUNCTIONS / "create_video" / "app.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with pytest.raises(SettingsError, match="create_video: VIDEO_BUCKET is not set"):
        spec.loader.exec_module(module)
