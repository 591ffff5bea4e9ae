"""What notify's service needs from the outside world; adapters implement these."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from schemas.envelope import Event
from schemas.interactions import Channel
from schemas.notifications import NotificationChanged
from schemas.routing import QueueStats
from services.notify.calendars import CalendarSpec
from services.notify.core.calendar import QueueCalendar
from services.notify.core.records import CaseRecord, DeliveryFollowUp, PromiseRecord, SendRecord


@dataclass(frozen=True)
class Outgoing:
    """One message to one customer on one channel, ready for its provider."""

    send_key: str  # unique per message: providers that take an idempotency key get it
    channel: Channel
    to: str  # an email address, an E.164 number, a page-scoped id, or a chat conversation id
    body: str
    subject: str | None = None  # email only
    in_reply_to: str | None = None  # the customer's Message-ID, to thread an email answer
    scope: str | None = None  # the page a page-scoped id belongs to (Messenger, Instagram)


class SendError(Exception):
    """A provider refused a message. ``code`` names the refusal (``smtp_550``, ``http_503``,
    ``connection``), never the message or the address."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
        self.attempts = 1  # set by a sender that tried more than once


class TransientSendError(SendError):
    """Worth another attempt: a 4xx from SMTP, a 429 or 5xx from HTTP, a connection that failed."""


class PermanentSendError(SendError):
    """Never worth another attempt: a 5xx from SMTP, a 4xx (but 429) from HTTP."""


class Sender(Protocol):
    async def send(self, message: Outgoing) -> int:
        """Return once the provider accepted the message, with the attempts it took; raise a
        ``SendError`` otherwise."""
        ...


class NotifyStore(Protocol):
    async def calendar(self, queue: str) -> QueueCalendar | None: ...

    async def calendar_spec(self, queue: str) -> CalendarSpec | None: ...

    async def save_calendar_spec(self, queue: str, spec: CalendarSpec) -> None: ...

    async def calendar_specs(self) -> dict[str, CalendarSpec]: ...

    async def stats(self, queue: str) -> QueueStats | None: ...

    async def save_stats(self, stats: QueueStats) -> bool:
        """Keep the queue's figures unless newer ones are stored; whether these were kept."""
        ...

    async def case(self, case_id: str) -> CaseRecord | None: ...

    async def save_case(self, case: CaseRecord) -> None:
        """Write the case's record (last writer wins: one worker owns a customer's partition)."""
        ...

    async def last_told(self, conversation: str) -> datetime | None:
        """When the conversation was last acknowledged."""
        ...

    async def claim(self, send: SendRecord) -> bool:
        """Insert the send under its key; ``False`` when the key was claimed before (never send twice)."""
        ...

    async def finish(self, send: SendRecord) -> None:
        """Write the outcome of a claimed send."""
        ...

    async def unfinished(self, claimed_before: datetime) -> list[SendRecord]:
        """Sends claimed before then and never finished (their sender died mid-send)."""
        ...

    async def sends(self, case_id: str) -> list[SendRecord]: ...

    async def unpublished(self) -> list[SendRecord]:
        """Finished sends whose event was not yet acknowledged by the broker."""
        ...

    async def published(self, send_keys: Sequence[str]) -> None: ...

    async def promise(self, promise_id: str) -> PromiseRecord | None: ...

    async def save_promise(self, promise: PromiseRecord) -> bool:
        """Compare-and-set on ``promise.version`` (0: insert); whether it was written."""
        ...

    async def promises(self, case_id: str) -> list[PromiseRecord]: ...

    async def open_promises(self, due_before: datetime | None = None) -> list[PromiseRecord]:
        """Promises not yet kept, broken or cancelled (due before then)."""
        ...

    async def due_follow_ups(self, now: datetime) -> list[CaseRecord]:
        """Closed cases whose satisfaction survey is due and not yet sent."""
        ...

    async def save_delivery(self, delivery: DeliveryFollowUp) -> bool:
        """Keep a delivery to ask about, once per order; whether it was new."""
        ...

    async def delivery(self, order_id: str) -> DeliveryFollowUp | None: ...

    async def due_deliveries(self, now: datetime) -> list[DeliveryFollowUp]:
        """Deliveries whose survey is due and not yet sent."""
        ...

    async def delivery_surveyed(self, order_id: str) -> None: ...


class SurveyLinks(Protocol):
    def link(
        self,
        *,
        survey_id: str,
        case_id: str | None,
        customer_id: str,
        expires_at: datetime,
        order_id: str | None = None,
    ) -> str:
        """The address the customer answers the survey at, valid until ``expires_at``."""
        ...


class NotificationFeed(Protocol):
    async def publish(self, events: Sequence[Event[NotificationChanged]]) -> None:
        """Return once the broker acknowledged every event."""
        ...


class DeadSends(Protocol):
    async def send(self, send_key: str, error: SendError) -> None:
        """Record a message no provider will take on ``notifications.v1.dlq``: its key and the refusal
        code, never its text or address."""
        ...
