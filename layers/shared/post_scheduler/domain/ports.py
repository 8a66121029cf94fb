"""The ports the domain needs, as Protocols, and the values that cross them. The adapters in
`post_scheduler.adapters` implement them over AWS and TikTok; tests may pass anything with the
same methods. Each Protocol lists only what the use cases call."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from post_scheduler.domain.tiktok import USER_FIELDS

if TYPE_CHECKING:
    from post_scheduler.domain.chunks import ChunkPlan
    from post_scheduler.domain.tiktok import (
        CreatorInfo,
        InitResult,
        PublishStatus,
        TikTokUser,
        TokenGrant,
        UploadProgress,
    )
    from post_scheduler.models.accounts import OAuthStateRecord
    from post_scheduler.models.records import (
        ApiKeyRecord,
        CreatorInfoSnapshot,
        DueEntry,
        ScheduleRecord,
        TikTokAccountRecord,
        UserRecord,
        VideoRecord,
    )
    from post_scheduler.models.videos import VideoFileRecord
    from post_scheduler.models.webhooks import DeliveryRecord, WebhookRecord


@dataclass(frozen=True)
class StoredVideo:
    key: str
    size: int
    content_type: str
    etag: str
    version_id: str | None = None  # S3's VersionId (the bucket is versioned)


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect, and what to call the host."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


@dataclass(frozen=True)
class SendResult:
    status: int | None  # None: no HTTP answer (timeout, refused connection, TLS failure)
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class ScheduleTablePort(Protocol):
    """What the schedule rules (`domain/schedules.py`) use of the scheduling table, so a fake
    for them needs only these; `SchedulingTablePort` adds the rest."""

    def create_schedule(self, schedule: ScheduleRecord) -> None: ...

    def delete_schedule_record(self, expected: ScheduleRecord) -> None: ...

    def get_schedule(self, user_id: str, schedule_id: str) -> ScheduleRecord | None: ...

    def get_user(self, user_id: str) -> UserRecord | None: ...

    def get_videos_and_accounts(
        self, user_id: str, video_ids: set[str], account_ids: set[str]
    ) -> tuple[dict[str, VideoRecord], dict[str, TikTokAccountRecord]]: ...

    def list_schedules(
        self, user_id: str, limit: int, page_token: str | None, status: str | None = None
    ) -> tuple[list[ScheduleRecord], str | None]: ...

    def list_upcoming(
        self, now: datetime, limit: int, page_token: str | None
    ) -> tuple[list[DueEntry], str | None]: ...

    def reactivate_schedule(self, schedule: ScheduleRecord, expected: ScheduleRecord) -> None: ...

    def release_schedule(
        self,
        schedule: ScheduleRecord | None,
        expected: ScheduleRecord,
        *,
        video_published_at: datetime | None = None,
        condition: tuple[str, dict[str, Any]] | None = None,
        video_lock: bool = True,
    ) -> None: ...

    def replace_schedule(self, schedule: ScheduleRecord, expected: ScheduleRecord) -> None: ...


class SchedulingTablePort(ScheduleTablePort, Protocol):
    """The scheduling table as the use cases see it: the schedule rules' part and the rest."""

    def decode_item(self, item: Mapping[str, Any]) -> dict[str, Any]: ...

    def count_api_keys(self, user_id: str) -> int: ...

    def create_video(self, video: VideoFileRecord) -> None: ...

    def delete_account(self, user_id: str, account_id: str) -> None: ...

    def delete_api_key(self, api_key: ApiKeyRecord) -> None: ...

    def delete_video(self, user_id: str, video_id: str) -> VideoFileRecord: ...

    def find_account_by_open_id(self, user_id: str, open_id: str) -> TikTokAccountRecord | None: ...

    def find_api_key(self, user_id: str, key_id: str) -> ApiKeyRecord | None: ...

    def finish_video_upload(
        self,
        user_id: str,
        video_id: str,
        *,
        accepted: bool,
        reason: str | None,
        etag: str | None,
        now: datetime,
        version_id: str | None = None,
        duration_seconds: float | None = None,
    ) -> VideoFileRecord | None: ...

    def get_account(self, user_id: str, account_id: str) -> TikTokAccountRecord | None: ...

    def get_video_file(self, user_id: str, video_id: str) -> VideoFileRecord | None: ...

    def list_active_schedules_of_account(
        self, user_id: str, account_id: str
    ) -> list[ScheduleRecord]: ...

    def list_api_keys(
        self, user_id: str, limit: int, page_token: str | None
    ) -> tuple[list[ApiKeyRecord], str | None]: ...

    def put_api_key(self, api_key: ApiKeyRecord) -> None: ...

    def put_oauth_state(self, state: OAuthStateRecord) -> None: ...

    def save_account_grant(self, account: TikTokAccountRecord) -> bool: ...

    def save_creator_info(
        self, user_id: str, account_id: str, info: CreatorInfoSnapshot, at: datetime
    ) -> None: ...

    def take_oauth_state(self, state_hash: str, user_id: str) -> OAuthStateRecord | None: ...


class PublicationStorePort(Protocol):
    """The publisher's conditional writes on a post and its account."""

    def get(self, user_id: str, schedule_id: str) -> ScheduleRecord | None: ...

    def claim(
        self, post: ScheduleRecord, now: datetime, lease_until: datetime, token: str
    ) -> ScheduleRecord | None: ...

    def checkpoint(self, post: ScheduleRecord, token: str, **fields: Any) -> ScheduleRecord: ...

    def finish(
        self,
        post: ScheduleRecord,
        token: str | None,
        final: ScheduleRecord,
        video_published_at: datetime | None,
    ) -> None: ...

    def get_account(self, user_id: str, account_id: str) -> TikTokAccountRecord | None: ...

    def get_video(self, user_id: str, video_id: str) -> VideoRecord | None: ...

    def is_throttling(self, error: BaseException) -> bool: ...

    def mark_needs_reconnection(
        self, account: TikTokAccountRecord, reason: str, now: datetime
    ) -> None: ...

    def release_refresh_lease(self, account: TikTokAccountRecord, lease: str) -> None: ...

    def save_creator_info(
        self, user_id: str, account_id: str, info: CreatorInfoSnapshot, at: datetime
    ) -> None: ...

    def save_tokens(self, account: TikTokAccountRecord, **fields: Any) -> TikTokAccountRecord: ...

    def take_refresh_lease(
        self, account: TikTokAccountRecord, lease: str, now: datetime, until: datetime
    ) -> bool: ...

    def release_lease(
        self, post: ScheduleRecord, token: str, now: datetime, error: str
    ) -> None: ...

    def due_posts(self, due_before: datetime, page_size: int = 100) -> Iterator[DueEntry]: ...

    def mark_rearmed(
        self, post: DueEntry, now: datetime, max_rearms: int
    ) -> ScheduleRecord | None: ...


class SchedulerPort(Protocol):
    """The one-time schedules that fire the publisher."""

    def create(self, schedule_id: str, user_id: str, version: int, fire_at: datetime) -> None: ...

    def update(self, schedule_id: str, user_id: str, version: int, fire_at: datetime) -> None: ...

    def delete(self, schedule_id: str) -> None: ...

    def rearm(
        self, schedule_id: str, user_id: str, version: int, rearm: int, fire_at: datetime
    ) -> None: ...


class VideoFilesPort(Protocol):
    """Video files in object storage."""

    def abort_multipart(self, key: str, upload_id: str) -> None: ...

    def complete_multipart(
        self, key: str, upload_id: str, parts: list[tuple[int, str]]
    ) -> None: ...

    def delete(self, key: str) -> None: ...

    def delete_version(self, key: str, version_id: str) -> None: ...

    def duration_seconds(self, key: str, size: int, etag: str | None = None) -> float | None: ...

    def first_bytes(
        self, key: str, count: int, etag: str | None = None, version_id: str | None = None
    ) -> bytes: ...

    def head(self, key: str, version_id: str | None = None) -> StoredVideo | None: ...

    def presign_part(
        self, key: str, upload_id: str, part_number: int, expires_in: int, size: int
    ) -> str: ...

    def presign_put(self, key: str, content_type: str, expires_in: int, size: int) -> str: ...

    def read_range(
        self,
        key: str,
        first: int,
        last: int,
        etag: str | None = None,
        version_id: str | None = None,
    ) -> Iterator[bytes]: ...

    def start_multipart(self, key: str, content_type: str) -> str: ...

    def sequential_reader(
        self, key: str, etag: str | None = None, version_id: str | None = None
    ) -> ChunkReaderPort: ...


class ChunkReaderPort(Protocol):
    """Reads a video's chunks in order."""

    def chunk(self, first: int, last: int) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class TikTokPort(Protocol):
    """TikTok's OAuth and Content Posting API."""

    def exchange_code(
        self,
        client_key: str,
        client_secret: str,
        code: str,
        redirect_uri: str,
        code_verifier: str | None = None,
    ) -> TokenGrant: ...

    def user_info(self, access_token: str, fields: Iterable[str] = USER_FIELDS) -> TikTokUser: ...

    def creator_info(self, access_token: str) -> CreatorInfo: ...

    def fetch_status(self, access_token: str, publish_id: str) -> PublishStatus: ...

    def init_direct_post(
        self, access_token: str, post_info: Mapping[str, Any], plan: ChunkPlan
    ) -> InitResult: ...

    def refresh_access_token(
        self, client_key: str, client_secret: str, refresh_token: str
    ) -> TokenGrant: ...

    def upload_chunk(
        self,
        upload_url: str,
        chunk: Iterable[bytes] | bytes | bytearray | memoryview,
        first: int,
        last: int,
        total: int,
        content_type: str = "video/mp4",
    ) -> UploadProgress: ...


class TokenCipherPort(Protocol):
    """Seals and opens secrets bound to an owner and purpose."""

    def encrypt(self, plaintext: str, account_id: str, purpose: str) -> str: ...

    def decrypt(self, ciphertext: str, account_id: str, purpose: str) -> str: ...


class WebhookStorePort(Protocol):
    """Webhooks and their deliveries."""

    def add(self, webhook: WebhookRecord) -> None: ...

    def add_delivery(self, delivery: DeliveryRecord) -> bool: ...

    def get(self, user_id: str, webhook_id: str) -> WebhookRecord | None: ...

    def get_delivery(self, delivery: DeliveryRecord) -> DeliveryRecord | None: ...

    def list_deliveries(
        self, user_id: str, webhook_id: str, limit: int, page_token: str | None
    ) -> tuple[list[DeliveryRecord], str | None]: ...

    def list_webhooks(self, user_id: str) -> list[WebhookRecord]: ...

    def record_attempt(self, delivery: DeliveryRecord) -> None: ...

    def remove(self, user_id: str, webhook_id: str) -> None: ...


class DeliveryQueuePort(Protocol):
    """The queue of webhook deliveries."""

    def send_many(self, messages: list[dict[str, Any]]) -> None: ...


class UrlGuardPort(Protocol):
    """Refuses webhook URLs that are not public."""

    def check(self, url: str) -> Target: ...
