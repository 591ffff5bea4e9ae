"""What the profile service layer needs from the outside world."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from schemas.cases import CaseChanged
from schemas.commerce import OrderDelivered
from schemas.customers import ProfileChanged
from schemas.envelope import Event
from schemas.identifiers import IdentifierKind
from services.profile.core.cases import Case
from services.profile.core.identity import Link, ReviewReason
from services.profile.core.integrations import ApiKey, Integration
from services.profile.core.merge import MergeRecord
from services.profile.core.observe import ObservedEvent, ProfileRequest
from services.profile.core.odata_query import ODataQuery
from services.profile.core.profile import Profile, ProfileFacts
from services.profile.core.webhooks import (
    DeliveryStatus,
    Lane,
    NewDelivery,
    PendingDelivery,
    Settlement,
    Subscription,
    WebhookEventType,
)


@dataclass(frozen=True)
class StoredLink:
    customer_id: str
    linked_at: datetime


# A message profile publishes: a case change on ``cases.v1``, a profile change on ``profiles.v1`` or a
# delivered order on ``deliveries.v1``.
Outgoing = Event[CaseChanged] | Event[ProfileChanged] | Event[OrderDelivered]


@dataclass(frozen=True)
class OutboxEntry:
    """The messages one write of a customer caused, kept with it until they are surely published: a batch
    redelivered after a crash between the write and the publish finds them here and publishes them again
    (same ids, so consumers drop what they already had)."""

    event_ids: frozenset[str]  # the events whose processing caused them
    messages: tuple[Outgoing, ...]
    written_at: datetime


@dataclass(frozen=True)
class KeptOutbox:
    """An outbox as stored; its messages are decoded only when a redelivered batch publishes them again
    (decoding every outbox on every read cost more than the rest of reading a customer)."""

    event_ids: frozenset[str]
    messages: Callable[[], tuple[Outgoing, ...]]
    written_at: datetime | None  # None: stored before entries had a time
    # Known here to be over: its messages published and its events on the timeline, so a redelivery
    # skips those events and never comes back for it (only a worker that finished the batch knows).
    settled: bool = False


@dataclass(frozen=True)
class Holding:
    """A customer's recorded events and identity links (what a merge record keeps of each side)."""

    event_ids: frozenset[str]
    links: tuple[Link, ...]


@dataclass(frozen=True)
class StoredMerge:
    record: MergeRecord
    undone_at: datetime | None = None


@dataclass(frozen=True)
class StoredCustomer:
    customer_id: str
    facts: ProfileFacts  # without event ids: the timeline holds those
    version: int  # compare-and-set: a write names the version it read
    merged_into: str | None = None
    cases: Mapping[str, Case] = field(default_factory=dict)
    link_counts: Mapping[IdentifierKind, int] | None = None  # None: a document from before counts were kept
    published: Mapping[str, Any] | None = None  # the fields last published on profiles.v1
    outbox: tuple[KeptOutbox, ...] = ()
    kept_apart: frozenset[str] = frozenset()  # customers an unmerge split from this one
    write_id: str | None = None  # the last write's: a document deleted and written anew has another


@dataclass(frozen=True)
class CustomerWrite:
    profile: Profile  # the facts to store and the views computed from them
    expected_version: int  # 0: the customer has no document yet
    # How many of the stored outbox entries (the newest) stay, beside the new one if there is one.
    outbox_kept: int
    expected_write_id: str | None = None  # with the version: the last write of what was read
    merged_into: str | None = None
    cases: Mapping[str, Case] = field(default_factory=dict)
    link_counts: Mapping[IdentifierKind, int] = field(default_factory=dict)
    published: Mapping[str, Any] = field(default_factory=dict)
    outbox: OutboxEntry | None = None
    kept_apart: frozenset[str] = frozenset()
    refresh_at: datetime | None = None  # when time alone may move the profile (``next_refresh_at``)


@dataclass(frozen=True)
class TimelineEntry:
    event: ObservedEvent
    customer_id: str
    case_id: str | None = None  # the case the event opened, joined or closed


@dataclass(frozen=True)
class ReviewHold:
    """A merge that identity resolution refused to apply automatically."""

    event_id: str
    reason: ReviewReason
    customers: tuple[str, ...]  # survivor first
    held_at: datetime


class RefreshStore(Protocol):
    async def due_for_refresh(self, now: datetime, limit: int) -> list[tuple[str, int]]:
        """Up to ``limit`` customers (id, version) whose time to look again is at or before ``now``."""


class RefreshRequester(Protocol):
    async def request(self, events: Sequence[Event[ProfileRequest]]) -> None:
        """Onto the worker's requests; returns once the broker acknowledged every one."""


class ProfileStore(Protocol):
    async def recorded(self, event_ids: Collection[str]) -> set[str]:
        """The event ids already on a timeline: fully processed before."""

    async def links(self, keys: Collection[str]) -> dict[str, StoredLink]:
        """The stored links of these identifier keys."""

    async def link_counts(self, customer_ids: Collection[str]) -> dict[str, dict[IdentifierKind, int]]:
        """How many identifiers of each kind link to each customer, counted from the links (for documents
        written before the counts were kept with the customer)."""

    async def customers(
        self, customer_ids: Collection[str], events: Collection[str] = ()
    ) -> dict[str, StoredCustomer]:
        """The stored customers among these ids. Their outboxes' messages are there only for the outboxes
        that name one of ``events`` (asking for them when nothing else does is reading for nothing)."""

    async def add_case_owners(self, owners: Mapping[str, str]) -> None:
        """Remember which customer opened each case (case id → customer id), so a case is found by its id
        alone; a merge is followed from there. Owners already known are left as they are."""

    async def add_links(self, links: Sequence[Link]) -> dict[str, str]:
        """Insert new links; an identifier already linked keeps its customer. Returns the keys that turned
        out to be linked to another customer than planned (key → that customer)."""

    async def save_customers(self, writes: Sequence[CustomerWrite], write_id: str) -> set[str]:
        """Write each customer only if its stored version is still the expected one. Returns the ids whose
        write lost a race (another writer came first): re-read and re-apply them."""

    async def repoint(self, merged: Mapping[str, str]) -> None:
        """Move links and timeline entries of merged-away customers (merged-away id → survivor id)."""

    async def hold_for_review(self, holds: Sequence[ReviewHold]) -> None:
        """Keep merges held for review (once per event)."""

    async def record_timeline(self, entries: Sequence[TimelineEntry]) -> None:
        """Insert timeline entries; entries already recorded are left as they are."""

    async def holdings(self, customer_ids: Collection[str]) -> dict[str, Holding]:
        """What a merge record keeps of each customer: its timeline's event ids and its links."""

    async def save_merges(self, records: Sequence[MergeRecord]) -> None:
        """Keep merge records (once per merge id) so a merge can be undone."""

    async def merge(self, merge_id: str) -> StoredMerge | None:
        """A merge record and whether it was undone."""

    async def mark_unmerged(self, merge_id: str, at: datetime) -> None:
        """The merge was undone."""

    async def timeline_events(self, customer_ids: Collection[str]) -> list[ObservedEvent]:
        """Every event on these customers' timelines, as observed (an unmerge folds them again)."""

    async def links_of(self, customer_ids: Collection[str]) -> list[Link]:
        """Every identity link of these customers."""

    async def relink(self, links: Sequence[Link]) -> None:
        """Store these links as they are now (an unmerge gives identifiers back to their customer)."""

    async def set_case_owners(self, owners: Mapping[str, str]) -> None:
        """Move cases (case id → customer id) to another customer."""

    async def merged_into(self, customer_ids: Collection[str]) -> dict[str, str]:
        """Which of these customers are merged away, and into whom."""

    async def move_timeline(self, owners: Mapping[str, str]) -> None:
        """Put these timeline entries (event id → customer id) under another customer."""


class SuppressionReader(Protocol):
    async def suppressions(self, key_hashes: Collection[str]) -> dict[str, datetime]:
        """The erase time of each suppressed key hash among these (hash → erased_at)."""


class ErasedCustomers(Protocol):
    async def erased(self, customer_ids: Collection[str]) -> set[str]:
        """Those of these customers that were erased."""


class ChangeFeed(Protocol):
    async def publish(self, messages: Sequence[Outgoing]) -> None:
        """Publish, in order per key; return once the broker acknowledged every message."""


@dataclass(frozen=True)
class CustomerSummary:
    """The views computed when the customer was last written (as of ``as_of``)."""

    tier: str
    historic_value: Decimal
    predicted_lifetime_value: Decimal
    lifecycle: str
    needs_recovery: bool
    recovery_reason: str | None
    language: str | None
    preferred_channel: str | None
    last_agent: str | None
    as_of: datetime
    # Recency (days since the latest purchase, as of ``as_of``), frequency (orders) and monetary (average
    # net order value); None in a summary written before they were kept.
    recency_days: int | None = None
    frequency: int | None = None
    monetary: Decimal | None = None
    orders_without_rate: int = 0  # orders in a currency without an exchange rate: not in the value


@dataclass(frozen=True)
class CustomerRecord:
    customer_id: str
    facts: ProfileFacts
    summary: CustomerSummary | None  # None only for a document written before summaries existed
    merged_into: str | None = None
    cases: tuple[Case, ...] = ()  # newest activity first


@dataclass(frozen=True)
class TimelinePosition:
    """Where a page of a timeline ends: entries are ordered by event time, then event id, newest first."""

    occurred_at: datetime
    event_id: str


@dataclass(frozen=True)
class TimelineItem:
    event_id: str
    occurred_at: datetime
    kind: str
    event_type: str
    channel: str
    source: str
    details: Mapping[str, Any]  # what the event said: contact, order, experience, phone step, changes
    case_id: str | None = None


class ProfileReader(Protocol):
    async def customer(self, customer_id: str) -> CustomerRecord | None:
        """The stored customer (merged-away ones too: ``merged_into`` names the survivor)."""

    async def linked_customer(self, key: str) -> str | None:
        """The customer an identifier key links to."""

    async def case_owner(self, case_id: str) -> str | None:
        """The customer that opened a case (it may have been merged away since)."""

    async def merge(self, merge_id: str) -> StoredMerge | None:
        """A merge record and whether it was undone."""

    async def merges_of(self, customer_id: str) -> list[StoredMerge]:
        """The merges a customer survived or was merged away in, newest first."""

    async def timeline(
        self,
        customer_id: str,
        *,
        limit: int,
        before: TimelinePosition | None = None,
        channel: str | None = None,
        kind: str | None = None,
        case_id: str | None = None,
    ) -> list[TimelineItem]:
        """Up to ``limit`` timeline entries strictly older than ``before``, newest first."""


class ReviewStatus(StrEnum):
    OPEN = "open"
    APPROVED = "approved"  # merged on request
    DISMISSED = "dismissed"  # not one person


@dataclass(frozen=True)
class Review:
    review_id: str  # the event that bridged the customers
    reason: ReviewReason
    customers: tuple[str, ...]  # survivor first
    held_at: datetime
    status: ReviewStatus
    decided_by: str | None = None
    decided_at: datetime | None = None


class Reviews(Protocol):
    async def in_status(self, status: ReviewStatus, limit: int) -> list[Review]:
        """Held merges in this status, oldest first."""

    async def get(self, review_id: str) -> Review | None: ...

    async def decide(self, review_id: str, status: ReviewStatus, by: str, at: datetime) -> bool:
        """Set the decision of an open review; False when it was decided already."""


class IntegrationStore(Protocol):
    async def integration(self, integration_id: str) -> Integration | None: ...

    async def save_integration(self, integration: Integration) -> None:
        """Create or replace the integration (its keys stay)."""

    async def api_key(self, key_id: str) -> ApiKey | None: ...

    async def api_keys(self, integration_id: str) -> list[ApiKey]:
        """The integration's keys, newest first."""

    async def save_api_key(self, key: ApiKey) -> None:
        """Create or replace a key record."""


# --- change notifications to CRMs (signed webhooks) --------------------------------------------------


@dataclass(frozen=True)
class DeliveryRecord:
    """A webhook delivery as the delivery log shows it (without its body)."""

    subscription_id: str
    event_id: str  # the CloudEvent id and ``webhook-id``; the delivery's id within its subscription
    event_type: WebhookEventType
    customer_id: str
    sequence: str
    status: DeliveryStatus
    attempts: int
    published_at: datetime
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_result: str | None  # "http_500", "timeout", "connection": codes only
    finished_at: datetime | None


@dataclass(frozen=True)
class ClaimedDelivery:
    pending: PendingDelivery
    body: str
    # This claim's own mark: only its holder settles the delivery, and only while nothing (a replay, a
    # cancel, another dispatcher after the lease ran out) has claimed or reset it since.
    claim: str


class WebhookSubscriptions(Protocol):
    async def add(self, subscription: Subscription) -> None: ...

    async def get(self, subscription_id: str) -> Subscription | None: ...

    async def every(self, limit: int) -> list[Subscription]:
        """Subscriptions, oldest first."""

    async def active(self) -> list[Subscription]: ...

    async def remove(self, subscription_id: str) -> bool:
        """False when there was none."""

    async def unsubscribe(self, subscription_id: str, at: datetime) -> bool:
        """The receiver answered 410: nothing more is sent. False when it was not active any more."""


class WebhookDeliveries(Protocol):
    async def add(self, deliveries: Sequence[NewDelivery], now: datetime) -> None:
        """Insert new deliveries, pending and due now; one already there (a redelivered message) is left
        as it is."""

    async def forget_customer(self, customer_id: str) -> int:
        """An erased customer: remove its deliveries except the ones telling the erasure."""

    async def due(self, now: datetime, limit: int) -> list[PendingDelivery]:
        """Pending deliveries whose next attempt is due, earliest first."""

    async def heads(self, lanes: Collection[Lane]) -> dict[Lane, PendingDelivery]:
        """The oldest pending delivery (by sequence) of each lane."""

    async def hold(self, head: PendingDelivery, until: datetime) -> None:
        """The later deliveries of the head's lane are not due before ``until``."""

    async def release(self, lane: Lane, now: datetime) -> None:
        """The lane's head finished: the next one is due now."""

    async def claim(self, delivery_id: str, now: datetime, lease_until: datetime) -> ClaimedDelivery | None:
        """Take a pending delivery to attempt it (no other dispatcher will until ``lease_until``); None
        when it is not pending or another one holds it."""

    async def settle(
        self, claimed: ClaimedDelivery, settlement: Settlement, *, at: datetime, result: str | None
    ) -> bool:
        """Records the attempt's outcome; False when the claim was overtaken (the delivery stays as the
        later claim, replay or cancel left it)."""
        ...

    async def cancel_pending(self, subscription_id: str, at: datetime) -> int: ...

    async def remove_subscription(self, subscription_id: str) -> int:
        """Every delivery of a deleted subscription."""

    async def page(
        self, subscription_id: str, *, status: DeliveryStatus | None, limit: int, before: str | None
    ) -> list[DeliveryRecord]:
        """Newest first (by sequence), strictly before the ``before`` sequence."""

    async def get(self, subscription_id: str, event_id: str) -> DeliveryRecord | None: ...

    async def replay(
        self,
        subscription_id: str,
        *,
        now: datetime,
        event_id: str | None = None,
        since: datetime | None = None,
    ) -> int:
        """Make deliveries pending again, due now with a fresh give-up time: one (``event_id``) or every
        one published at or after ``since``. Returns how many."""


@dataclass(frozen=True)
class WebhookRequest:
    url: str
    secret: str = field(repr=False)
    message_id: str  # ``webhook-id``: the same on every attempt, so the receiver can drop repeats
    body: str
    sent_at: datetime  # ``webhook-timestamp``


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None  # None: no answer
    reason: str | None  # why it failed, as a code: "http_500", "timeout", "connection"


class WebhookSender(Protocol):
    async def send(self, request: WebhookRequest) -> AttemptResult: ...


# One OData row: property name -> value (str, int, Decimal, bool, datetime or None).
Row = dict[str, Any]


@dataclass(frozen=True)
class ODataPage:
    rows: list[Row]
    more: bool  # a next page exists
    count: int | None  # all matching rows, when asked for


class ReaderBusyError(Exception):
    """Too many expensive reads are running already; the caller may retry shortly."""


class ODataReader(Protocol):
    async def page(self, query: ODataQuery) -> ODataPage:
        """The rows of one page of a checked query (at most ``query.page_size``). Raises
        ReaderBusyError when it would read widely while too many such reads run."""

    async def survivor(self, customer_id: str) -> str | None:
        """The live customer an id stands for: itself, or the customer it was merged into."""
