"""What `sam build` puts in the layer is what the tests ran: layers/shared/requirements.txt pins
every package, transitive ones included, with hashes, at the versions installed here."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "shared"
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _entries(path: Path) -> list[tuple[str, str, int]]:
    """(name, version, hash count) of each requirement of a pip-compile output."""
    entries: list[tuple[str, str, int]] = []
    for line in path.read_text().splitlines():
        found = _PIN.match(line)
        if found:
            entries.append((_canonical(found.group(1)), found.group(2), 0))
        elif line.strip().startswith("--hash=sha256:") and entries:
            name, pinned, hashes = entries[-1]
            entries[-1] = (name, pinned, hashes + 1)
    return entries


def _top_level() -> set[str]:
    names = set()
    for line in (LAYER / "requirements.in").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(_canonical(re.split(r"[\[=<>~! ]", line, maxsplit=1)[0]))
    return names


def test_every_line_of_the_layer_lock_is_pinned_with_hashes() -> None:
    lock = LAYER / "requirements.txt"
    requirement_lines = [
        line
        for line in lock.read_text().splitlines()
        if line and not line.startswith((" ", "#", "-"))
    ]
    entries = _entries(lock)
    assert len(entries) == len(requirement_lines), "a requirement without an exact pin"
    assert all(hashes > 0 for _, _, hashes in entries), "a requirement without hashes"


def test_the_lock_holds_every_top_level_requirement_and_their_dependencies() -> None:
    locked = {name for name, _, _ in _entries(LAYER / "requirements.txt")}
    assert _top_level() <= locked
    # Transitive packages are there too, not only what requirements.in names.
    assert {"pydantic-core", "typing-extensions", "urllib3", "cryptography"} <= locked


def test_the_layer_lock_matches_the_versions_the_tests_run() -> None:
    drifted = []
    for name, pinned, _ in _entries(LAYER / "requirements.txt"):
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = "not installed"
        if installed != pinned:
            drifted.append(f"{name}: layer {pinned}, tests {installed}")
    assert not drifted, "run `make lock`: " + "; ".join(drifted)
