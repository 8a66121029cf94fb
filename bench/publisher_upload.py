"""Publisher upload benchmark: a large video through the publisher's streaming path (ranged S3
reads from moto's server -> chunked PUTs to the stand-in TikTok) against a plain PUT of the
same bytes, chunk for chunk, from memory to the same server, in one run.

Each side runs in a fresh process so its peak RSS is its own. Figures:
- throughput of both and their ratio (goal >= 0.9);
- the publisher process's peak RSS (goal <= one chunk + 64 MB);
- publisher overhead from the start of `publish` to the init request (no wait: the post is due).

    python -m bench.publisher_upload [--size-mb 512] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from local.launcher import free_ports

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
CHUNK = 10 * MIB


def _wait_for(url: str, timeout: float = 30) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def _environment(moto_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "shared"), str(ROOT)]),
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_NAMESPACE": "Bench",
    }


@contextmanager
def _servers() -> Iterator[tuple[str, str, dict[str, str]]]:
    """moto's server and the stand-in TikTok, each in its own process."""
    moto_port, stub_port = free_ports(2)
    moto_url, stub_url = f"http://127.0.0.1:{moto_port}", f"http://127.0.0.1:{stub_port}"
    env = _environment(moto_url)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
            **quiet,  # type: ignore[call-overload]
        ),
        subprocess.Popen(
            [sys.executable, "-m", "local.tiktok", "--port", str(stub_port)],
            cwd=ROOT,
            **quiet,  # type: ignore[call-overload]
        ),
    ]
    try:
        _wait_for(f"{moto_url}/moto-api/")
        _wait_for(f"{stub_url}/_inspect/posts")
        yield moto_url, stub_url, env
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


def _pattern_block() -> bytes:
    return os.urandom(MIB)


def _setup(moto_url: str, stub_url: str, size: int, posts: int = 1) -> dict[str, Any]:
    """Provision the template in moto, store the video, connect a stand-in account, and write
    `posts` posts that are due now (bench-post-1.., each with its own video record of the same
    stored file)."""
    os.environ.update(_environment(moto_url))
    sys.path[:0] = [str(ROOT / "layers" / "shared"), str(ROOT)]
    import boto3
    import requests

    from local.aws.provision import function_environments, provision
    from local.aws.template import Template
    from post_scheduler.adapters.table import SchedulingTable
    from post_scheduler.adapters.token_cipher import TokenCipher
    from post_scheduler.models.records import (
        ScheduleRecord,
        TikTokAccountRecord,
        UserRecord,
        VideoRecord,
    )

    template = provision(Template.load(parameters={"TikTokApiBaseUrl": stub_url}))
    env = function_environments(template)["PublisherFunction"]
    table = SchedulingTable(env["TABLE_NAME"], boto3.client("dynamodb"))
    s3 = boto3.client("s3")
    key = "videos/bench-user/bench-video.mp4"
    block = _pattern_block()
    upload = s3.create_multipart_upload(
        Bucket=env["VIDEO_BUCKET"], Key=key, ContentType="video/mp4"
    )
    parts, offset, number = [], 0, 1
    while offset < size:
        length = min(64 * MIB, size - offset)
        body = (block * (length // MIB + 1))[:length]
        etag = s3.upload_part(
            Bucket=env["VIDEO_BUCKET"], Key=key, PartNumber=number,
            UploadId=upload["UploadId"], Body=body,
        )["ETag"]  # fmt: skip
        parts.append({"PartNumber": number, "ETag": etag})
        offset, number = offset + length, number + 1
    s3.complete_multipart_upload(
        Bucket=env["VIDEO_BUCKET"], Key=key, UploadId=upload["UploadId"],
        MultipartUpload={"Parts": parts},
    )  # fmt: skip

    control = f"{stub_url}/_control"
    creator = {"open_id": "bench", "username": "bench", "display_name": "Bench"}
    requests.post(control, json={"action": "add_creator", **creator}, timeout=10)
    tokens = requests.post(
        control, json={"action": "issue_tokens", "open_id": "bench"}, timeout=10
    ).json()
    tokens = tokens.get("result", tokens)
    boto3.client("ssm").put_parameter(
        Name=env["TIKTOK_CLIENT_PARAMETER"], Type="SecureString", Overwrite=True,
        Value=json.dumps({"clientKey": "stub-client-key", "clientSecret": "stub-client-secret"}),
    )  # fmt: skip
    now = datetime.now(UTC)
    cipher = TokenCipher(env["TOKEN_KMS_KEY_ID"], boto3.client("kms"))
    table.put_user(UserRecord(userId="bench-user", plan="professional", pendingCount=posts,
                              createdAt=now))  # fmt: skip
    table.put_account(
        TikTokAccountRecord(
            accountId="bench-account",
            userId="bench-user",
            openId="bench",
            createdAt=now,
            accessTokenCipher=cipher.encrypt(tokens["access_token"], "bench-account", "access"),
            refreshTokenCipher=cipher.encrypt(tokens["refresh_token"], "bench-account", "refresh"),
            accessTokenExpiresAt=now + timedelta(days=1),
            refreshTokenExpiresAt=now + timedelta(days=300),
        )
    )
    from post_scheduler.adapters.table import schedule_item

    for number in range(1, posts + 1):
        post_id, video_id = f"bench-post-{number}", f"bench-video-{number}"
        video = VideoRecord(
            videoId=video_id, userId="bench-user", sizeBytes=size, s3Key=key, createdAt=now,
            pendingScheduleId=post_id,
        )  # fmt: skip
        table.put_video(video)
        post = ScheduleRecord(
            scheduleId=post_id, userId="bench-user", videoId=video_id,
            tiktokAccountId="bench-account", scheduledPublishTime=now, status="pending",
            createdAt=now, updatedAt=now, title="bench",
        )  # fmt: skip
        table.client.put_item(TableName=table.name, Item=schedule_item(post))
    return {"env": env, "access_token": tokens["access_token"]}


# --- workers (fresh processes) --------------------------------------------------------------


def _memory_mb(field: str) -> float:
    """VmHWM (peak) or VmRSS (now) of this process. Not ru_maxrss: Linux carries that across
    exec, so a worker would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _peak_rss_mb() -> float:
    return _memory_mb("VmHWM")


def _worker_publisher(post_id: str) -> dict[str, Any]:
    from post_scheduler import wiring
    from post_scheduler.domain.publishing import PublishCommand

    publisher = wiring.post_publisher()
    marks: dict[str, float] = {}
    init, upload = publisher.tiktok.init_direct_post, publisher.tiktok.upload_chunk

    def timed_init(*args: Any, **kwargs: Any) -> Any:
        marks["init"] = time.perf_counter()
        return init(*args, **kwargs)

    def timed_upload(*args: Any, **kwargs: Any) -> Any:
        marks.setdefault("upload_start", time.perf_counter())
        result = upload(*args, **kwargs)
        marks["upload_end"] = time.perf_counter()
        return result

    publisher.tiktok.init_direct_post = timed_init  # type: ignore[method-assign]
    publisher.tiktok.upload_chunk = timed_upload  # type: ignore[method-assign]
    # Where the upload's time goes: waiting for S3 bytes (the read-ahead queue was empty) and
    # checkpointing progress to the table after each chunk.
    waits = {"read_wait": 0.0, "checkpoint": 0.0}
    checkpoint = publisher.store.checkpoint

    def timed_checkpoint(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return checkpoint(*args, **kwargs)
        finally:
            waits["checkpoint"] += time.perf_counter() - started

    publisher.store.checkpoint = timed_checkpoint  # type: ignore[method-assign]
    from post_scheduler.adapters import video_store

    read_ahead = getattr(video_store, "_ReadAhead", None)
    if read_ahead is not None:
        next_block = read_ahead.next_block

        def timed_next_block(self: Any) -> bytes:
            started = time.perf_counter()
            try:
                return next_block(self)  # type: ignore[no-any-return]
            finally:
                waits["read_wait"] += time.perf_counter() - started

        read_ahead.next_block = timed_next_block
    command = PublishCommand(scheduleId=post_id, userId="bench-user", version=1)
    # Warm what the first invocation would build anyway, so the growth below is the upload's.
    publisher.store.get("bench-user", post_id)
    publisher.videos.client.list_buckets()
    before = _memory_mb("VmRSS")
    cpu = _cpu_seconds()
    start = time.perf_counter()
    outcome = publisher.publish(command, lambda: 900_000)
    return {
        "result": outcome.result,
        "detail": outcome.detail,
        "upload_seconds": marks["upload_end"] - marks["upload_start"],
        "cpu_seconds": _cpu_seconds() - cpu,
        "read_wait_seconds": waits["read_wait"] if read_ahead is not None else None,
        "checkpoint_seconds": waits["checkpoint"],
        "overhead_to_init_ms": (marks["init"] - start) * 1000,
        "peak_rss_mb": _peak_rss_mb(),
        "rss_growth_mb": _peak_rss_mb() - before,
    }


def _worker_plain(size: int, stub_url: str, access_token: str) -> dict[str, Any]:
    from post_scheduler.adapters.tiktok_client import TikTokClient, plan_chunks

    client = TikTokClient(stub_url)
    plan = plan_chunks(size, CHUNK)
    init = client.init_direct_post(access_token, {"privacy_level": "SELF_ONLY"}, plan)
    # One buffer as long as the longest chunk, sliced per chunk: no copies while timing.
    longest = max(last - first + 1 for first, last in plan.ranges())
    buffer = memoryview(_pattern_block() * (longest // MIB + 1))
    cpu = _cpu_seconds()
    start = time.perf_counter()
    for first, last in plan.ranges():
        client.upload_chunk(init.upload_url, buffer[: last - first + 1], first, last, size)
    return {
        "upload_seconds": time.perf_counter() - start,
        "cpu_seconds": _cpu_seconds() - cpu,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _cpu_seconds() -> float:
    """User + system CPU time of this process so far (all threads)."""
    times = os.times()
    return times.user + times.system


def _run_worker(env: dict[str, str], *arguments: str) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, "-m", "bench.publisher_upload", "worker", *arguments],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def measure(size_mb: int = 512, repeats: int = 1) -> dict[str, Any]:
    """Both sides in one run, `repeats` times in turn (plain, publisher, plain, ...), each in a
    fresh process; the figures are the medians (and every run's, for the spread)."""
    size = size_mb * MIB
    plains: list[dict[str, Any]] = []
    publishes: list[dict[str, Any]] = []
    with _servers() as (moto_url, stub_url, env):
        setup = _setup(moto_url, stub_url, size, repeats)
        worker_env = {**env, **setup["env"]}
        for number in range(1, repeats + 1):
            plains.append(
                _run_worker(worker_env, "plain", str(size), stub_url, setup["access_token"])
            )
            publishes.append(_run_worker(worker_env, "publisher", f"bench-post-{number}"))
    mb = size / 1e6

    def median(runs: list[dict[str, Any]], key: str) -> Any:
        values = [run[key] for run in runs if run.get(key) is not None]
        return statistics.median(values) if values else None

    return {
        "size_mb": size_mb,
        "repeats": repeats,
        "publisher_result": ",".join(sorted({run["result"] for run in publishes})),
        "publisher_mb_per_s": mb / median(publishes, "upload_seconds"),
        "plain_mb_per_s": mb / median(plains, "upload_seconds"),
        "ratio": median(plains, "upload_seconds") / median(publishes, "upload_seconds"),
        "ratio_by_run": [
            plain["upload_seconds"] / published["upload_seconds"]
            for plain, published in zip(plains, publishes, strict=True)
        ],
        "publisher_peak_rss_mb": median(publishes, "peak_rss_mb"),
        "publisher_peak_rss_mb_by_run": [run["peak_rss_mb"] for run in publishes],
        "publisher_rss_growth_mb": median(publishes, "rss_growth_mb"),
        "rss_goal_mb": CHUNK / MIB + 64,
        "plain_peak_rss_mb": median(plains, "peak_rss_mb"),
        "overhead_to_init_ms": median(publishes, "overhead_to_init_ms"),
        "overhead_to_init_ms_by_run": [run["overhead_to_init_ms"] for run in publishes],
        "publisher_upload_seconds": median(publishes, "upload_seconds"),
        "publisher_cpu_seconds": median(publishes, "cpu_seconds"),
        "publisher_read_wait_seconds": median(publishes, "read_wait_seconds"),
        "publisher_checkpoint_seconds": median(publishes, "checkpoint_seconds"),
        "plain_upload_seconds": median(plains, "upload_seconds"),
        "plain_cpu_seconds": median(plains, "cpu_seconds"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "worker"])
    parser.add_argument("args", nargs="*")
    parser.add_argument("--size-mb", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=1)
    options = parser.parse_args(argv)
    if options.mode == "worker":
        kind, *rest = options.args
        if kind == "publisher":
            print(json.dumps(_worker_publisher(*rest)))
        else:
            size, stub_url, token = rest
            print(json.dumps(_worker_plain(int(size), stub_url, token)))
        return
    print(json.dumps(measure(options.size_mb, options.repeats), indent=2))


if __name__ == "__main__":
    main()
