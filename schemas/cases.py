"""``CaseChanged`` on ``cases.v1``: every change of a case, with the snapshot of its customer that routing
and notify need, so neither ever calls back into profile. Keyed by customer id."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.customers import CustomerView
from schemas.envelope import Payload, UtcDatetime
from schemas.identifiers import CustomerIdentifier
from schemas.interactions import Channel, Direction, InteractionEvent


class CaseCategory(StrEnum):
    ORDER = "order"
    SHIPPING = "shipping"
    DELIVERY = "delivery"
    COMPLAINT_RETURN = "complaint_return"
    EXCHANGE = "exchange"
    PRODUCT_QUESTION = "product_question"
    OTHER = "other"


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class CaseChange(StrEnum):
    OPENED = "opened"
    JOINED = "joined"  # another message of the customer joined the open case
    CLOSED = "closed"
    MOVED = "moved"  # now under another customer (a merge or an unmerge)
    REOPENED = "reopened"  # closed, then the customer said it was not solved (negative feedback)
    # The customer's snapshot moved while the case is open (tier, lifecycle, needs-recovery, language, last
    # agent: an order, a complaint elsewhere, a broken promise, time alone), so routing ranks it anew.
    CUSTOMER_CHANGED = "customer_changed"


class CaseContact(Payload):
    """The contact that caused the change: where and how to answer it."""

    event_id: str = Field(min_length=1, max_length=200)
    channel: Channel
    direction: Direction
    step: InteractionEvent
    identifiers: list[CustomerIdentifier] = Field(
        min_length=1, max_length=20, description="Whom to answer, as the contact named them."
    )
    conversation_id: str | None = Field(default=None, max_length=200)
    thread_id: str | None = Field(default=None, max_length=998)
    source_message_id: str | None = Field(default=None, max_length=998, description="For In-Reply-To.")
    subject: str | None = Field(default=None, max_length=998)
    auto_submitted: bool = False
    callback_window_start: UtcDatetime | None = None
    callback_window_end: UtcDatetime | None = None
    occurred_at: UtcDatetime


class CaseChanged(Payload):
    change: CaseChange
    case_id: str = Field(min_length=1, max_length=100)
    customer_id: str = Field(min_length=1, max_length=100)
    status: CaseStatus
    category: CaseCategory
    channel: Channel = Field(description="Where the case was opened.")
    language: str | None = Field(default=None, max_length=35, description="The case's, else the customer's.")
    opened_at: UtcDatetime
    last_activity_at: UtcDatetime
    closed_at: UtcDatetime | None = None
    close_reason: str | None = Field(default=None, max_length=200)
    interactions: int = Field(ge=1, description="How many contacts the case holds.")
    contact: CaseContact | None = Field(
        default=None, description="The contact that opened or joined the case; none for other changes."
    )
    customer: CustomerView


class CloseReason(StrEnum):
    RESOLVED = "resolved"
    NO_REPLY_NEEDED = "no_reply_needed"
    DUPLICATE = "duplicate"
    SPAM = "spam"


class CaseCloseRequested(Payload):
    """Close a case (an agent, a CRM or another system decided it is done). Keyed by customer id."""

    case_id: str = Field(min_length=1, max_length=100)
    customer_id: str = Field(min_length=1, max_length=100)
    reason: CloseReason
    requested_by: str = Field(min_length=1, max_length=200, description="The client that asked.")
    requested_at: UtcDatetime
