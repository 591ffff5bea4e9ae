"""What profile tells the other services about a customer: ``ProfileChanged`` on the compacted
``profiles.v1`` (keyed by customer id; a null value erases) and the ``CustomerView`` every case carries."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import Field

from schemas.envelope import Payload, UtcDatetime
from schemas.identifiers import CustomerIdentifier


class Tier(StrEnum):
    STANDARD = "standard"
    SILVER = "silver"
    GOLD = "gold"
    PLATINUM = "platinum"


class LifecycleStage(StrEnum):
    PROSPECT = "prospect"  # known, never bought
    NEW = "new"  # first purchase recently
    ACTIVE = "active"
    AT_RISK = "at_risk"  # no purchase for a while
    CHURNED = "churned"  # no purchase for long
    WON_BACK = "won_back"  # bought again after having churned


class ExperienceReason(StrEnum):
    COMPLAINT = "complaint"
    UNANSWERED_CALL = "unanswered_call"
    LONG_WAIT = "long_wait"
    BROKEN_PROMISE = "broken_promise"
    PRAISE = "praise"
    KEPT_PROMISE = "kept_promise"
    ORDER_DELIVERED = "order_delivered"
    NEGATIVE_FEEDBACK = "negative_feedback"  # a survey answered 1 or 2 of 5
    POSITIVE_FEEDBACK = "positive_feedback"  # a survey answered 4 or 5 of 5


class Purpose(StrEnum):
    SERVICE_MESSAGES = "service_messages"
    MARKETING = "marketing"
    PROFILING = "profiling"


class CustomerView(Payload):
    """What routing and notify decide with, computed by profile at ``as_of``."""

    customer_id: str = Field(min_length=1, max_length=100)
    tier: Tier
    historic_value: Decimal = Field(description="Net of returns and refunds, in the shop's currency.")
    predicted_lifetime_value: Decimal
    lifecycle: LifecycleStage
    needs_recovery: bool = Field(description="Bad experiences outweigh good ones (weighted 12:1).")
    recovery_reason: ExperienceReason | None = None
    language: str | None = Field(default=None, max_length=35, description="Stated or observed, BCP 47.")
    preferred_channel: str | None = Field(default=None, max_length=50)
    last_agent: str | None = Field(default=None, max_length=200)
    consent: dict[Purpose, bool] = Field(
        default_factory=dict, description="Purposes the customer decided on; absent means never asked."
    )
    as_of: UtcDatetime


class ProfileChanged(Payload):
    """The latest profile of one customer and which of its fields this change moved."""

    customer: CustomerView
    name: str | None = Field(default=None, max_length=300)
    identifiers: list[CustomerIdentifier] = Field(default_factory=list, max_length=1000)
    merged_into: str | None = Field(
        default=None, max_length=100, description="Set when this customer was merged into another."
    )
    changed: list[str] = Field(
        default_factory=list,
        description="Fields that differ from the previous message of this customer "
        "(empty when a redelivered change repeats one already published).",
    )


class ConsentRecorded(Payload):
    """A consent decision the customer gave outside the channels (a CRM form, an agent, a preference
    centre). Keyed by customer id; the newest decision per purpose wins."""

    customer_id: str = Field(min_length=1, max_length=100)
    purpose: Purpose
    granted: bool
    source: str = Field(min_length=1, max_length=200, description="Who recorded it, e.g. api:<client>.")
    occurred_at: UtcDatetime = Field(description="When the customer decided.")


class MergeRequested(Payload):
    """Merge customers known to be one person (an agent decided, or a held merge was approved). The
    customer seen first survives. Keyed by the first customer id."""

    customer_ids: list[str] = Field(min_length=2, max_length=10)
    review_id: str | None = Field(default=None, max_length=200, description="The held merge approved.")
    requested_by: str = Field(min_length=1, max_length=200)
    requested_at: UtcDatetime


class ProfileRefreshDue(Payload):
    """Time alone may have moved a customer's profile: a lifecycle threshold passed, a call-back promise
    ran out, an experience left the ledger's window. Profile asks itself to look again; keyed by customer
    id. ``version`` is the stored customer's: one request per version however often it is asked."""

    customer_id: str = Field(min_length=1, max_length=100)
    version: int = Field(ge=1)
    due_at: UtcDatetime


class UnmergeRequested(Payload):
    """Undo a merge exactly: both customers restored, later events re-attributed. Keyed by the survivor."""

    merge_id: str = Field(min_length=1, max_length=100)
    survivor_id: str = Field(min_length=1, max_length=100)
    requested_by: str = Field(min_length=1, max_length=200)
    requested_at: UtcDatetime
