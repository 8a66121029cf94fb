"""AWS throttling is transient: an error AWS raises because a rate was exceeded (a DynamoDB
partition, a Scheduler or Lambda quota) means "later", never "this cannot be done". botocore
already retries a few times; these helpers retry a little longer where giving up would cost
the post its second."""

from __future__ import annotations

from collections.abc import Callable

from botocore.exceptions import ClientError

from post_scheduler.domain.retry import retry_while

THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",  # DynamoDB: a partition's capacity
        "ThrottlingException",  # DynamoDB control plane, Scheduler, most services
        "RequestLimitExceeded",  # DynamoDB: the account's request rate
        "TooManyRequestsException",  # Lambda
        "Throttling",
        "LimitExceededException",
    }
)


def is_throttling(error: BaseException) -> bool:
    """Whether `error` is AWS saying "too fast", as opposed to a real failure."""
    return (
        isinstance(error, ClientError)
        and error.response.get("Error", {}).get("Code") in THROTTLING_CODES
    )


def retry_throttled[T](
    action: Callable[[], T],
    sleep: Callable[[float], None],
    attempts: int = 6,
    base_seconds: float = 0.05,
    cap_seconds: float = 1.0,
) -> T:
    """Run `action`, retrying throttling errors with full-jitter backoff (about 2 s in all by
    default); any other error, or throttling that outlasts the attempts, is raised."""
    return retry_while(action, sleep, is_throttling, attempts, base_seconds, cap_seconds)
