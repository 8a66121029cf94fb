"""The table adapter's shape: a package of small per-entity modules behind one import path,
the only code that spells the table's keys; and routes that mypy checks without ignores."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from post_scheduler.adapters import table
from post_scheduler.domain.ports import SchedulingTablePort

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers/shared/post_scheduler/adapters/table"
# Names other modules, tests and the bench import from `post_scheduler.adapters.table`.
IMPORTED_NAMES = (
    "DUE_INDEX",
    "DUE_PROJECTION",
    "DUE_SHARDS",
    "LockDrifted",
    "SchedulingTable",
    "account_key",
    "due_shard",
    "expression_values",
    "from_item",
    "schedule_item",
    "schedule_key",
    "to_item",
    "user_key",
)


def test_the_table_package_is_split_into_small_modules() -> None:
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) >= 8
    for module in modules:
        lines = len(module.read_text(encoding="utf-8").splitlines())
        assert lines <= 600, (module.name, lines)


@pytest.mark.parametrize("name", IMPORTED_NAMES)
def test_the_package_keeps_every_imported_name(name: str) -> None:
    assert hasattr(table, name), name


def test_the_table_has_every_method_of_the_domains_port() -> None:
    wanted = {name for name, _ in inspect.getmembers(SchedulingTablePort, inspect.isfunction)}
    wanted = {name for name in wanted if not name.startswith("_")}
    assert wanted
    assert wanted <= set(dir(table.SchedulingTable)), wanted - set(dir(table.SchedulingTable))


# A sort-key prefix of the table's layout, as a string literal.
RAW_KEY = re.compile(r"""["'](VIDEO|ACCOUNT|SCHEDULE|APIKEY|POSTMINUTE|OAUTH|DUE)#""")


@pytest.mark.parametrize("folder", ["functions", "layers/shared/post_scheduler/domain"])
def test_handlers_and_the_domain_spell_no_table_keys(folder: str) -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if RAW_KEY.search(line)
    ]
    assert found == []


def test_routes_are_typed_not_ignored() -> None:
    ignored = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "functions").rglob("*.py"))
        if "type: ignore" in path.read_text(encoding="utf-8")
    ]
    assert ignored == []
