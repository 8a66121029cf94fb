"""Cold import time of each function's handler module against a bare handler that imports only
boto3 and json (bench/bare_handler/app.py), in fresh processes, interleaved in one run.

Each sample is one new interpreter (`python -I`) that puts the function's CodeUri folder and the
layer's content folder on sys.path, as Lambda does (/var/task, then /opt/python), with the
environment Lambda gives the function (its template variables, LAMBDA_TASK_ROOT, the function
name, the region), and times `import <handler module>` with perf_counter. One warm-up round
first (it writes the .pyc files), then `rounds` rounds in a shuffled order, the bare handler
twice per round. A function's figure is median(handler) / median(bare).

Then one more run of each with `-X importtime` tells which modules, beyond those the bare
handler imports too, cost the most: their own time summed by package (a standard-library module
counts for the library that imported it) and by the project's import statement that brought
them in (-X importtime inflates every figure, so only the shares matter).

    python -m bench.cold_import [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import LAYER, ROOT, emit, load_average

GOAL_RATIO = 1.5
BARE = "BareHandler"
BARE_FOLDER = ROOT / "bench" / "bare_handler"

# Times one import in a fresh interpreter; imports nothing itself that the handler might need.
_TIMER = (
    "import sys, time\n"
    "sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
    "started = time.perf_counter()\n"
    "__import__(sys.argv[3])\n"
    "sys.stdout.write(repr(time.perf_counter() - started))\n"
)


def functions() -> dict[str, tuple[Path, str, dict[str, str]]]:
    """Every function of the template: (CodeUri folder, handler module, environment)."""
    from local.aws.template import Template

    template = Template.load()
    found: dict[str, tuple[Path, str, dict[str, str]]] = {}
    for name in template.of_type("AWS::Serverless::Function"):
        folder, handler = template.function_code(name)
        found[name] = (folder, handler.rpartition(".")[0], lambda_environment(template, name))
    return found


def lambda_environment(template: Any, name: str) -> dict[str, str]:
    """What Lambda sets for the function (its template variables resolved where they can be
    without a deployment; resources get a placeholder name), with loopback-only AWS settings
    so that nothing an import might do can leave the machine."""
    merged: dict[str, Any] = {}
    globals_env = template.document.get("Globals", {}).get("Function", {}).get("Environment", {})
    merged.update(globals_env.get("Variables", {}))
    props = template.resources[name]["Properties"]
    merged.update((props.get("Environment") or {}).get("Variables", {}))
    environment = {}
    for key, value in merged.items():
        try:
            environment[key] = str(template.resolve(value))
        except KeyError:
            environment[key] = f"bench-{key.lower()}"
    folder, handler = template.function_code(name)
    return {
        **environment,
        "LAMBDA_TASK_ROOT": str(folder),
        "LAMBDA_RUNTIME_DIR": str(folder),
        "_HANDLER": handler,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    }


def _base_environment() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    return {k: v for k, v in os.environ.items() if k in keep}


def time_import(folder: Path, module: str, environment: dict[str, str]) -> float:
    output = subprocess.run(
        [sys.executable, "-I", "-c", _TIMER, str(folder), str(LAYER), module],
        env={**_base_environment(), **environment},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(output)


_IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")


@dataclass
class Imported:
    """One module in an `-X importtime` tree: its own time and the chain that imported it."""

    name: str
    self_us: int
    ancestors: list[str]


def import_profile(folder: Path, module: str, environment: dict[str, str]) -> list[Imported]:
    """Every module the import loaded, with its own time and who imported it."""
    stderr = subprocess.run(
        [sys.executable, "-I", "-X", "importtime", "-c", _TIMER, str(folder), str(LAYER), module],
        env={**_base_environment(), **environment},
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    rows = []
    for line in stderr.splitlines():
        found = _IMPORTTIME.match(line)
        if found:
            rows.append((len(found.group(3)), found.group(4), int(found.group(1))))
    # -X importtime prints a module after the modules it imported, one level deeper each:
    # read backwards, a module's parent is the nearest earlier one less indented.
    profile: list[Imported] = []
    chain: list[tuple[int, str]] = []
    for depth, name, self_us in reversed(rows):
        while chain and chain[-1][0] >= depth:
            chain.pop()
        profile.append(Imported(name, self_us, [n for _, n in reversed(chain)]))
        chain.append((depth, name))
    return profile


_FAMILIES = {
    "pydantic_core": "pydantic",
    "annotated_types": "pydantic",
    "typing_inspection": "pydantic",
    "typing_extensions": "pydantic",
    "wrapt": "aws_xray_sdk",
    "charset_normalizer": "requests",
    "idna": "requests",
    "certifi": "requests",
}


def _is_stdlib(module: str) -> bool:
    return module.split(".")[0].lstrip("_") in sys.stdlib_module_names


def _group(module: str) -> str:
    """Modules by package (a library's helpers with it); the project's own by module
    (post_scheduler.models.requests), Powertools by subpackage."""
    parts = module.split(".")
    if parts[0] == "post_scheduler":
        return ".".join(parts[:3])
    if parts[0] == "aws_lambda_powertools":
        return "powertools." + parts[1] if len(parts) > 1 else "powertools"
    return _FAMILIES.get(parts[0], parts[0])


def _package_of(entry: Imported) -> str:
    """A library module's package; a standard module's is the library that imported it."""
    if not _is_stdlib(entry.name):
        return _group(entry.name)
    owner = next((a for a in entry.ancestors if not _is_stdlib(a) and a != "app"), None)
    return _group(owner) if owner else "stdlib"


def _our_import(entry: Imported) -> str:
    """The handler's or the layer package's module whose import statement pulled this in."""
    for name in [entry.name, *entry.ancestors]:
        if name == "app" or name.startswith("post_scheduler"):
            return _group(name) if name != "app" else "app (the handler itself)"
    return "?"


def _ranked(groups: dict[str, int], top: int) -> list[list[Any]]:
    ranked = sorted(groups.items(), key=lambda item: -item[1])[:top]
    return [[name, round(micros / 1000, 1)] for name, micros in ranked]


def extra_imports(profile: list[Imported], baseline: set[str], top: int = 5) -> dict[str, Any]:
    """What the handler imports beyond the bare handler, by package and by which of the
    project's own imports brought it in: [name, ms] pairs, heaviest first."""
    by_package: dict[str, int] = defaultdict(int)
    by_our_import: dict[str, int] = defaultdict(int)
    for entry in profile:
        if entry.name in baseline or entry.name == "app":
            continue
        by_package[_package_of(entry)] += entry.self_us
        by_our_import[_our_import(entry)] += entry.self_us
    return {
        "total_ms": round(sum(by_package.values()) / 1000, 1),
        "by_package": _ranked(by_package, top),
        "by_project_import": _ranked(by_our_import, top),
    }


def measure(rounds: int = 7, seed: int = 0) -> dict[str, Any]:
    """Each round visits every function in a shuffled order, timing the bare handler right
    before each one (a paired sample: both saw the same moment's machine load)."""
    targets = functions()
    bare_env = next(iter(targets.values()))[2] | {"_HANDLER": "app.lambda_handler"}
    bare_env["LAMBDA_TASK_ROOT"] = bare_env["LAMBDA_RUNTIME_DIR"] = str(BARE_FOLDER)
    bare = (BARE_FOLDER, "app", bare_env)

    load_before = load_average()
    time_import(*bare)  # warm-up: .pyc files, page cache
    for target in targets.values():
        time_import(*target)
    samples: dict[str, list[float]] = defaultdict(list)
    paired: dict[str, list[float]] = defaultdict(list)
    bare_samples: list[float] = []
    order = random.Random(seed)
    for _ in range(rounds):
        names = list(targets)
        order.shuffle(names)
        for name in names:
            baseline_seconds = time_import(*bare)
            seconds = time_import(*targets[name])
            bare_samples.append(baseline_seconds)
            samples[name].append(seconds)
            paired[name].append(seconds / baseline_seconds)

    bare_median = statistics.median(bare_samples)
    baseline = {entry.name for entry in import_profile(*bare)}
    results: dict[str, Any] = {}
    for name, times in samples.items():
        results[name] = {
            "folder": str(targets[name][0].relative_to(ROOT)),
            "module": targets[name][1],
            "median_ms": statistics.median(times) * 1000,
            "samples_ms": [t * 1000 for t in times],
            "ratio": statistics.median(times) / bare_median,
            "paired_ratios": paired[name],
            "ratio_of_minimums": min(times) / min(bare_samples),
            "extra": extra_imports(import_profile(*targets[name]), baseline),
        }
    return {
        "rounds": rounds,
        "goal_ratio": GOAL_RATIO,
        "bare_median_ms": bare_median * 1000,
        "bare_samples_ms": [t * 1000 for t in bare_samples],
        "functions": results,
        "load_average": [load_before, load_average()],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    options = parser.parse_args(argv)
    sys.path[:0] = [str(ROOT)]
    emit(measure(options.rounds))


if __name__ == "__main__":
    main()
