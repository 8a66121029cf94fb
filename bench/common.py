"""What the benchmark sections share: result rows, statistics, ports, section workers."""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "shared"

MET, MISSED, INFO = "met", "missed", "-"


@dataclass
class Row:
    """One line of the table: a figure, its goal and whether it was met."""

    section: str
    figure: str
    value: str
    goal: str = "-"
    status: str = INFO
    noise: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def verdict(ok: bool) -> str:
    return MET if ok else MISSED


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (p99 of 100 samples is the 99th smallest)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(fraction * len(ordered) - 1e-9)))
    return ordered[rank - 1]


def spread(values: list[float]) -> float:
    """(max - min) / median: how far apart repeated measurements of one figure were."""
    if len(values) < 2:
        return 0.0
    middle = statistics.median(values)
    return (max(values) - min(values)) / middle if middle else 0.0


def noise_text(values: list[float], unit: str = "") -> str:
    if len(values) < 2:
        return "single run"
    low, high = min(values), max(values)
    return f"n={len(values)}, range {low:.4g}-{high:.4g}{unit} (±{spread(values) * 50:.0f}%)"


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def emit(result: dict[str, Any]) -> None:
    """A section worker's answer: one JSON line, the last on stdout."""
    print(json.dumps(result, default=str), flush=True)


def run_section(module: str, *arguments: str, timeout: float = 900) -> dict[str, Any]:
    """Run `python -m bench.<module>` in a fresh process; its last stdout line is the result."""
    completed = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = completed.stdout.strip()
    if completed.returncode != 0 or not output:
        raise RuntimeError(
            f"bench.{module} exited with {completed.returncode}:\n"
            f"{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
        )
    try:
        result: dict[str, Any] = json.loads(output.splitlines()[-1])
    except ValueError:  # a worker that prints its JSON indented
        result = json.loads(output[output.index("{") :])
    return result
