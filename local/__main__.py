"""`python -m local` (what `make run` runs): the whole system on loopback, no Docker, no AWS
account. Settings by environment variable: PORT (3000), TIKTOK_STUB_PORT (3001), MOTO_PORT
(5000), MIN_SCHEDULE_LEAD_SECONDS (900), DEMO_API_KEY_FREE / _BASIC / _PROFESSIONAL (generated
when unset), ASYNC_RETRY_DELAY_SECONDS (5: Lambda's retry waits, scaled down),
LOCAL_SCHEDULER_JITTER_SECONDS (59: Scheduler fires anywhere in its minute), LOCAL_SCHEDULER_SEED
(random: replays the offsets and duplicates), LOCAL_DUPLICATE_DELIVERY (0: the chance an
asynchronous event is delivered twice). Ctrl-C (or SIGTERM) stops it."""

from __future__ import annotations

import json
import logging
import shlex
import signal
import sys
import threading
import warnings
from datetime import UTC, datetime, timedelta
from types import FrameType

from local.config import ConfigError, LocalConfig
from local.stack import LocalStack


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)-15s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stdout,
    )
    # Werkzeug logs each request of moto's server and ours; ours logs its own line instead.
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Metrics are off locally (no CloudWatch); Powertools still warns that none were published.
    warnings.filterwarnings("ignore", message="No application metrics to publish")


def example_curl(stack: LocalStack, publish_at: datetime) -> str:
    """A create request for the reference's example ids with the basic user's key."""
    from local.seed import EXAMPLE_ACCOUNT_ID, EXAMPLE_VIDEO_ID

    body = json.dumps(
        {
            "videoId": EXAMPLE_VIDEO_ID,
            "tiktokAccountId": EXAMPLE_ACCOUNT_ID,
            "scheduledPublishTime": publish_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "title": "Scheduled Amazing Video",
            "hashtags": "#trending #viral",
        }
    )
    return (
        f"curl -X POST {shlex.quote(stack.api_url + '/api/v1/schedule/create')}"
        f" -H {shlex.quote('Authorization: Bearer ' + stack.api_keys['basic'])}"
        f" -H 'Content-Type: application/json' -d {shlex.quote(body)}"
    )


def _jitter_text(seconds: float) -> str:
    if not seconds:
        return "fires each schedule at its second"
    return f"fires each schedule 0-{seconds:g} s after its time, as AWS does within its minute"


def banner(stack: LocalStack, now: datetime | None = None) -> str:
    from local.seed import EXAMPLE_ACCOUNT_ID, EXAMPLE_VIDEO_ID

    keys = stack.api_keys
    template = stack.template
    config = stack.config
    lead = config.min_schedule_lead_seconds
    # The minimum lead plus a minute to paste it in.
    publish_at = ((now or datetime.now(UTC)) + timedelta(seconds=lead + 60)).replace(microsecond=0)
    return "\n".join(
        [
            "",
            f"Local stack ready: API on {stack.api_url}/api/v1/"
            f" ({len(template.http_routes())} routes from template.yaml)",
            f"  demo API keys   free         {keys['free']}",
            f"                  basic        {keys['basic']}",
            f"                  professional {keys['professional']}",
            f"  example ids     video {EXAMPLE_VIDEO_ID}, account {EXAMPLE_ACCOUNT_ID}"
            " (basic user)",
            f"  stand-in TikTok {stack.stub_url}/_inspect/posts",
            f"  scheduler       {_jitter_text(config.scheduler_jitter_seconds)}"
            f" (LOCAL_SCHEDULER_JITTER_SECONDS={config.scheduler_jitter_seconds:g})",
            f"  duplicates      an asynchronous event is delivered twice with probability"
            f" {config.duplicate_delivery:g} (LOCAL_DUPLICATE_DELIVERY)",
            f"  random seed     LOCAL_SCHEDULER_SEED={stack.seed} replays the offsets and"
            " duplicates",
            f"  AWS (moto)      {stack.moto_url}  (table {template.physical['Table']},"
            f" bucket {template.physical['VideoBucket']})",
            f"  schedule the example video for {publish_at.strftime('%H:%M:%S')} UTC"
            f" (minimum lead {lead} s + 1 min to paste it):",
            f"    {example_curl(stack, publish_at)}",
            "  stop with Ctrl-C",
            "",
        ]
    )


def main() -> int:
    _configure_logging()
    log = logging.getLogger("local")
    try:
        config = LocalConfig.from_env()
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    stack = LocalStack(config)
    stopping = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        stack.start()
    except ConfigError as exc:
        log.error("%s", exc)
        stack.stop(grace_seconds=0)
        return 2
    except Exception:
        log.exception("the local stack failed to start")
        stack.stop(grace_seconds=0)
        return 1
    print(banner(stack), flush=True)
    while not stopping.wait(1):
        pass
    log.info("stopping")
    stack.stop()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
