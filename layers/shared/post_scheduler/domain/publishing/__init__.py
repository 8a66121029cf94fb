"""Publishing a scheduled post to TikTok: at its exact second, at most once, never lost.

One run of `PostPublisher.publish`:
1. reads the post and drops stale events (deleted, final, moved to another version);
2. waits until the requested second (the Scheduler fires within the minute before);
3. claims the post atomically (pending -> publishing, or takes over a crashed run whose lease,
   the invocation's deadline, has passed);
4. either starts a new TikTok publish (creator info, Direct Post init) and checkpoints TikTok's
   `publish_id` before sending any byte, or resumes the one already recorded from TikTok's own
   progress, never calling init again;
5. streams the video from S3 in TikTok's chunks, then polls TikTok until it confirms;
6. ends the post `executed` or `failed` with a reason, releasing the video lock and plan slot.
Transient trouble is retried with backoff while time allows; then the claim is released and the
error raised, so Lambda's asynchronous retries resume from the checkpoint.

A post holding a TikTok `publish_id` is never marked failed on our word alone: TikTok's status
is fetched first. Complete -> executed; FAILED -> failed with TikTok's reason; TikTok holding
only part of the video (and no way to continue) -> failed; anything else (TikTok unreachable,
still processing) -> the post stays `publishing` with `publishOutcome: unconfirmed`, its lease
released, and a later run (the sweep's re-arm, a re-activation) reconciles it from TikTok.

The package, along its seams: `models` (command, outcome, metrics, configuration, failures),
`tokens` (TikTok calls and the serialised token refresh), `upload` (chunks, range mismatches),
`confirmation` (status polling and the endings), `publisher` (the orchestration).
"""

from post_scheduler.domain.publishing.models import (
    DONE_STATUSES,
    PRIVACY_PREFERENCE,
    Clock,
    ConfirmationOverdue,
    PublishCommand,
    PublisherConfig,
    PublishFailed,
    PublishMetrics,
    PublishOutcome,
    RetryLater,
    SystemClock,
    TikTokRejected,
)
from post_scheduler.domain.publishing.publisher import PostPublisher, PublishRun

__all__ = [
    "DONE_STATUSES",
    "PRIVACY_PREFERENCE",
    "Clock",
    "ConfirmationOverdue",
    "PostPublisher",
    "PublishCommand",
    "PublishFailed",
    "PublishMetrics",
    "PublishOutcome",
    "PublishRun",
    "PublisherConfig",
    "RetryLater",
    "SystemClock",
    "TikTokRejected",
]
