"""Many posts due in the same second against a running local stack: were they all published
once, on time, and within the Lambda concurrency the stack emulates?

Start the stack with a limit, then run this against it:

    MIN_SCHEDULE_LEAD_SECONDS=30 LOCAL_LAMBDA_CONCURRENCY=6 make run
    DEMO_API_KEY_BASIC=... DEMO_API_KEY_PROFESSIONAL=... python -m bench.burst

(the keys `make run` printed; `--api` / `--stub` when the ports are not 3000 / 3001).

It creates 10 basic and 50 professional posts (at most 5 per TikTok account) for one whole
minute far enough ahead that the last create is done before any schedule fires, then waits
until every post ended and reports: the lag publishStartedAt - scheduled (p50 / p99 / max,
and how many started early), how many complete uploads the stand-in TikTok received per post,
the most concurrent Lambda executions after the creates, the publisher's billed GB-seconds
per post (from the stack's invocation record, `GET /_local/lambda`), and how fast the creates
went. Exit status 1 when a post was not published exactly once within a second of its time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

PUBLISHER = "PublisherFunction"


@dataclass(frozen=True)
class Target:
    api: str
    stub: str
    keys: dict[str, str]  # plan -> API key


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def _get_all(target: Target, plan: str, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params = {"limit": "100"}
    while True:
        for attempt in range(600):  # the API may be throttled while publishers hold the slots
            response = requests.get(
                f"{target.api}{path}",
                params=params,
                headers={"Authorization": f"Bearer {target.keys[plan]}"},
                timeout=60,
            )
            if response.status_code != 429:
                break
            time.sleep(min(2.0, 0.1 * (attempt + 1)))
        response.raise_for_status()
        body = response.json()
        items.extend(body["data"])
        if not body.get("nextToken"):
            return items
        params["next_token"] = body["nextToken"]


def _due_second(lead_seconds: int, create_seconds: int) -> datetime:
    """A whole minute (creators pick round times) whose schedules fire only after the creates:
    the old design fires each post's schedule in the minute before."""
    earliest = datetime.now(UTC) + timedelta(seconds=max(lead_seconds, 60) + create_seconds)
    return (earliest + timedelta(minutes=1)).replace(second=0, microsecond=0)


def plan_posts(
    target: Target, counts: dict[str, int], per_account: int
) -> list[tuple[str, str, list[str]]]:
    """(plan, account id, candidate video ids) for each post: at most `per_account` posts per
    TikTok account, the small videos first."""
    jobs: list[tuple[str, str, list[str]]] = []
    for plan, count in counts.items():
        videos = [v for v in _get_all(target, plan, "/api/v1/videos") if v["status"] == "ready"]
        videos.sort(key=lambda v: (v["sizeBytes"], v["id"]))
        accounts = sorted(a["id"] for a in _get_all(target, plan, "/api/v1/tiktok-accounts"))
        if len(accounts) * per_account < count:
            raise SystemExit(f"{plan}: {len(accounts)} accounts cannot take {count} posts")
        video_ids = [v["id"] for v in videos]
        for index in range(count):
            jobs.append((plan, accounts[index // per_account], video_ids))
    return jobs


def create_posts(
    target: Target, jobs: list[tuple[str, str, list[str]]], due: datetime, tag: str, threads: int
) -> dict[str, Any]:
    """Create the posts; a video that still has a pending post (409) is skipped for the next,
    a throttled request (429) is retried after a pause, as a client would."""
    free = {plan: list(videos) for plan, _, videos in jobs}
    lock = threading.Lock()
    throttled = 0

    def next_video(plan: str) -> str | None:
        with lock:
            return free[plan].pop(0) if free[plan] else None

    def create(number: int) -> tuple[bool, float]:
        nonlocal throttled
        plan, account, _ = jobs[number]
        started = time.perf_counter()
        while (video := next_video(plan)) is not None:
            body = {
                "videoId": video,
                "tiktokAccountId": account,
                "scheduledPublishTime": due.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "title": f"{tag} {plan} {number}",
            }
            for attempt in range(20):
                response = requests.post(
                    f"{target.api}/api/v1/schedule/create",
                    json=body,
                    headers={"Authorization": f"Bearer {target.keys[plan]}"},
                    timeout=60,
                )
                if response.status_code != 429:
                    break
                with lock:
                    throttled += 1
                time.sleep(0.2 * (attempt + 1))
            if response.status_code == 200:
                return True, time.perf_counter() - started
            if response.status_code != 409:  # 409: the video still has a pending post
                print(f"create refused: {response.status_code} {response.text[:200]}")
                return False, time.perf_counter() - started
        return False, time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(create, range(len(jobs))))
    elapsed = time.perf_counter() - started
    created = sum(1 for ok, _ in results if ok)
    return {
        "created": created,
        "create_seconds": elapsed,
        "creates_per_second": created / elapsed if elapsed else float("nan"),
        "create_p50_s": _percentile([s for _, s in results], 0.5),
        "create_429s": throttled,
    }


def wait_until_ended(
    target: Target, plans: list[str], tag: str, due: datetime, timeout: float
) -> list[dict[str, Any]]:
    time.sleep(max(0.0, due.timestamp() - time.time()))
    deadline = due.timestamp() + timeout
    mine: list[dict[str, Any]] = []
    while time.time() < deadline:
        mine = [
            item
            for plan in plans
            for item in _get_all(target, plan, "/api/v1/schedule/scheduled-videos")
            if str(item.get("title", "")).startswith(f"{tag} ")
        ]
        if mine and all(i["status"] in ("executed", "failed", "cancelled") for i in mine):
            break
        time.sleep(2)
    return mine


def run_burst(
    target: Target,
    counts: dict[str, int] | None = None,
    per_account: int = 5,
    lead_seconds: int = 30,
    threads: int = 4,
    timeout: float = 600,
) -> dict[str, Any]:
    counts = counts or {"basic": 10, "professional": 50}
    tag = f"burst-{uuid.uuid4().hex[:8]}"
    jobs = plan_posts(target, counts, per_account)
    due = _due_second(lead_seconds, create_seconds=max(20, len(jobs) // 2))
    creates = create_posts(target, jobs, due, tag, threads)
    if time.time() > due.timestamp() - 60:
        print("warning: the creates ran into the minute before the posts' time")
    requests.post(f"{target.api}/_local/lambda/reset", timeout=30).raise_for_status()
    measured_from = time.time()
    items = wait_until_ended(target, list(counts), tag, due, timeout)

    lags = [
        (_parse(i["publishStartedAt"]) - _parse(i["scheduledPublishTime"])).total_seconds()
        for i in items
        if i.get("publishStartedAt")
    ]
    received = [
        p
        for p in requests.get(f"{target.stub}/_inspect/posts", timeout=60).json()
        if str(p.get("title", "")).startswith(f"{tag} ")
    ]
    complete_per_title: dict[str, int] = {}
    for post in received:
        if post.get("complete"):
            complete_per_title[post["title"]] = complete_per_title.get(post["title"], 0) + 1
    lambda_figures = requests.get(
        f"{target.api}/_local/lambda", params={"since": str(measured_from)}, timeout=30
    ).json()
    publisher = lambda_figures["functions"].get(PUBLISHER, {})
    statuses = [i["status"] for i in items]
    executed = statuses.count("executed")
    return {
        "posts": len(jobs),
        "due": due.strftime("%Y-%m-%dT%H:%M:%SZ"),
        **creates,
        "executed": executed,
        "failed": statuses.count("failed"),
        "failure_reasons": sorted(
            {str(i.get("failureReason")) for i in items if i["status"] == "failed"}
        )[:5],
        "unfinished": len(jobs) - executed - statuses.count("failed"),
        "exactly_one_complete_upload": sum(1 for n in complete_per_title.values() if n == 1),
        "tiktok_publishes_received": len(received),
        "lag_p50_s": _percentile(lags, 0.50),
        "lag_p99_s": _percentile(lags, 0.99),
        "lag_max_s": max(lags, default=float("nan")),
        "early": sum(1 for lag in lags if lag < 0),
        "within_one_second": sum(1 for lag in lags if 0 <= lag <= 1.0),
        "lambda_limit": lambda_figures["accountLimit"],
        "max_concurrent_executions": lambda_figures["peakConcurrency"],
        "publisher_invocations": publisher.get("invocations", 0),
        "publisher_peak_concurrency": publisher.get("peakConcurrency", 0),
        "publisher_throttles": publisher.get("throttles", 0),
        "publisher_gb_seconds_per_post": publisher.get("gbSeconds", 0.0) / max(1, len(jobs)),
    }


def passed(figures: dict[str, Any]) -> bool:
    """Every post executed with exactly one complete upload, none early, all within 1 s."""
    posts = figures["posts"]
    return (
        figures["executed"] == posts
        and figures["exactly_one_complete_upload"] == posts
        and figures["tiktok_publishes_received"] == posts
        and figures["early"] == 0
        and figures["within_one_second"] == posts
    )


def launched_burst(concurrency: int = 6, lead_seconds: int = 30) -> dict[str, Any]:
    """`make bench`'s section: the burst against a fresh local stack (free ports) that emulates
    `concurrency` Lambda executions, beside the figures recorded for the design before."""
    import tempfile
    from pathlib import Path

    from local.launcher import launched_stack

    keys = {
        "free": "psk_bench_free_00000000000000000000000000",
        "basic": "psk_bench_basic_0000000000000000000000000",
        "professional": "psk_bench_professional_000000000000000000",
    }
    os.environ["LOCAL_LAMBDA_CONCURRENCY"] = str(concurrency)
    with (
        tempfile.TemporaryDirectory(prefix="bench-burst-") as folder,
        launched_stack(Path(folder) / "stack.log", keys, lead_seconds) as stack,
    ):
        figures = run_burst(Target(stack.api_url, stack.stub_url, keys), lead_seconds=lead_seconds)
    before = json.loads((Path(__file__).parent / "results" / "burst-before.json").read_text())
    return {"after": figures, "before": before, "passed": passed(figures)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--launch", action="store_true", help="start a stack of its own (make bench) and emit JSON"
    )
    parser.add_argument("--api", default=f"http://127.0.0.1:{os.environ.get('PORT', '3000')}")
    parser.add_argument(
        "--stub", default=f"http://127.0.0.1:{os.environ.get('TIKTOK_STUB_PORT', '3001')}"
    )
    parser.add_argument("--basic", type=int, default=10)
    parser.add_argument("--professional", type=int, default=50)
    parser.add_argument("--per-account", type=int, default=5)
    parser.add_argument(
        "--lead", type=int, default=int(os.environ.get("MIN_SCHEDULE_LEAD_SECONDS", "30"))
    )
    options = parser.parse_args(argv)
    if options.launch:
        print(json.dumps(launched_burst(lead_seconds=options.lead), default=str), flush=True)
        return
    keys = {
        plan: os.environ.get(f"DEMO_API_KEY_{plan.upper()}", "")
        for plan in ("basic", "professional")
    }
    if not all(keys.values()):
        raise SystemExit(
            "set DEMO_API_KEY_BASIC and DEMO_API_KEY_PROFESSIONAL (make run prints them)"
        )
    figures = run_burst(
        Target(options.api.rstrip("/"), options.stub.rstrip("/"), keys),
        {"basic": options.basic, "professional": options.professional},
        options.per_account,
        options.lead,
    )
    print(json.dumps(figures, indent=2))
    sys.exit(0 if passed(figures) else 1)


if __name__ == "__main__":
    main()
