"""Change notifications to CRMs (signed webhooks): what to send, to whom, in which order, and when to try
again or give up. Pure: the consumer and the dispatcher (``services.profile.webhooks``) do the I/O.

- A message of ``profiles.v1`` or ``cases.v1`` becomes zero or one webhook event (``webhook_events``):
  a profile change is ``customer.updated``, ``customer.merged`` (``merged_into`` newly set) or
  ``customer.unmerged`` (``merged_into`` newly cleared); a tombstone is ``customer.erased``; a case change
  is ``case.opened``, ``case.updated`` or ``case.closed``. A repeated profile change (``changed`` empty)
  is nothing new. The event id comes from the source message's CloudEvent id (a tombstone's from the
  customer id), so a redelivered message yields the same event and the same delivery.
- Each active subscription that asked for the type and existed when the message was published gets a
  delivery, ordered per customer by ``sequence`` (the message's timestamp, topic, partition, offset).
- Per (subscription, customer) only the oldest undelivered delivery is attempted (``plan_dispatch``), so
  one customer's events arrive in order and other customers are not held up.
- 2xx is delivered, 410 unsubscribes, anything else is tried again after an exponential backoff with a
  deterministic jitter (``RetrySchedule``) until ``give_up_after`` has passed: then the delivery is dead
  and the next one of that customer proceeds.

Payloads are CloudEvents in JSON structured mode. They carry ids, statuses and the customer view profile
already publishes, never names, identifiers or message text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from cloudevents.core.bindings.http import to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from schemas.cases import CaseChange, CaseChanged
from schemas.customers import CustomerView, ProfileChanged
from schemas.envelope import Event
from services.profile.core.ids import stable_id

PROFILES_TOPIC = "profiles.v1"
CASES_TOPIC = "cases.v1"
SOURCE = "/profile/webhooks"
CONTENT_TYPE = JSONFormat.CONTENT_TYPE + "; charset=utf-8"
SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
SECRET_MIN_BYTES = 24
SECRET_MAX_BYTES = 64
MAX_URL_LENGTH = 2048
# The fields ``ProfileChanged.changed`` can name (``services.profile.core.snapshot.published_fields``).
PUBLISHED_FIELDS = frozenset(CustomerView.model_fields) - {"customer_id", "as_of"} | {
    "name",
    "identifiers",
    "merged_into",
}
# Within one millisecond a case change sorts before the profile change of the same write.
_TOPIC_RANK = {CASES_TOPIC: 0, PROFILES_TOPIC: 1}


class WebhookEventType(StrEnum):
    CUSTOMER_UPDATED = "customer.updated"
    CUSTOMER_MERGED = "customer.merged"
    CUSTOMER_UNMERGED = "customer.unmerged"
    CUSTOMER_ERASED = "customer.erased"
    CASE_OPENED = "case.opened"
    CASE_UPDATED = "case.updated"
    CASE_CLOSED = "case.closed"

    @property
    def cloudevent_type(self) -> str:
        return f"helhet.{self.value}.v1"


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"  # the receiver answered 410 Gone


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"  # no 2xx within the give-up time
    CANCELLED = "cancelled"  # its subscription was unsubscribed by the receiver


_CASE_TYPES = {
    CaseChange.OPENED: WebhookEventType.CASE_OPENED,
    CaseChange.CLOSED: WebhookEventType.CASE_CLOSED,
    CaseChange.JOINED: WebhookEventType.CASE_UPDATED,
    CaseChange.MOVED: WebhookEventType.CASE_UPDATED,
    CaseChange.REOPENED: WebhookEventType.CASE_UPDATED,
}


@dataclass(frozen=True)
class SourceMessage:
    """A consumed message of ``profiles.v1`` or ``cases.v1``; ``event`` None is a tombstone."""

    topic: str
    partition: int
    offset: int
    timestamp: datetime  # the broker's record timestamp
    key: str  # the customer id
    event: Event[ProfileChanged] | Event[CaseChanged] | None

    @property
    def sequence(self) -> str:
        """Sorts one customer's messages in publishing order (zero-padded, so as text)."""
        millis = int(self.timestamp.timestamp() * 1000)
        return f"{millis:015d}-{_TOPIC_RANK.get(self.topic, 9)}-{self.partition:05d}-{self.offset:020d}"


@dataclass(frozen=True)
class WebhookEvent:
    event_id: str
    type: WebhookEventType
    customer_id: str
    subject: str  # the customer id, or the case id of a case event
    time: datetime
    data: Mapping[str, Any]  # JSON-ready


def webhook_events(message: SourceMessage) -> list[WebhookEvent]:
    """The webhook events a consumed message stands for (none, or one)."""
    if message.event is None:
        if message.topic != PROFILES_TOPIC:
            return []
        return [
            WebhookEvent(
                event_id=stable_id("webhook-erased", message.key),
                type=WebhookEventType.CUSTOMER_ERASED,
                customer_id=message.key,
                subject=message.key,
                time=message.timestamp,
                data={"customer_id": message.key},
            )
        ]
    data = message.event.data
    if isinstance(data, CaseChanged):
        if data.change is CaseChange.CUSTOMER_CHANGED:
            return []  # the customer's own change reaches the CRM as customer.updated; the case is as it was
        return [_case_event(message.event.id, message.event.time, data)]
    return _profile_events(message.event.id, message.event.time, data)


def _profile_events(event_id: str, time: datetime, change: ProfileChanged) -> list[WebhookEvent]:
    customer_id = change.customer.customer_id
    if not change.changed:  # a redelivered change, published before
        return []
    merge_moved = "merged_into" in change.changed
    if change.merged_into is not None:
        if not merge_moved:  # a merged-away customer's record moved; the merge was told already
            return []
        kind = WebhookEventType.CUSTOMER_MERGED
        data: dict[str, Any] = {"customer_id": customer_id, "merged_into": change.merged_into}
    else:
        # A first publication lists every field (``merged_into`` among them) and is an update; an unmerge
        # clears ``merged_into`` and moves some fields only.
        first = set(change.changed) >= PUBLISHED_FIELDS
        kind = (
            WebhookEventType.CUSTOMER_UNMERGED
            if merge_moved and not first
            else WebhookEventType.CUSTOMER_UPDATED
        )
        data = {
            "customer_id": customer_id,
            "changed": sorted(set(change.changed) - {"merged_into"}),
            "customer": change.customer.model_dump(mode="json"),
        }
    return [WebhookEvent(event_id, kind, customer_id, customer_id, time, data)]


def _case_event(event_id: str, time: datetime, case: CaseChanged) -> WebhookEvent:
    # The case's own fields only: the contact holds identifiers and a subject line.
    data = case.model_dump(
        mode="json",
        include={
            "change",
            "case_id",
            "customer_id",
            "status",
            "category",
            "channel",
            "language",
            "opened_at",
            "last_activity_at",
            "closed_at",
            "close_reason",
            "interactions",
        },
    )
    return WebhookEvent(event_id, _CASE_TYPES[case.change], case.customer_id, case.case_id, time, data)


def cloudevent_body(event: WebhookEvent) -> str:
    """The event as a structured-mode CloudEvent (JSON)."""
    attributes = {
        "id": event.event_id,
        "source": SOURCE,
        "type": event.type.cloudevent_type,
        "subject": event.subject,
        "time": event.time.astimezone(UTC),
        "datacontenttype": "application/json",
        "specversion": "1.0",
    }
    return to_structured(CloudEvent(attributes, dict(event.data)), JSONFormat()).body.decode()


# --- subscriptions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    url: str
    events: frozenset[WebhookEventType]
    status: SubscriptionStatus
    created_at: datetime
    created_by: str
    secret: str = field(repr=False)  # Standard Webhooks form, ``whsec_`` + base64

    def wants(self, event: WebhookEvent, published_at: datetime) -> bool:
        """Active, asked for this type, and there when it was published (a new subscription does not get
        the history of the compacted topic)."""
        return (
            self.status is SubscriptionStatus.ACTIVE
            and event.type in self.events
            and published_at >= self.created_at
        )


def url_problem(url: str, *, allow_insecure: bool) -> str | None:  # noqa: PLR0911 - one return per rule
    """Why a receiver URL is refused, or None. Never quotes the URL (it may hold a token).

    https only, to a host name or a public address; with ``allow_insecure`` (local runs and tests) also
    http to the loopback address. No credentials, no fragment, at most ``MAX_URL_LENGTH`` characters.
    """
    if len(url) > MAX_URL_LENGTH:
        return f"The URL is longer than {MAX_URL_LENGTH} characters."
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return "The URL holds whitespace or control characters."
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "The URL cannot be parsed."
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return "The URL names no host."
    if parts.username is not None or parts.password is not None:
        return "The URL must not carry credentials; the signature authenticates us."
    if parts.fragment:
        return "The URL must not have a fragment."
    if port == 0:
        return "The URL's port is not valid."
    loopback = _is_loopback(host)
    if parts.scheme == "http" and allow_insecure and loopback:
        return None
    if parts.scheme != "https":
        return "The URL must use https."
    if loopback or host.endswith((".localhost", ".local", ".internal")) or host == "localhost":
        return "The URL must name a public host."
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        # A DNS name with an alphabetic top-level label: numeric spellings of addresses ("127.1",
        # "2130706433", "0x7f000001", "0177.0.0.1") and non-ASCII look-alikes are not names.
        if not _PUBLIC_NAME.fullmatch(host):
            return "The URL must name a public host by its DNS name or a public IP address."
        return None  # resolved and checked again when sending
    return None if address.is_global else "The URL must name a public host."


_PUBLIC_NAME = re.compile(
    r"(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]"
)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def secret_problem(secret: str) -> str | None:
    """Why a signing secret is refused, or None. Never quotes the secret."""
    if not secret.startswith(SECRET_PREFIX):
        return f"The secret must start with {SECRET_PREFIX} followed by base64."
    try:
        raw = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        return "The secret is not valid base64 after its prefix."
    if not SECRET_MIN_BYTES <= len(raw) <= SECRET_MAX_BYTES:
        return f"The secret must decode to {SECRET_MIN_BYTES}-{SECRET_MAX_BYTES} bytes."
    return None


def secret_from(random_bytes: bytes) -> str:
    """A signing secret in Standard Webhooks form from ``random_bytes`` (the caller's CSPRNG)."""
    return SECRET_PREFIX + base64.b64encode(random_bytes).decode()


# --- deliveries --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewDelivery:
    delivery_id: str  # "<subscription id>:<event id>": a redelivered message writes the same one
    subscription_id: str
    event_id: str
    event_type: WebhookEventType
    customer_id: str
    sequence: str
    published_at: datetime
    body: str


def new_deliveries(message: SourceMessage, subscriptions: Iterable[Subscription]) -> list[NewDelivery]:
    """One delivery per subscription that wants an event of this message."""
    result: list[NewDelivery] = []
    wanting = list(subscriptions)
    for event in webhook_events(message):
        body: str | None = None
        for subscription in wanting:
            if subscription.wants(event, message.timestamp):
                body = body or cloudevent_body(event)
                result.append(
                    NewDelivery(
                        delivery_id=f"{subscription.subscription_id}:{event.event_id}",
                        subscription_id=subscription.subscription_id,
                        event_id=event.event_id,
                        event_type=event.type,
                        customer_id=event.customer_id,
                        sequence=message.sequence,
                        published_at=message.timestamp,
                        body=body,
                    )
                )
    return result


@dataclass(frozen=True)
class Lane:
    """One customer's deliveries to one subscription: delivered one at a time, in order."""

    subscription_id: str
    customer_id: str


@dataclass(frozen=True)
class PendingDelivery:
    delivery_id: str
    event_id: str
    lane: Lane
    sequence: str
    next_attempt_at: datetime
    attempts: int  # made since it became pending (created or replayed)
    pending_since: datetime  # the give-up time counts from here


@dataclass(frozen=True)
class DispatchPlan:
    attempt: list[PendingDelivery]  # the due heads of their lanes
    # (head, until): the later deliveries of the head's lane are not due before ``until``
    hold: list[tuple[PendingDelivery, datetime]]


def plan_dispatch(
    candidates: Iterable[PendingDelivery],
    heads: Mapping[Lane, PendingDelivery],
    now: datetime,
    *,
    lease: timedelta,
) -> DispatchPlan:
    """Which of the due ``candidates`` to attempt now: per lane only its head (the oldest pending one by
    sequence), and only when the head itself is due.

    A lane with a due delivery behind its head is held, so the dispatcher's due list holds heads and not
    one busy customer's backlog: until the head's next attempt when it waits, or for the ``lease`` of
    the attempt made now (finishing the head releases the next one at once)."""
    attempt: list[PendingDelivery] = []
    hold: list[tuple[PendingDelivery, datetime]] = []
    lanes: dict[Lane, bool] = {}
    for candidate in candidates:
        head = heads.get(candidate.lane)
        behind = head is not None and candidate.delivery_id != head.delivery_id
        lanes[candidate.lane] = lanes.get(candidate.lane, False) or behind
    for lane, followers_due in lanes.items():
        head = heads.get(lane)
        if head is None:  # finished since the due list was read
            continue
        due = head.next_attempt_at <= now
        if due:
            attempt.append(head)
        if followers_due:
            hold.append((head, now + lease if due else head.next_attempt_at))
    return DispatchPlan(attempt, hold)


class Outcome(StrEnum):
    DELIVERED = "delivered"
    GONE = "gone"
    FAILED = "failed"


def outcome_of(status_code: int | None) -> Outcome:
    """2xx delivered; 410 the receiver wants no more; anything else, or no answer, failed."""
    if status_code is not None and 200 <= status_code < 300:
        return Outcome.DELIVERED
    if status_code == 410:
        return Outcome.GONE
    return Outcome.FAILED


@dataclass(frozen=True)
class RetrySchedule:
    initial: timedelta = timedelta(seconds=5)
    maximum: timedelta = timedelta(hours=1)
    give_up_after: timedelta = timedelta(hours=24)

    def delay(self, attempts: int, delivery_id: str) -> timedelta:
        """The wait after the ``attempts``-th failed attempt: ``initial * 2**(attempts-1)`` up to
        ``maximum``, less up to 20 % derived from the delivery id (so receivers that failed together do
        not get their retries all at once, and the same delivery always waits the same)."""
        base: timedelta = min(self.maximum, self.initial * 2 ** min(max(attempts - 1, 0), 20))
        spread = hashlib.sha256(f"{delivery_id}:{attempts}".encode()).digest()[0] / 255
        return base * (1 - 0.2 * spread)


@dataclass(frozen=True)
class Settlement:
    """What one attempt leaves: the delivery's new status and, while pending, when to try again."""

    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = None
    unsubscribe: bool = False


def settle(delivery: PendingDelivery, outcome: Outcome, now: datetime, schedule: RetrySchedule) -> Settlement:
    attempts = delivery.attempts + 1
    if outcome is Outcome.DELIVERED:
        return Settlement(DeliveryStatus.DELIVERED, attempts)
    if outcome is Outcome.GONE:
        return Settlement(DeliveryStatus.CANCELLED, attempts, unsubscribe=True)
    deadline = delivery.pending_since + schedule.give_up_after
    if now >= deadline:
        return Settlement(DeliveryStatus.DEAD, attempts)
    # The last try falls on the deadline itself, so a receiver back just before it is not missed.
    return Settlement(
        DeliveryStatus.PENDING, attempts, min(now + schedule.delay(attempts, delivery.delivery_id), deadline)
    )
