"""Webhooks per the Standard Webhooks specification: registration, the events a post's end
raises, and signed deliveries retried with backoff.

Events come from the table's stream (a post whose status changed to executed, failed or
cancelled), whichever code path wrote it: the publisher, the failure consumer, an update or an
account's removal. Each event gets one delivery per subscribed webhook; the delivery queue
carries it, and a failed attempt comes back after the next delay of the backoff schedule. Every
attempt of one event has the same `webhook-id` (the event id), so receivers can drop repeats.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from post_scheduler.domain.errors import UnsafeTarget
from post_scheduler.domain.ports import SendResult, Target
from post_scheduler.errors import NotFound, Unprocessable
from post_scheduler.models.records import ScheduleRecord
from post_scheduler.models.responses import ScheduledPostDetail
from post_scheduler.models.webhooks import (
    EVENT_OF_STATUS,
    CreatedWebhook,
    CreateWebhookRequest,
    DeliveryRecord,
    DeliveryView,
    WebhookRecord,
    WebhookView,
)
from post_scheduler.timestamps import format_utc, parse_utc, utc_now

if TYPE_CHECKING:
    from post_scheduler.domain.ports import (
        DeliveryQueuePort,
        SchedulingTablePort,
        TokenCipherPort,
        UrlGuardPort,
        WebhookStorePort,
    )

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32
SECRET_PURPOSE = "webhook-secret"  # noqa: S105 - a KMS encryption context label
# Standard Webhooks' suggested schedule: after the first attempt, 5 s, 5 min, 30 min, 2 h, 5 h
# and 10 h; then the delivery is failed.
RETRY_DELAYS_SECONDS: tuple[int, ...] = (5, 300, 1800, 7200, 18000, 36000)
TIMEOUT_SECONDS = 10.0


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` with the secret's key bytes."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class WebhookService:
    """The webhook endpoints' use cases."""

    def __init__(
        self,
        store: WebhookStorePort,
        cipher: TokenCipherPort,
        guard: UrlGuardPort,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.cipher = cipher
        self.guard = guard
        self.clock = clock

    def register(self, user_id: str, request: CreateWebhookRequest) -> CreatedWebhook:
        try:
            self.guard.check(request.url)
        except UnsafeTarget as refused:
            raise Unprocessable(
                f"the webhook URL is refused: {refused}", {"field": "url", "reason": str(refused)}
            ) from None
        webhook_id = str(uuid.uuid4())
        secret = new_secret()
        record = WebhookRecord(
            webhookId=webhook_id,
            userId=user_id,
            url=request.url,
            events=list(request.events),
            secretCipher=self.cipher.encrypt(secret, webhook_id, SECRET_PURPOSE),
            createdAt=self.clock(),
        )
        self.store.add(record)
        return CreatedWebhook(**WebhookView.of(record).model_dump(), secret=secret)

    def list_webhooks(self, user_id: str) -> list[WebhookView]:
        hooks = sorted(self.store.list_webhooks(user_id), key=lambda w: (w.createdAt, w.webhookId))
        return [WebhookView.of(w) for w in hooks]

    def delete(self, user_id: str, webhook_id: str) -> None:
        self.store.remove(user_id, webhook_id)

    def deliveries(
        self, user_id: str, webhook_id: str, limit: int, page_token: str | None
    ) -> tuple[list[DeliveryView], str | None]:
        # The page token is checked (400) before the webhook's existence (404).
        found, token = self.store.list_deliveries(user_id, webhook_id, limit, page_token)
        if self.store.get(user_id, webhook_id) is None:
            raise NotFound("webhook not found")
        return [DeliveryView.of(d) for d in found], token


# --- events ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostEnded:
    type: str
    schedule: ScheduleRecord
    occurredAt: datetime

    @property
    def event_id(self) -> str:
        # The same write seen twice (stream records may repeat) is the same event.
        seed = f"{self.schedule.scheduleId}:{self.schedule.revision}:{self.schedule.status}"
        return "msg_" + hashlib.sha256(seed.encode()).hexdigest()[:32]


def post_ended(
    record: Mapping[str, Any], from_item: Callable[[Mapping[str, Any]], dict[str, Any]]
) -> PostEnded | None:
    """The event a stream record of the table means, if any: a post whose status changed to
    executed, failed or cancelled. `from_item` decodes the record's images."""
    change = record.get("dynamodb") or {}
    new, old = change.get("NewImage"), change.get("OldImage")
    if not new or not old:
        return None
    after, before = from_item(new), from_item(old)
    if after.get("entity") != "schedule" or after.get("status") == before.get("status"):
        return None
    event_type = EVENT_OF_STATUS.get(str(after.get("status")))
    if event_type is None:
        return None
    schedule = ScheduleRecord.model_validate(after)
    occurred = {
        "executed": schedule.executedAt,
        "failed": schedule.failedAt,
        "cancelled": schedule.cancelledAt,
    }.get(schedule.status)
    return PostEnded(event_type, schedule, occurred or schedule.updatedAt)


class WebhookEvents:
    """Turns the table's stream records into queued deliveries."""

    def __init__(
        self, table: SchedulingTablePort, store: WebhookStorePort, queue: DeliveryQueuePort
    ) -> None:
        self.table = table
        self.store = store
        self.queue = queue

    def emit(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Queue a delivery per subscribed webhook for each event; the number queued."""
        messages: list[dict[str, Any]] = []
        for record in records:
            event = post_ended(record, self.table.decode_item)
            if event is None:
                continue
            schedule = event.schedule
            hooks = [w for w in self.store.list_webhooks(schedule.userId) if event.type in w.events]
            if not hooks:
                continue
            body = self.payload(event)
            for hook in hooks:
                delivery = DeliveryRecord(
                    userId=schedule.userId,
                    webhookId=hook.webhookId,
                    eventId=event.event_id,
                    type=event.type,
                    scheduleId=schedule.scheduleId,
                    occurredAt=event.occurredAt,
                )
                if self.store.add_delivery(delivery):
                    messages.append(
                        {
                            "userId": delivery.userId,
                            "webhookId": delivery.webhookId,
                            "eventId": delivery.eventId,
                            "type": delivery.type,
                            "scheduleId": delivery.scheduleId,
                            "occurredAt": format_utc(delivery.occurredAt),
                            "body": body,
                        }
                    )
        self.queue.send_many(messages)
        return len(messages)

    def payload(self, event: PostEnded) -> str:
        """`{"type", "timestamp", "data": <the post as GET returns it>}` as sent."""
        schedule = event.schedule
        videos, accounts = self.table.get_videos_and_accounts(
            schedule.userId, {schedule.videoId}, {schedule.tiktokAccountId}
        )
        post = ScheduledPostDetail.of(
            schedule, videos.get(schedule.videoId), accounts.get(schedule.tiktokAccountId)
        )
        document = {
            "type": event.type,
            "timestamp": format_utc(event.occurredAt),
            "data": post.public(),
        }
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


# --- deliveries --------------------------------------------------------------------------------


Sender = Callable[[Target, dict[str, str], bytes, float], SendResult]


class WebhookDeliverer:
    """One attempt of one delivery: sign, check the target again, POST, record the outcome."""

    def __init__(
        self,
        store: WebhookStorePort,
        cipher: TokenCipherPort,
        guard: UrlGuardPort,
        sender: Sender,
        delays: tuple[int, ...] = RETRY_DELAYS_SECONDS,
        timeout_seconds: float = TIMEOUT_SECONDS,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.cipher = cipher
        self.guard = guard
        self.sender = sender
        self.delays = delays
        self.timeout_seconds = timeout_seconds
        self.clock = clock

    def deliver(self, message: Mapping[str, Any], attempt: int) -> int | None:
        """Attempt `attempt` (1-based); the seconds until the next one, or None when done."""
        delivery = DeliveryRecord(
            userId=message["userId"],
            webhookId=message["webhookId"],
            eventId=message["eventId"],
            type=message["type"],
            scheduleId=message["scheduleId"],
            occurredAt=parse_utc(message["occurredAt"]),
        )
        stored = self.store.get_delivery(delivery)
        if stored is not None and stored.status != "pending":
            return None  # a repeated message of a delivery that is over
        current = stored or delivery
        now = self.clock()
        hook = self.store.get(delivery.userId, delivery.webhookId)
        if hook is None:
            self.store.record_attempt(
                current.model_copy(
                    update={
                        "status": "cancelled",
                        "error": "the webhook was deleted",
                        "nextAttemptAt": None,
                    }
                )
            )
            return None
        body: str = message["body"]
        timestamp = int(now.timestamp())
        secret = self.cipher.decrypt(hook.secretCipher, hook.webhookId, SECRET_PURPOSE)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "post-scheduler-webhooks/1",
            "webhook-id": delivery.eventId,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, delivery.eventId, timestamp, body),
        }
        try:
            # Checked again now: the name may resolve elsewhere than at registration.
            target = self.guard.check(hook.url)
            result = self.sender(target, headers, body.encode(), self.timeout_seconds)
        except UnsafeTarget as refused:
            result = SendResult(None, f"refused: {refused}")
        retry_in: int | None = None
        if result.delivered:
            status = "delivered"
        elif attempt <= len(self.delays):
            status, retry_in = "pending", self.delays[attempt - 1]
        else:
            status = "failed"
        self.store.record_attempt(
            current.model_copy(
                update={
                    "status": status,
                    "attempt": attempt,
                    "responseStatus": result.status,
                    "lastAttemptAt": now,
                    "nextAttemptAt": None
                    if retry_in is None
                    else now + timedelta(seconds=retry_in),
                    "error": result.error,
                }
            )
        )
        logger.info(
            "webhook delivery attempt",
            extra={
                "webhookId": delivery.webhookId,
                "eventId": delivery.eventId,
                "attempt": attempt,
                "status": status,
                "responseStatus": result.status,
            },
        )
        return retry_in
