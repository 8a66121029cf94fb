"""Benchmarks against the local stack (`python -m local`), started as a subprocess on free
ports for each run with fixed demo keys, and stopped at the end. The clients are threads of
this process speaking HTTP on loopback.

- `load`: throughput and p50/p99 latency of list and create under concurrent clients. List:
  the professional demo user with 20 pending posts, default page. Create: each client thread
  owns its own demo videos and deletes each post right after creating it (the video is free
  again and the plan's 50 pending are never reached); the deletes are timed too, but only
  the creates count as the create figures. A warm-up (the stack loads one handler instance
  per concurrent request, as Lambda starts one environment each) is left out, and the timed
  run is cut into windows whose spread shows how noisy the figure is.
- `lag`: 100 posts due in the same second, with the stack as AWS at its worst: schedules fire
  at a random offset in their minute (jitter 59 s) and every asynchronous event is delivered
  twice (`--duplicates`, default 1). The professional and the basic demo user together
  have 120 videos; the basic user is moved to the professional plan first with the operators'
  command line (`python -m post_scheduler.admin set-plan demo-basic --plan professional`
  against the stack's moto server), so each of them can hold 50 pending posts. All 100 are
  created for one whole second in the first minute that starts after they are all created (so
  each schedule's minute, the one before, lies wholly before it, as with the deployed 15-minute
  minimum lead), then the list endpoint is polled until each is executed or failed;
  lag = publishStartedAt - scheduledPublishTime of each item.

    python -m bench.local_stack load [--seconds 20] [--threads 8]
    python -m bench.local_stack lag [--posts 100] [--jitter 59] [--duplicates 1]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from bench.common import LAYER, emit, load_average, percentile
from local.launcher import RunningStack, launched_stack

DEMO_KEYS = {
    "free": "psk_bench_free_00000000000000000000000000",
    "basic": "psk_bench_basic_0000000000000000000000000",
    "professional": "psk_bench_professional_000000000000000000",
}
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def local_stack(
    min_lead_seconds: int = 5, settings: Mapping[str, str] | None = None
) -> Iterator[RunningStack]:
    """`python -m local` on free ports (with `settings` in its environment), ready to serve;
    stopped after (its log kept in BENCH_KEEP_LOGS when that is set)."""
    with tempfile.TemporaryDirectory(prefix="bench-stack-") as folder:
        log_path = Path(folder) / "stack.log"
        try:
            with launched_stack(log_path, DEMO_KEYS, min_lead_seconds, settings=settings) as stack:
                yield stack
        finally:
            keep = os.environ.get("BENCH_KEEP_LOGS")
            if keep:
                Path(keep).mkdir(parents=True, exist_ok=True)
                shutil.copy(log_path, Path(keep) / f"stack-{log_path.stat().st_ino}.log")


# --- API helpers -----------------------------------------------------------------------------


def _headers(plan: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {DEMO_KEYS[plan]}", "Content-Type": "application/json"}


def _all_pages(stack: RunningStack, path: str, plan: str, **query: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, str] = {"limit": "100", **query}
    while True:
        response = requests.get(stack.url(path), headers=_headers(plan), params=params, timeout=30)
        response.raise_for_status()
        body = response.json()
        items.extend(body["data"])
        if not body.get("nextToken"):
            return items
        params["next_token"] = body["nextToken"]


def demo_assets(stack: RunningStack, plan: str) -> tuple[list[str], str]:
    """The plan's demo user's ready videos (ids, sorted) and one of its TikTok account ids."""
    videos, accounts = demo_videos_and_accounts(stack, plan)
    return videos, accounts[0]


def demo_videos_and_accounts(stack: RunningStack, plan: str) -> tuple[list[str], list[str]]:
    """The plan's demo user's ready videos and TikTok accounts (ids, sorted)."""
    videos = sorted(v["id"] for v in _all_pages(stack, "/api/v1/videos", plan))
    accounts = sorted(a["id"] for a in _all_pages(stack, "/api/v1/tiktok-accounts", plan))
    return videos, accounts


def publish_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def create_body(video: str, account: str, when: datetime, title: str) -> dict[str, Any]:
    return {
        "videoId": video,
        "tiktokAccountId": account,
        "scheduledPublishTime": publish_time(when),
        "title": title,
    }


# --- concurrent load -------------------------------------------------------------------------


@dataclass
class Sample:
    kind: str
    started: float
    seconds: float
    ok: bool


@dataclass
class LoadRun:
    threads: int
    seconds: float
    windows: int
    samples: list[Sample] = field(default_factory=list)
    started: float = 0.0

    def figures(self, kind: str) -> dict[str, Any]:
        mine = [s for s in self.samples if s.kind == kind]
        good = [s.seconds * 1000 for s in mine if s.ok]
        width = self.seconds / self.windows
        per_window = [
            sum(1 for s in mine if i * width <= s.started - self.started < (i + 1) * width) / width
            for i in range(self.windows)
        ]
        return {
            "requests": len(mine),
            "errors": sum(1 for s in mine if not s.ok),
            "rps": len(mine) / self.seconds,
            "rps_by_window": per_window,
            "p50_ms": percentile(good, 0.50),
            "p99_ms": percentile(good, 0.99),
            "max_ms": max(good, default=float("nan")),
            "threads": self.threads,
            "seconds": self.seconds,
        }


def run_load(
    threads: int,
    seconds: float,
    windows: int,
    step: Callable[[int, requests.Session], list[Sample]],
    warmup_steps: int = 3,
) -> LoadRun:
    """`threads` clients each run `step` in a loop: warm-up steps first (not counted), then,
    all together, for `seconds`."""
    run = LoadRun(threads, seconds, windows)
    ready = threading.Barrier(threads + 1)
    go = threading.Event()
    lock = threading.Lock()

    def client(index: int) -> None:
        session = requests.Session()
        for _ in range(warmup_steps):
            step(index, session)
        ready.wait()
        go.wait()
        end = run.started + seconds
        mine: list[Sample] = []
        while time.perf_counter() < end:
            mine.extend(step(index, session))
        with lock:
            run.samples.extend(s for s in mine if s.started < end)

    workers = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    ready.wait(timeout=300)
    run.started = time.perf_counter()
    go.set()
    for worker in workers:
        worker.join(seconds + 120)
    return run


def timed(kind: str, call: Callable[[], requests.Response]) -> tuple[Sample, Any]:
    started = time.perf_counter()
    try:
        response = call()
        ok = response.status_code == 200
        body = response.json() if ok else None
    except (requests.RequestException, ValueError):
        ok, body = False, None
    return Sample(kind, started, time.perf_counter() - started, ok), body


def measure_load(threads: int, seconds: float, windows: int) -> dict[str, Any]:
    load_before = load_average()
    with local_stack() as stack:
        videos, account = demo_assets(stack, "professional")
        headers = _headers("professional")
        far = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
        # The list shows 20 pending posts (one page); creates use the other videos.
        listed, free = videos[-20:], videos[:-20]
        for index, video in enumerate(listed):
            response = requests.post(
                stack.url("/api/v1/schedule/create"),
                json=create_body(video, account, far + timedelta(minutes=index), f"listed {index}"),
                headers=headers,
                timeout=30,
            )
            response.raise_for_status()

        list_url = stack.url("/api/v1/schedule/scheduled-videos")

        def list_step(index: int, session: requests.Session) -> list[Sample]:
            sample, _ = timed("list", lambda: session.get(list_url, headers=headers, timeout=30))
            return [sample]

        list_run = run_load(threads, seconds, windows, list_step)

        per_thread = len(free) // threads
        counters = [0] * threads
        create_url = stack.url("/api/v1/schedule/create")

        def create_step(index: int, session: requests.Session) -> list[Sample]:
            counters[index] += 1
            count = counters[index]
            video = free[index * per_thread + count % per_thread]
            when = far + timedelta(hours=1 + index, seconds=count)
            body = create_body(video, account, when, f"bench {index}-{count}")
            created, data = timed(
                "create", lambda: session.post(create_url, json=body, headers=headers, timeout=30)
            )
            if data is None:
                return [created]
            schedule = stack.url(f"/api/v1/schedule/{data['data']['scheduleId']}")
            deleted, _ = timed(
                "delete", lambda: session.delete(schedule, headers=headers, timeout=30)
            )
            return [created, deleted]

        create_run = run_load(threads, seconds, windows, create_step)
    return {
        "list": list_run.figures("list"),
        "create": create_run.figures("create"),
        "delete_between_creates": create_run.figures("delete"),
        "listed_posts": len(listed),
        "load_average": [load_before, load_average()],
    }


# --- publish lag -----------------------------------------------------------------------------


def _admin(stack: RunningStack, *arguments: str) -> str:
    import boto3

    dynamodb = boto3.client("dynamodb", endpoint_url=stack.moto_url, **_boto_fakes())
    # The scheduling table (logical id `Table`), not the idempotency table beside it.
    (table,) = [name for name in dynamodb.list_tables()["TableNames"] if name.endswith("-Table")]
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        **FAKE_AWS,
        "AWS_ENDPOINT_URL": stack.moto_url,
        "PYTHONPATH": str(LAYER),
    }
    return subprocess.run(
        [sys.executable, "-m", "post_scheduler.admin", "--table", table, *arguments],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _boto_fakes() -> dict[str, str]:
    return {
        "region_name": "us-east-1",
        "aws_access_key_id": "local",
        "aws_secret_access_key": "local",
    }


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


# A schedule targeting a function logs its drawn offset; one targeting the publish queue only
# how late it fired, which is that offset plus the loop's own delay.
_FIRED = re.compile(r"fired \(at\(.*?, ([\d.]+) s after its time(?:; offset ([\d.]+) s)?\)")
# A publisher event delivered twice: asynchronously, or as an SQS message left on the queue.
_TWICE = re.compile(r"PublisherFunction: (?:event of|SQS message \S+ will be delivered again)")


def measure_lag(
    posts: int = 100,
    threads: int = 8,
    margin_seconds: int = 30,
    jitter_seconds: float = 59,
    duplicates: float = 1.0,
) -> dict[str, Any]:
    """`posts` posts due in one second, half for each of two professional users."""
    load_before = load_average()
    lead = 5
    seed = os.environ.get("LOCAL_SCHEDULER_SEED") or str(random.randrange(10**9))
    settings = {
        "LOCAL_SCHEDULER_JITTER_SECONDS": f"{jitter_seconds:g}",
        "LOCAL_DUPLICATE_DELIVERY": f"{duplicates:g}",
        "LOCAL_SCHEDULER_SEED": seed,
    }
    with local_stack(min_lead_seconds=lead, settings=settings) as stack:
        _admin(stack, "set-plan", "demo-basic", "--plan", "professional")
        users = {plan: demo_videos_and_accounts(stack, plan) for plan in ("professional", "basic")}
        per_user = math.ceil(posts / len(users))
        # Creating takes well under the margin; the posts' minute starts after that.
        now = datetime.now(UTC)
        created_by = now + timedelta(seconds=margin_seconds)
        next_minute = created_by.replace(second=0, microsecond=0) + timedelta(minutes=1)
        due = max(created_by.replace(microsecond=0) + timedelta(seconds=lead + 1), next_minute)
        # Spread over each user's accounts: TikTok takes 6 posts a minute per account (the
        # create refuses a seventh for the same minute).
        jobs = [
            (plan, create_body(video, accounts[index % len(accounts)], due, f"lag {plan} {index}"))
            for plan, (videos, accounts) in users.items()
            for index, video in enumerate(videos[1 : per_user + 1])  # not the 21 MB video
        ][:posts]

        def create(job: tuple[str, dict[str, Any]]) -> tuple[int, str]:
            plan, body = job
            response = requests.post(
                stack.url("/api/v1/schedule/create"), json=body, headers=_headers(plan), timeout=60
            )
            return response.status_code, response.text[:200]

        started = time.time()
        with ThreadPoolExecutor(threads) as pool:
            answers = list(pool.map(create, jobs))
        created_by = time.time()
        refused = [text for status, text in answers if status != 200]

        # Wait for the due second, then until every post has ended (or a time limit).
        deadline = due.timestamp() + 240
        time.sleep(max(0.0, due.timestamp() - time.time()))
        items: list[dict[str, Any]] = []
        while time.time() < deadline:
            items = [
                item
                for plan in users
                for item in _all_pages(stack, "/api/v1/schedule/scheduled-videos", plan)
                if item.get("title", "").startswith("lag ")
            ]
            if items and all(item["status"] in ("executed", "failed") for item in items):
                break
            time.sleep(2)
        ended_by = time.time()
        lags = [
            (_parse(i["publishStartedAt"]) - _parse(i["scheduledPublishTime"])).total_seconds()
            for i in items
            if i.get("publishStartedAt")
        ]
        durations = [
            (_parse(i["executedAt"]) - _parse(i["publishStartedAt"])).total_seconds()
            for i in items
            if i.get("executedAt") and i.get("publishStartedAt")
        ]
        stub_posts = requests.get(f"{stack.stub_url}/_inspect/posts", timeout=30).json()
        log = stack.log_path.read_text(errors="replace")
    fired = [float(offset or late) for late, offset in _FIRED.findall(log)]
    statuses = [item["status"] for item in items]
    per_title: dict[str, int] = {}
    for post in stub_posts:
        per_title[post.get("title", "")] = per_title.get(post.get("title", ""), 0) + 1
    return {
        "jitter_seconds": jitter_seconds,
        "duplicate_delivery": duplicates,
        "seed": seed,
        "fire_offset_min_s": min(fired, default=float("nan")),
        "fire_offset_max_s": max(fired, default=float("nan")),
        "publisher_events_delivered_twice": len(_TWICE.findall(log)),
        "tiktok_posts_per_post_max": max(per_title.values(), default=0),
        "posts": len(jobs),
        "created": len(jobs) - len(refused),
        "refused": refused[:5],
        "create_seconds": created_by - started,
        "lead_left_seconds": due.timestamp() - created_by,
        "executed": statuses.count("executed"),
        "failed": statuses.count("failed"),
        "unfinished": len(statuses) - statuses.count("executed") - statuses.count("failed"),
        "failure_reasons": sorted({str(i["failureReason"]) for i in items if "failureReason" in i}),
        "started": len(lags),
        "lag_p50_s": percentile(lags, 0.50),
        "lag_p99_s": percentile(lags, 0.99),
        "lag_max_s": max(lags, default=float("nan")),
        "lag_min_s": min(lags, default=float("nan")),
        "publish_duration_p50_s": statistics.median(durations) if durations else None,
        "publish_duration_max_s": max(durations, default=None),
        "all_ended_after_due_s": ended_by - due.timestamp(),
        "tiktok_posts_received": len(stub_posts),
        "tiktok_posts_complete": sum(1 for post in stub_posts if post.get("complete")),
        "schedules_fired": len(fired),
        "stack_errors_logged": sum(
            1 for line in log.splitlines() if " ERROR " in line or "Traceback" in line
        ),
        "load_average": [load_before, load_average()],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmark", choices=["load", "lag"])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--windows", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--posts", type=int, default=100)
    parser.add_argument("--jitter", type=float, default=59.0, help="lag: firing offsets, s")
    parser.add_argument("--duplicates", type=float, default=1.0, help="lag: chance of twice")
    options = parser.parse_args(argv)
    if options.benchmark == "load":
        emit(measure_load(options.threads, options.seconds, options.windows))
    else:
        emit(
            measure_lag(
                options.posts,
                options.threads,
                jitter_seconds=options.jitter,
                duplicates=options.duplicates,
            )
        )


if __name__ == "__main__":
    main()
