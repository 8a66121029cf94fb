"""Cold start: what a handler leaves to its first call is not imported with it, except under
SnapStart, where the init runs once before the snapshot and imports it all; and what each
environment resumed from the snapshot must not share is re-initialised after the restore."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.cold_import import functions
from post_scheduler import wiring

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "shared"

# Per function: modules its handler imports only at its first invocation.
FIRST_CALL_IMPORTS = {
    "PublisherFunction": (
        "aws_lambda_powertools.utilities.batch",
        "post_scheduler.api.events",
        "post_scheduler.domain.publishing",
        "post_scheduler.models.records",
    ),
    "PublishFailuresFunction": (
        "aws_lambda_powertools.utilities.batch",
        "post_scheduler.api.events",
        "post_scheduler.domain.publishing",
        "post_scheduler.models.records",
    ),
    "SweepFunction": ("post_scheduler.api.events", "post_scheduler.domain.publishing"),
}

_IMPORT_AND_LIST = (
    "import json, sys\n"
    "sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
    "import app\n"
    "print(json.dumps(sorted(sys.modules)))\n"
)


def _modules_after_import(function: str, initialization: str) -> set[str]:
    """The modules loaded by importing the function's handler in a fresh interpreter with the
    environment Lambda gives it (as the cold-import benchmark measures)."""
    folder, module, environment = functions()[function]
    assert module == "app"
    completed = subprocess.run(
        [sys.executable, "-I", "-c", _IMPORT_AND_LIST, str(folder), str(LAYER)],
        env={**environment, "AWS_LAMBDA_INITIALIZATION_TYPE": initialization},
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(completed.stdout))


@pytest.mark.parametrize("function", sorted(FIRST_CALL_IMPORTS))
def test_a_cold_start_leaves_the_first_call_imports_to_the_first_call(function: str) -> None:
    loaded = _modules_after_import(function, "on-demand")
    assert loaded.isdisjoint(FIRST_CALL_IMPORTS[function])


@pytest.mark.parametrize("function", sorted(FIRST_CALL_IMPORTS))
def test_a_snapstart_init_imports_them_into_the_snapshot(function: str) -> None:
    loaded = _modules_after_import(function, wiring.SNAPSTART_INIT)
    assert loaded.issuperset(FIRST_CALL_IMPORTS[function])


@pytest.fixture
def restore_hooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Lambda's snapshot-restore-py, as its Python runtimes provide it: records the hooks."""
    registered: list[object] = []
    fake = types.ModuleType("snapshot_restore_py")
    fake.register_after_restore = registered.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", fake)
    wiring._register_restore_hook.cache_clear()
    yield registered
    wiring._register_restore_hook.cache_clear()


def test_outside_snapstart_nothing_is_imported_or_registered(
    monkeypatch: pytest.MonkeyPatch, restore_hooks: list[object]
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
    wiring.prime_for_snapshot("no_such_module_anywhere")  # would raise if imported
    wiring.check_settings("list_videos")
    assert restore_hooks == []


def test_under_snapstart_the_restore_hook_is_registered_once(
    monkeypatch: pytest.MonkeyPatch, restore_hooks: list[object]
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", wiring.SNAPSTART_INIT)
    wiring.check_settings("list_videos")
    wiring.prime_for_snapshot("json")
    assert restore_hooks == [wiring.after_restore]


def test_without_the_runtime_library_nothing_is_registered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", wiring.SNAPSTART_INIT)
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import fails
    wiring._register_restore_hook.cache_clear()
    try:
        wiring.prime_for_snapshot("json")
        assert wiring._register_restore_hook() is False
    finally:
        wiring._register_restore_hook.cache_clear()


def test_after_a_restore_random_is_reseeded() -> None:
    random.seed(1234)
    from_the_snapshot = [random.random() for _ in range(3)]
    random.seed(1234)  # the state every restored environment would start with
    wiring.after_restore()
    assert [random.random() for _ in range(3)] != from_the_snapshot


def test_after_a_restore_nothing_built_before_is_reused() -> None:
    from post_scheduler.adapters.aws import aws_client

    wiring.reset()
    wiring.give_up_queue()
    assert wiring.give_up_queue.cache_info().currsize == 1
    assert aws_client.cache_info().currsize >= 1
    wiring.after_restore()
    assert wiring.give_up_queue.cache_info().currsize == 0
    assert aws_client.cache_info().currsize == 0


def _routes_of(function: str) -> list[Any]:
    """The routes of a handler loaded afresh, as Lambda imports it."""
    from local.aws.lambda_runtime import _load_module
    from local.aws.openapi import placeholder_settings
    from post_scheduler.api.http import JsonApi

    folder = ROOT / "functions" / function
    with placeholder_settings(function):
        module = _load_module(f"_cold_start_{function}", folder / "app.py")
    (api,) = [value for value in vars(module).values() if isinstance(value, JsonApi)]
    return [*api.routes._static_routes, *api.routes._dynamic_routes]


@pytest.mark.parametrize("function", ["create_schedule", "list_scheduled_videos", "upcoming"])
def test_a_handler_builds_no_documentation_for_its_routes(function: str) -> None:
    routes = _routes_of(function)
    assert routes
    assert all(route.responses is None for route in routes)


def test_the_document_generator_gets_every_routes_responses() -> None:
    from post_scheduler.api import docs

    with docs.generating():
        routes = _routes_of("create_schedule")
    for route in routes:
        assert {200, 401, 403, 404, 409, 422}.issubset(route.responses)
        ok = route.responses[200]["content"]["application/json"]["model"]
        assert ok.model_fields["data"].annotation.__name__ == "CreatedSchedule"
