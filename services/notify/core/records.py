"""What notify remembers: each case it may speak about, each promise made, each message sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from schemas.cases import CaseCategory, CaseStatus
from schemas.interactions import Channel
from schemas.notifications import ExpectedAnswer, MessageKind, NotificationStatus


@dataclass(frozen=True)
class Address:
    """Where to answer the customer: a channel, the address on it, and how to thread the answer."""

    channel: Channel
    to: str
    scope: str | None = None  # the page of a page-scoped id
    in_reply_to: str | None = None


@dataclass(frozen=True)
class Reader:
    """Whom a message is for, as sending needs them: their language, the reference they quote, a number
    to text when mail bounces, and whether they refused service messages."""

    customer_id: str
    case_id: str | None
    reference: str  # the case's or order's, as the customer quotes it
    language: str | None = None
    phone: str | None = None
    consents_to_service: bool | None = None


def case_reference(case_id: str) -> str:
    """The case as the customer quotes it: short, and no customer data."""
    return case_id[:8].upper()


@dataclass(frozen=True)
class CaseRecord:
    case_id: str
    customer_id: str
    queue: str
    channel: Channel  # where the case was opened
    category: CaseCategory
    status: CaseStatus
    opened_at: datetime
    language: str | None = None
    address: Address | None = None  # the last contact's, for status updates and the survey
    phone: str | None = None  # an E.164 number the customer gave: SMS when email bounces, callbacks
    consents_to_service: bool | None = None  # None: never asked (service messages need no opt-in)
    agent_replied: bool = False
    agent_id: str | None = None  # the agent who accepted it
    closed_at: datetime | None = None
    close_reason: str | None = None
    survey_due_at: datetime | None = None
    survey_sent: bool = False

    @property
    def reader(self) -> Reader:
        return Reader(
            self.customer_id,
            self.case_id,
            case_reference(self.case_id),
            self.language,
            self.phone,
            self.consents_to_service,
        )


@dataclass(frozen=True)
class DeliveryFollowUp:
    """An order delivered: "are you satisfied?" goes out once, a while after, where the order said."""

    order_id: str
    customer_id: str
    delivered_at: datetime
    due_at: datetime
    address: Address | None
    language: str | None = None
    phone: str | None = None
    consents_to_service: bool | None = None
    sent: bool = False

    @property
    def reader(self) -> Reader:
        return Reader(
            self.customer_id,
            None,
            self.order_id[:20],
            self.language,
            self.phone,
            self.consents_to_service,
        )


class SendState(StrEnum):
    CLAIMED = "claimed"  # the key is ours; the provider has not answered yet
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True)
class SendRecord:
    send_key: str
    case_id: str | None
    customer_id: str
    kind: MessageKind
    address: Address
    language: str
    body: str
    claimed_at: datetime
    subject: str | None = None
    conversation: str | None = None  # what "once per conversation per day" counts by
    expected_answer: ExpectedAnswer | None = None
    promise_id: str | None = None
    state: SendState = SendState.CLAIMED
    reason: str | None = None
    attempts: int = 0
    finished_at: datetime | None = None
    published: bool = False

    @property
    def status(self) -> NotificationStatus | None:
        """The published status, once the send finished."""
        if self.state is SendState.SENT:
            return NotificationStatus.SENT
        if self.state is SendState.FAILED:
            return NotificationStatus.FAILED
        return None


class PromiseKind(StrEnum):
    ANSWER_BY = "answer_by"  # the first answer, by the latest of the expected answer time
    CALLBACK = "callback"  # a call back within the window the customer asked for
    SUPPLIER_UPDATE = "supplier_update"  # an update by then while we wait for a supplier (an agent made it)


class PromiseState(StrEnum):
    OPEN = "open"
    KEPT = "kept"
    BROKEN = "broken"  # its time passed before it was kept
    CANCELLED = "cancelled"  # the case closed before it was due (nothing left to keep)


@dataclass(frozen=True)
class PromiseRecord:
    promise_id: str
    case_id: str
    customer_id: str
    kind: PromiseKind
    queue: str
    made_at: datetime
    due_at: datetime  # the latest time it is kept by
    state: PromiseState = PromiseState.OPEN
    starts_at: datetime | None = None  # the earliest said, or the start of a callback window
    updates: int = 0  # updated times the customer was sent
    settled_at: datetime | None = None
    version: int = 0
