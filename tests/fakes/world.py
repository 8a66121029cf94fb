"""A user with a plan, a video in the fake bucket, a connected fake TikTok account and (on
request) a pending post, all in memory, with the publisher and the schedule rules built on them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from post_scheduler.domain.publishing import (
    PostPublisher,
    PublishCommand,
    PublisherConfig,
)
from post_scheduler.domain.schedules import ScheduleService, TimeRules
from post_scheduler.domain.tiktok import TikTokAppCredentials
from post_scheduler.domain.time_rules import posting_minute
from post_scheduler.models.records import (
    ScheduleRecord,
    TikTokAccountRecord,
    UserRecord,
    VideoRecord,
)
from tests.fakes.clock import FakeClock
from tests.fakes.scheduler import FakeScheduler
from tests.fakes.store import FakePublicationStore, FakeScheduleTable, MemoryTable
from tests.fakes.tiktok import FakeTikTok
from tests.fakes.videos import FakeCipher, FakeVideoFiles

START = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
FAST = PublisherConfig(
    poll_interval_seconds=1.0,
    max_poll_interval_seconds=4.0,
    backoff_seconds=0.5,
    max_backoff_seconds=2.0,
    reserve_seconds=1.0,
    preferred_chunk_size=5_242_880,
)


@dataclass
class World:
    clock: FakeClock = field(default_factory=lambda: FakeClock(START))
    table: MemoryTable = field(default_factory=MemoryTable)
    files: FakeVideoFiles = field(default_factory=FakeVideoFiles)
    cipher: FakeCipher = field(default_factory=FakeCipher)
    scheduler: FakeScheduler = field(default_factory=FakeScheduler)
    tiktok: FakeTikTok = field(init=False)
    store: FakePublicationStore = field(init=False)
    schedule_table: FakeScheduleTable = field(init=False)
    user_id: str = "user-1"

    def __post_init__(self) -> None:
        self.tiktok = FakeTikTok(self.clock)
        self.store = FakePublicationStore(self.table)
        self.schedule_table = FakeScheduleTable(self.table)

    # --- set-up -------------------------------------------------------------------------------

    def user(self, plan: str = "basic") -> str:
        self.table.put_user(UserRecord(userId=self.user_id, plan=plan, createdAt=START))
        return self.user_id

    def video(self, size: int = 300_000) -> tuple[str, bytes]:
        video_id = str(uuid.uuid4())
        key = f"videos/{self.user_id}/{video_id}.mp4"
        content = os.urandom(size)
        stored = self.files.put(key, content)
        self.table.put_video(
            VideoRecord(
                videoId=video_id,
                userId=self.user_id,
                sizeBytes=size,
                s3Key=key,
                objectVersionId=stored.version_id,
                createdAt=START,
                durationSeconds=30.0,
            )
        )
        return video_id, content

    def account(self, account_id: str = "acct-1", **fields: object) -> TikTokAccountRecord:
        open_id = f"open-{account_id}"
        creator = self.tiktok.add_creator(open_id)
        record = TikTokAccountRecord.model_validate(
            {
                "accountId": account_id,
                "userId": self.user_id,
                "openId": open_id,
                "accessTokenCipher": self.cipher.encrypt(
                    creator.access_token, account_id, "access"
                ),
                "refreshTokenCipher": self.cipher.encrypt(
                    creator.refresh_token, account_id, "refresh"
                ),
                "accessTokenExpiresAt": creator.access_expires_at,
                "refreshTokenExpiresAt": START + timedelta(days=365),
                "createdAt": START,
                **fields,
            }
        )
        self.table.put_account(record)
        return record

    def pending_post(
        self, video_id: str, account_id: str = "acct-1", seconds_ahead: float = 30
    ) -> ScheduleRecord:
        """A pending post as a create leaves it: the video locked, the plan slot and the
        account-minute slot taken (as `ScheduleService.create` would, without its lead rule)."""
        at = (self.clock.now() + timedelta(seconds=seconds_ahead)).replace(microsecond=0)
        post = ScheduleRecord(
            scheduleId=str(uuid.uuid4()),
            userId=self.user_id,
            videoId=video_id,
            tiktokAccountId=account_id,
            scheduledPublishTime=at,
            status="pending",
            createdAt=START,
            updatedAt=START,
            title="Launch day",
            hashtags="#launch",
            accountMinute=posting_minute(at),
        )
        self.schedule_table.create_schedule(post)
        return post

    # --- the use cases ------------------------------------------------------------------------

    def publisher(self, config: PublisherConfig = FAST) -> PostPublisher:
        credentials = TikTokAppCredentials(self.tiktok.client_key, self.tiktok.client_secret)
        return PostPublisher(
            store=self.store,
            videos=self.files,
            tiktok=self.tiktok,
            cipher=self.cipher,
            credentials=lambda: credentials,
            config=config,
            clock=self.clock,
        )

    def schedules(self, min_lead_seconds: int = 900) -> ScheduleService:
        return ScheduleService(
            self.schedule_table,
            self.scheduler,
            TimeRules(min_lead_seconds=min_lead_seconds),
            clock=self.clock,
        )

    def post(self, schedule_id: str) -> ScheduleRecord:
        found = self.table.schedule(self.user_id, schedule_id)
        assert found is not None
        return found

    def command(self, schedule_id: str) -> PublishCommand:
        post = self.post(schedule_id)
        return PublishCommand(scheduleId=post.scheduleId, userId=post.userId, version=post.version)

    def pending_count(self) -> int:
        return self.table.users[self.user_id].pendingCount

    def video_record(self, video_id: str) -> VideoRecord:
        return self.table.videos[(self.user_id, video_id)]


def remaining(ms: int = 600_000) -> Callable[[], int]:
    return lambda: ms
