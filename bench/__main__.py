"""`python -m bench` (`make bench`): every benchmark, one table, results in bench/results/.

Each section runs in a fresh process (see bench/README.md for what each figure means):
1. cold import of each function's handler vs a bare boto3 + json handler (bench.cold_import);
2. AWS API calls per request of each endpoint (bench.aws_calls);
3. local-stack throughput and latency of list and create under load (bench.local_stack load);
4. publish lag of 100 posts due in the same second, with schedules firing anywhere in their
   minute and every event delivered twice (bench.local_stack lag);
5. the publisher's upload against a plain PUT, its peak RSS and overhead (bench.publisher_upload);
6. 60 posts due in one second with 6 Lambda executions emulated, beside the design before
   (bench.burst).

    python -m bench [--quick] [--only imports,calls,load,lag,upload,burst]

A full run writes bench/results/latest.json and latest.md (commit them with a change that
moves a figure); --quick or --only write bench/results/scratch.* instead.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import INFO, MET, MISSED, ROOT, Row, load_average, run_section, verdict

RESULTS = ROOT / "bench" / "results"
SECTIONS = ("imports", "calls", "load", "lag", "upload", "burst")
TITLES = {
    "imports": "1. cold import",
    "calls": "2. AWS calls",
    "load": "3. local load",
    "lag": "4. publish lag",
    "upload": "5. upload",
    "burst": "6. burst at 6 executions",
}


def _ms(value: float) -> str:
    return f"{value:.0f} ms"


def _range(values: list[float], fmt: str = "{:.2f}", unit: str = "") -> str:
    if len(values) < 2:
        return "single run"
    return f"{len(values)} runs {fmt.format(min(values))}-{fmt.format(max(values))}{unit}"


# --- rows per section ------------------------------------------------------------------------


def import_rows(data: dict[str, Any]) -> list[Row]:
    section = TITLES["imports"]
    goal = data["goal_ratio"]
    bare = data["bare_median_ms"]
    rows = [
        Row(
            section,
            "bare handler (boto3 + json), median",
            _ms(bare),
            noise=_range(data["bare_samples_ms"], "{:.0f}", " ms"),
        )
    ]
    ordered = sorted(data["functions"].items(), key=lambda item: -item[1]["ratio"])
    for name, figures in ordered:
        ratio = figures["ratio"]
        paired = sorted(figures["paired_ratios"])
        notes = (
            f"paired runs {paired[0]:.2f}-{paired[-1]:.2f}x,"
            f" fastest/fastest {figures['ratio_of_minimums']:.2f}x"
        )
        if ratio > goal:
            heavy = ", ".join(f"{pkg} {ms:.0f}" for pkg, ms in figures["extra"]["by_package"][:4])
            notes += f"; beyond bare (ms, -X importtime): {heavy}"
        rows.append(
            Row(
                section,
                f"{name} import / bare",
                f"{ratio:.2f}x ({_ms(figures['median_ms'])})",
                f"<= {goal}x",
                verdict(ratio <= goal),
                notes,
            )
        )
    return rows


def _short(call: str) -> str:
    return call.split(".", 1)[1] if "." in call else call


def call_rows(data: dict[str, Any]) -> list[Row]:
    section = TITLES["calls"]
    rows = []
    # The authorizer first (it runs before every endpoint when API Gateway has no answer cached).
    paths = sorted(data["paths"], key=lambda path: path["endpoint"] != "authorizer")
    for path in paths:
        calls = ", ".join(_short(c) for c in path["calls"]) or "none"
        goal = path["goal"]
        rows.append(
            Row(
                section,
                path["path"],
                f"{path['count']}: {calls}",
                "-" if goal is None else f"<= {goal}",
                INFO if goal is None else verdict(path["met"]),
                "exact count (deterministic)",
            )
        )
    return rows


def load_rows(data: dict[str, Any]) -> list[Row]:
    section = TITLES["load"]
    rows = []
    labels = {
        "list": f"list ({data['list']['threads']} clients, {data['listed_posts']} posts a page)",
        "create": f"create ({data['create']['threads']} clients, each then deletes its post)",
        "delete_between_creates": "delete (between those creates)",
    }
    for key, label in labels.items():
        figures = data[key]
        windows = figures["rps_by_window"]
        rows.append(
            Row(
                section,
                label,
                f"{figures['rps']:.1f} req/s, p50 {_ms(figures['p50_ms'])},"
                f" p99 {_ms(figures['p99_ms'])}, {figures['errors']} errors"
                f" of {figures['requests']}",
                "no errors",
                verdict(figures["errors"] == 0),
                f"{figures['seconds']:.0f} s in {len(windows)} windows:"
                f" {min(windows):.1f}-{max(windows):.1f} req/s",
            )
        )
    return rows


def lag_rows(data: dict[str, Any]) -> list[Row]:
    section = TITLES["lag"]
    posts = data["posts"]
    context = (
        f"single run; {data['created']} created in {data['create_seconds']:.1f} s,"
        f" {data['lead_left_seconds']:.0f} s before due; load {data['load_average'][0]}"
    )
    worst = ""
    if "jitter_seconds" in data:  # figures from before the jitter existed lack these
        worst = (
            f"; jitter {data['jitter_seconds']:g} s (schedules fired"
            f" {data['fire_offset_min_s']:.1f}-{data['fire_offset_max_s']:.1f} s into their"
            f" minute), duplicate delivery {data['duplicate_delivery']:g}"
            f" ({data['publisher_events_delivered_twice']} publisher events came twice),"
            f" seed {data['seed']}"
        )
    rows = [
        Row(
            section,
            f"lag = publishStartedAt - scheduledPublishTime ({posts} posts, same second"
            + (", jitter on)" if data.get("jitter_seconds") else ")"),
            f"p50 {data['lag_p50_s']:.3f} s, p99 {data['lag_p99_s']:.3f} s,"
            f" max {data['lag_max_s']:.3f} s ({data['started']} started)",
            "p99 <= 1 s",
            verdict(data["started"] == posts and data["lag_p99_s"] <= 1.0),
            context + worst,
        ),
        Row(
            section,
            "posts executed",
            f"{data['executed']} executed, {data['failed']} failed,"
            f" {data['unfinished']} unfinished; TikTok got {data['tiktok_posts_complete']}"
            f" complete; all ended {data['all_ended_after_due_s']:.0f} s after due",
            f"{posts} executed",
            verdict(data["executed"] == posts),
            f"{data['stack_errors_logged']} errors in the stack's log",
        ),
    ]
    if "tiktok_posts_per_post_max" in data:
        once = (
            data["tiktok_posts_received"] == posts
            and data["tiktok_posts_complete"] == posts
            and data["tiktok_posts_per_post_max"] == 1
        )
        rows.append(
            Row(
                section,
                "TikTok posts per scheduled post (every event delivered"
                f" {'twice' if data['duplicate_delivery'] >= 1 else 'maybe twice'})",
                f"{data['tiktok_posts_received']} received for {posts} posts,"
                f" at most {data['tiktok_posts_per_post_max']} per post",
                "exactly 1 each",
                verdict(once),
                f"{data['publisher_events_delivered_twice']} publisher events delivered twice",
            )
        )
    return rows


def upload_rows(data: dict[str, Any]) -> list[Row]:
    section = TITLES["upload"]
    read_wait = data.get("publisher_read_wait_seconds")
    where = (
        f"publisher upload {data['publisher_upload_seconds']:.2f} s: checkpoints"
        f" {data['publisher_checkpoint_seconds']:.2f} s"
        + ("" if read_wait is None else f", waiting for S3 {read_wait:.2f} s")
        + f"; plain {data['plain_upload_seconds']:.2f} s"
    )
    goal_rss = data["rss_goal_mb"]
    return [
        Row(
            section,
            f"upload throughput publisher / plain PUT ({data['size_mb']} MB)",
            f"{data['ratio']:.2f} ({data['publisher_mb_per_s']:.0f} vs"
            f" {data['plain_mb_per_s']:.0f} MB/s)",
            ">= 0.9",
            verdict(data["ratio"] >= 0.9 and data["publisher_result"] == "executed"),
            _range(data["ratio_by_run"]) + "; " + where,
        ),
        Row(
            section,
            "publisher peak RSS",
            f"{data['publisher_peak_rss_mb']:.1f} MB (upload added"
            f" {data['publisher_rss_growth_mb']:.1f} MB)",
            f"<= {goal_rss:.0f} MB (10 MiB chunk + 64 MB)",
            verdict(data["publisher_peak_rss_mb"] <= goal_rss),
            _range(data["publisher_peak_rss_mb_by_run"], "{:.1f}", " MB"),
        ),
        Row(
            section,
            "publisher overhead, start to init request",
            _ms(data["overhead_to_init_ms"]),
            "-",
            INFO,
            _range(data["overhead_to_init_ms_by_run"], "{:.0f}", " ms"),
        ),
    ]


def burst_rows(data: dict[str, Any]) -> list[Row]:
    section = TITLES["burst"]
    now, before = data["after"], data["before"]
    posts = now["posts"]

    def lag(figures: dict[str, Any]) -> str:
        return (
            f"p50 {figures['lag_p50_s']:.2f} s, p99 {figures['lag_p99_s']:.2f} s,"
            f" max {figures['lag_max_s']:.2f} s"
        )

    waiting = before["publisher_gb_seconds_per_post_unthrottled"]
    return [
        Row(
            section,
            f"lag publishStartedAt - scheduled ({posts} posts, one second)",
            lag(now),
            "p99 <= 1 s, none early",
            verdict(now["lag_p99_s"] <= 1.0 and now["early"] == 0),
            f"before: {lag(before)}; {now['early']} early, {now['within_one_second']}"
            f" within 1 s (before {before['within_one_second']})",
        ),
        Row(
            section,
            "posts executed, each one complete upload at TikTok",
            f"{now['executed']} executed, {now['exactly_one_complete_upload']} exactly once,"
            f" {now['failed']} failed",
            f"{posts}",
            verdict(now["executed"] == posts and now["exactly_one_complete_upload"] == posts),
            f"before: {before['executed']} executed",
        ),
        Row(
            section,
            "most concurrent executions (limit 6) / publisher invocations",
            f"{now['max_concurrent_executions']} / {now['publisher_invocations']}",
            "<= 6",
            verdict(now["max_concurrent_executions"] <= 6),
            f"before: {before['max_concurrent_executions']} / {before['publisher_invocations']}"
            f" ({before['publisher_throttles']} throttled attempts; unlimited: 60 at once)",
        ),
        Row(
            section,
            "publisher billed GB-s per post",
            f"{now['publisher_gb_seconds_per_post']:.2f}",
            f"<= {waiting / 10:.1f} (10x below {waiting:.1f})",
            verdict(now["publisher_gb_seconds_per_post"] <= waiting / 10),
            f"before: {waiting:.1f} unthrottled (each post waits a minute),"
            f" {before['publisher_gb_seconds_per_post']:.1f} at 6 executions",
        ),
        Row(
            section,
            "creates per second (4 clients, sharded due index)",
            f"{now['creates_per_second']:.1f}/s, p50 {now['create_p50_s'] * 1000:.0f} ms",
            "-",
            INFO,
            f"before (one due partition): {before['creates_per_second']:.1f}/s; moto has no"
            " partition limits, see docs/scale.md",
        ),
    ]


# --- running ---------------------------------------------------------------------------------


def plan(quick: bool) -> dict[str, tuple[str, list[str], Any]]:
    """Section -> (module, arguments, row builder), sized for a few minutes in all."""
    return {
        "imports": ("cold_import", ["--rounds", "3" if quick else "7"], import_rows),
        "calls": ("aws_calls", [], call_rows),
        "load": (
            "local_stack",
            ["load", "--seconds", "6" if quick else "20", "--windows", "3" if quick else "4"],
            load_rows,
        ),
        "lag": ("local_stack", ["lag", "--posts", "100"], lag_rows),
        "upload": (
            "publisher_upload",
            ["--size-mb", "512", "--repeats", "1" if quick else "3"],
            upload_rows,
        ),
        "burst": ("burst", ["--launch"], burst_rows),
    }


def metadata(started: float, quick: bool, sections: list[str]) -> dict[str, Any]:
    def git(*arguments: str) -> str:
        executable = shutil.which("git")
        if executable is None:
            return "unknown"
        try:
            return subprocess.run(
                [executable, *arguments],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "unknown"

    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git_commit": git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "mode": "quick" if quick else "full",
        "sections": sections,
        "load_average_start": load_average(),
    }


def markdown(meta: dict[str, Any], rows: list[Row]) -> str:
    dirty = " (with uncommitted changes)" if meta["git_dirty"] else ""
    lines = [
        "# Benchmark results",
        "",
        f"{meta['date']} · commit {meta['git_commit']}{dirty} · Python {meta['python']}"
        f" · {meta['cores']} cores ({meta['machine']}) · {meta['mode']} run in"
        f" {meta['runtime_seconds']:.0f} s · load average {meta['load_average_start']}"
        f" at start, {meta['load_average_end']} at end",
        "",
        "Made by `make bench` (`python -m bench`); what each figure means: bench/README.md.",
        "",
        "| section | figure | value | goal | status | spread / notes |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [row.section, row.figure, row.value, row.goal, row.status, row.noise]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    met = sum(1 for r in rows if r.status == MET)
    missed = [r for r in rows if r.status == MISSED]
    errors = [r for r in rows if r.status == "error"]
    failed = f", {len(errors)} sections failed" if errors else ""
    lines += ["", f"Goals: {met} met, {len(missed)} missed{failed}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller workloads (~2 minutes)")
    parser.add_argument("--only", help=f"comma-separated sections of {','.join(SECTIONS)}")
    options = parser.parse_args(argv)
    sections = options.only.split(",") if options.only else list(SECTIONS)
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    started = time.time()
    meta = metadata(started, options.quick, sections)
    rows: list[Row] = []
    raw: dict[str, Any] = {}
    steps = plan(options.quick)
    for section in sections:
        module, arguments, build = steps[section]
        began = time.time()
        print(f"[bench] {TITLES[section]} ...", file=sys.stderr, flush=True)
        try:
            data = run_section(module, *arguments)
        except Exception as error:  # one section's failure still leaves the others' figures
            message = str(error).strip().splitlines()
            rows.append(Row(TITLES[section], "section failed", message[0][:200], "-", "error"))
            raw[section] = {"error": str(error)[-4000:]}
            print(f"[bench] {TITLES[section]} failed:\n{error}", file=sys.stderr, flush=True)
            continue
        raw[section] = data
        rows.extend(build(data))
        print(f"[bench] {TITLES[section]} done in {time.time() - began:.0f} s", file=sys.stderr)
    meta["runtime_seconds"] = time.time() - started
    meta["load_average_end"] = load_average()
    table = markdown(meta, rows)
    print(table)
    complete = not options.quick and sections == list(SECTIONS)
    name = "latest" if complete else "scratch"
    RESULTS.mkdir(parents=True, exist_ok=True)
    document = {"meta": meta, "rows": [r.as_dict() for r in rows], "raw": raw}
    (RESULTS / f"{name}.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    (RESULTS / f"{name}.md").write_text(table)
    print(f"written: {Path('bench/results') / name}.json and .md", file=sys.stderr)
    return 1 if any(r.status == "error" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
