"""In-memory fakes of the domain's ports (`post_scheduler.domain.ports`), for fast unit tests of
the publisher's state machine and the schedule rules. They keep the real adapters' conditions
(claim tokens, leases, versions, revisions, the plan limit and the video lock) and TikTok's
protocol (rotating refresh tokens, chunk ranges, status progression); `tests/contract` runs the
same tests against each fake and its real adapter under moto, so they cannot drift."""

from tests.fakes.clock import FakeClock
from tests.fakes.scheduler import FakeScheduler
from tests.fakes.store import FakePublicationStore, FakeScheduleTable, MemoryTable
from tests.fakes.tiktok import FakeTikTok
from tests.fakes.videos import FakeCipher, FakeVideoFiles

__all__ = [
    "FakeCipher",
    "FakeClock",
    "FakePublicationStore",
    "FakeScheduleTable",
    "FakeScheduler",
    "FakeTikTok",
    "FakeVideoFiles",
    "MemoryTable",
]
