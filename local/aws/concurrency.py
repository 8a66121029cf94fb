"""Lambda's concurrency limits, locally, and the record of what every invocation cost.

- The account limit (`LOCAL_LAMBDA_CONCURRENCY`, unlimited when unset) is shared by every
  function, as Lambda's regional concurrency is.
- A function with `ReservedConcurrentExecutions` has exactly that many slots of its own, carved
  out of the account limit: the other functions share what is left, as in Lambda.
- An SQS event source's `ScalingConfig.MaximumConcurrency` caps how many batches of that
  mapping run at once (the poller enforces it; see local/aws/event_sources.py).
- An invocation that finds no slot raises `Throttled` (Lambda's TooManyRequestsException); the
  caller reacts as Lambda's caller would: the gateway answers 429, the asynchronous invoker
  keeps the event and retries with backoff, an SQS poller does not poll until a slot is free.

Every invocation's duration and memory are recorded, so the billed GB-seconds of a run can be
reported (Lambda bills duration rounded up to the millisecond, times the configured memory).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from local.aws.template import Template


class Throttled(Exception):
    """No concurrency left for the function (Lambda's TooManyRequestsException, HTTP 429)."""

    def __init__(self, function: str) -> None:
        super().__init__(f"Rate Exceeded: no concurrency left for {function}")
        self.function = function


@dataclass(frozen=True)
class Invocation:
    """One finished invocation: when, how long and at what memory size."""

    function: str
    started: float  # epoch seconds
    duration_seconds: float
    memory_mb: int

    @property
    def billed_gb_seconds(self) -> float:
        billed_ms = max(1, math.ceil(self.duration_seconds * 1000))
        return billed_ms / 1000 * self.memory_mb / 1024


def async_throttle_delays(scale: float) -> list[float]:
    """Lambda's retry delays for a throttled asynchronous event (about 1 s doubling up to
    5 minutes), multiplied by `scale` (locally below 1, so a demo does not wait minutes)."""
    delays: list[float] = []
    delay = 1.0
    while delay < 300:
        delays.append(delay * scale)
        delay *= 2
    delays.append(300 * scale)
    return delays


class ConcurrencyGate:
    """Counts running invocations per function against the account and reserved limits."""

    def __init__(
        self,
        account_limit: int | None = None,
        reserved: dict[str, int] | None = None,
        history: int = 200_000,
    ) -> None:
        self.account_limit = account_limit
        self.reserved = dict(reserved or {})
        if account_limit is not None and sum(self.reserved.values()) > account_limit:
            raise ValueError(
                f"reserved concurrency {sum(self.reserved.values())} exceeds the account limit"
                f" {account_limit}"
            )
        self._running: dict[str, int] = {}
        self._lock = threading.Condition()
        self._records: deque[Invocation] = deque(maxlen=history)
        self.throttles: dict[str, int] = {}
        self.peak_total = 0
        self.peak: dict[str, int] = {}

    @classmethod
    def from_template(cls, template: Template, account_limit: int | None) -> ConcurrencyGate:
        """The gate for a template: each function's `ReservedConcurrentExecutions`."""
        reserved: dict[str, int] = {}
        for name, resource in template.of_type("AWS::Serverless::Function").items():
            value = template.resolve(resource["Properties"].get("ReservedConcurrentExecutions"))
            if value not in (None, ""):
                reserved[name] = int(value)
        return cls(account_limit, reserved)

    # --- slots --------------------------------------------------------------------------------

    def _unreserved_running(self) -> int:
        return sum(n for f, n in self._running.items() if f not in self.reserved)

    def _free(self, function: str) -> bool:
        running = self._running.get(function, 0)
        if function in self.reserved:
            return running < self.reserved[function]
        if self.account_limit is None:
            return True
        shared = self.account_limit - sum(self.reserved.values())
        return self._unreserved_running() < shared

    def try_acquire(self, function: str) -> bool:
        """Take a slot for one invocation of `function`; False (and counted) when none is free."""
        with self._lock:
            if not self._free(function):
                self.throttles[function] = self.throttles.get(function, 0) + 1
                return False
            self._take(function)
            return True

    def acquire(
        self, function: str, stop: threading.Event, timeout: float = 1.0, *, take: bool = True
    ) -> bool:
        """Wait up to `timeout` seconds for a free slot and take it (with `take=False` only wait:
        an event source polls only when its function may run); False when none came in time or
        `stop` is set."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not self._free(function):
                left = deadline - time.monotonic()
                if left <= 0 or stop.is_set():
                    return False
                self._lock.wait(min(left, 0.1))
            if take:
                self._take(function)
            return True

    def _take(self, function: str) -> None:
        self._running[function] = self._running.get(function, 0) + 1
        self.peak[function] = max(self.peak.get(function, 0), self._running[function])
        self.peak_total = max(self.peak_total, sum(self._running.values()))

    def release(self, function: str, invocation: Invocation | None = None) -> None:
        with self._lock:
            self._running[function] = max(0, self._running.get(function, 0) - 1)
            if invocation is not None:
                self._records.append(invocation)
            self._lock.notify_all()

    def running(self, function: str | None = None) -> int:
        with self._lock:
            if function is None:
                return sum(self._running.values())
            return self._running.get(function, 0)

    # --- the record ---------------------------------------------------------------------------

    def invocations(self, function: str | None = None, since: float = 0.0) -> list[Invocation]:
        with self._lock:
            return [
                r
                for r in self._records
                if (function is None or r.function == function) and r.started >= since
            ]

    def reset_peaks(self) -> None:
        with self._lock:
            self.peak_total = sum(self._running.values())
            self.peak = dict(self._running)
            self.throttles = {}

    def report(self, since: float = 0.0) -> dict[str, Any]:
        """Per function: invocations, billed GB-seconds, peak concurrency and throttles."""
        by_function: dict[str, dict[str, Any]] = {}
        for record in self.invocations(since=since):
            entry = by_function.setdefault(
                record.function, {"invocations": 0, "gbSeconds": 0.0, "seconds": 0.0}
            )
            entry["invocations"] += 1
            entry["gbSeconds"] += record.billed_gb_seconds
            entry["seconds"] += record.duration_seconds
        with self._lock:
            for function, entry in by_function.items():
                entry["peakConcurrency"] = self.peak.get(function, 0)
                entry["throttles"] = self.throttles.get(function, 0)
            return {
                "accountLimit": self.account_limit,
                "peakConcurrency": self.peak_total,
                "functions": by_function,
            }
