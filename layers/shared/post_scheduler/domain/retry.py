"""Retrying an action while its failure means "later": the adapter says which errors those are
(for AWS, throttling), the domain decides how long to keep trying."""

from __future__ import annotations

import random
from collections.abc import Callable


def retry_while[T](
    action: Callable[[], T],
    sleep: Callable[[float], None],
    retryable: Callable[[BaseException], bool],
    attempts: int = 6,
    base_seconds: float = 0.05,
    cap_seconds: float = 1.0,
) -> T:
    """Run `action`, retrying errors `retryable` accepts with full-jitter backoff (about 2 s in
    all by default); any other error, or one that outlasts the attempts, is raised."""
    for attempt in range(attempts):
        try:
            return action()
        except Exception as error:
            if not retryable(error) or attempt + 1 == attempts:
                raise
        sleep(random.uniform(0, min(cap_seconds, base_seconds * 2**attempt)))  # noqa: S311
    raise AssertionError("unreachable")
