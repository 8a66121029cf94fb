"""Time that moves only when the code under test sleeps (or the test says so)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.moment = start
        self.slept: list[float] = []
        # Run once at the next sleep (another process acting while this one waits).
        self.on_sleep: list[Callable[[], None]] = []

    def now(self) -> datetime:
        return self.moment

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.moment += timedelta(seconds=max(seconds, 0))
        while self.on_sleep:
            self.on_sleep.pop(0)()

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)

    def __call__(self) -> datetime:
        """The schedule rules take the clock as a plain callable."""
        return self.moment
