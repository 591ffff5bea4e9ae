"""Identity resolution as a pure decision: which customer an event belongs to, given the identity graph.

The outcome is one of ``NewCustomer``, ``Attach``, ``Merge`` or ``HoldForReview``. Ids are deterministic
(a new customer's id comes from its preferred identifier) so two consumers seeing the same new customer
at once converge on one id; the adapter's atomic upsert on the identifier key settles the race.

Guards against "blob" customers, where one identifier glues many people together:
- shared identifiers (a configurable block list, role mailboxes such as info@) and unparsed ones are kept
  on the event but never link anything;
- weak identifiers (cookies: a shared device) attach an event only when no strong one matches, and never
  merge customers;
- per-kind caps: an attach links only what fits; a merge that would exceed a cap, or join too many
  customers at once, is held for review instead;
- customers once merged and then split again by an operator are kept apart: a later event bridging them
  is held for review, never merged automatically.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from schemas.identifiers import CustomerIdentifier, IdentifierKind
from services.profile.core.ids import stable_id
from services.profile.core.observe import ObservedEvent

# The most stable identifier names a new customer (same order as ingest's Kafka key).
PREFERENCE = (
    IdentifierKind.CUSTOMER_NUMBER,
    IdentifierKind.EMAIL,
    IdentifierKind.PHONE,
    IdentifierKind.MESSENGER,
    IdentifierKind.INSTAGRAM,
    IdentifierKind.COOKIE,
)

ROLE_MAILBOXES = frozenset(
    {
        "info",
        "post",
        "postmottak",
        "kontakt",
        "kundeservice",
        "kundservice",
        "support",
        "admin",
        "office",
        "sales",
        "salg",
        "noreply",
        "no-reply",
        "donotreply",
        "mailer-daemon",
        "postmaster",
    }
)


def default_caps() -> Mapping[IdentifierKind, int]:
    return {
        IdentifierKind.CUSTOMER_NUMBER: 2,
        IdentifierKind.EMAIL: 5,
        IdentifierKind.PHONE: 5,
        IdentifierKind.MESSENGER: 5,
        IdentifierKind.INSTAGRAM: 5,
        IdentifierKind.COOKIE: 50,
    }


@dataclass(frozen=True)
class IdentityConfig:
    blocked_keys: frozenset[str] = frozenset()  # exact identifier keys, e.g. "phone:+4722000000"
    blocked_mailboxes: frozenset[str] = ROLE_MAILBOXES  # local parts of shared email addresses
    caps: Mapping[IdentifierKind, int] = field(default_factory=default_caps)  # most links per kind
    weak_kinds: frozenset[IdentifierKind] = frozenset({IdentifierKind.COOKIE})
    max_customers_per_merge: int = 2  # an event bridging more customers than this is held for review

    def usable(self, identifier: CustomerIdentifier) -> bool:
        """May this identifier link an event to a customer?"""
        if identifier.unparsed or identifier.key in self.blocked_keys:
            return False
        if identifier.kind is IdentifierKind.EMAIL:
            return identifier.value.split("@", 1)[0] not in self.blocked_mailboxes
        return True


class LinkRule(StrEnum):
    FIRST_SEEN = "first_seen"  # the identifier that created the customer
    SEEN_TOGETHER = "seen_together"  # on one event with an identifier already linked
    MERGED = "merged"  # moved from a merged-away customer to the survivor


@dataclass(frozen=True)
class Link:
    key: str
    kind: IdentifierKind
    customer_id: str
    event_id: str
    channel: str
    rule: LinkRule
    linked_at: datetime


@dataclass(frozen=True)
class KnownCustomer:
    """What resolution needs to know about a customer an identifier already links to."""

    first_seen: datetime
    link_counts: Mapping[IdentifierKind, int] = field(default_factory=dict)
    kept_apart: frozenset[str] = frozenset()  # customers an unmerge split from this one


@dataclass(frozen=True)
class NewCustomer:
    customer_id: str
    links: tuple[Link, ...]  # empty for an event with no usable identifier: a one-off customer
    unlinked: tuple[str, ...] = ()  # identifier keys left out by a cap


@dataclass(frozen=True)
class Attach:
    customer_id: str
    links: tuple[Link, ...]
    unlinked: tuple[str, ...] = ()


@dataclass(frozen=True)
class Merge:
    survivor: str
    merged_away: tuple[str, ...]
    links: tuple[Link, ...]  # new identifiers of the event, linked to the survivor


class ReviewReason(StrEnum):
    CAP_EXCEEDED = "cap_exceeded"
    TOO_MANY_CUSTOMERS = "too_many_customers"
    KEPT_APART = "kept_apart"


@dataclass(frozen=True)
class HoldForReview:
    reason: ReviewReason
    customers: tuple[str, ...]  # survivor first


Resolution = NewCustomer | Attach | Merge | HoldForReview


def preferred(identifiers: list[CustomerIdentifier]) -> list[CustomerIdentifier]:
    """Most stable kind first, then by key, without duplicates."""
    unique = {identifier.key: identifier for identifier in identifiers}
    return sorted(unique.values(), key=lambda i: (PREFERENCE.index(i.kind), i.key))


def survivor_order(customers: Mapping[str, KnownCustomer]) -> list[str]:
    """Who survives a merge: the customer seen first, then the smallest id, so every consumer agrees."""
    return sorted(customers, key=lambda customer_id: (customers[customer_id].first_seen, customer_id))


def resolve(
    event: ObservedEvent,
    links: Mapping[str, str],
    customers: Mapping[str, KnownCustomer],
    config: IdentityConfig,
) -> Resolution:
    """Decide where ``event`` belongs. ``links`` maps identifier keys (of this event's identifiers at
    least) to customer ids; ``customers`` describes every customer those links name."""
    usable = preferred([i for i in event.identifiers if config.usable(i)])
    strong = {links[i.key] for i in usable if i.key in links and i.kind not in config.weak_kinds}
    weak = {links[i.key] for i in usable if i.key in links and i.kind in config.weak_kinds}
    unlinked = [i for i in usable if i.key not in links]
    if len(strong) > 1:
        return _merge(event, sorted(strong), unlinked, customers, config)
    if strong or weak:
        # A weak identifier alone never merges: the event goes to the first of the customers it names.
        customer_id = next(iter(strong)) if strong else survivor_order({c: customers[c] for c in weak})[0]
        fitting, over = _within_caps(unlinked, customers[customer_id].link_counts, config)
        return Attach(
            customer_id,
            tuple(_link(i, customer_id, event, LinkRule.SEEN_TOGETHER) for i in fitting),
            tuple(i.key for i in over),
        )
    if not usable:
        return NewCustomer(stable_id("anonymous-customer", event.event_id), ())
    customer_id = stable_id("customer", usable[0].key)
    fitting, over = _within_caps(usable, {}, config)
    return NewCustomer(
        customer_id,
        tuple(
            _link(i, customer_id, event, LinkRule.FIRST_SEEN if n == 0 else LinkRule.SEEN_TOGETHER)
            for n, i in enumerate(fitting)
        ),
        tuple(i.key for i in over),
    )


def _merge(
    event: ObservedEvent,
    matched: list[str],
    unlinked: list[CustomerIdentifier],
    customers: Mapping[str, KnownCustomer],
    config: IdentityConfig,
) -> Merge | HoldForReview:
    ordered = survivor_order({customer_id: customers[customer_id] for customer_id in matched})
    if len(ordered) > config.max_customers_per_merge:
        return HoldForReview(ReviewReason.TOO_MANY_CUSTOMERS, tuple(ordered))
    if any(other in customers[customer_id].kept_apart for customer_id in ordered for other in ordered):
        return HoldForReview(ReviewReason.KEPT_APART, tuple(ordered))
    combined: Counter[IdentifierKind] = Counter()
    for customer_id in ordered:
        combined.update(customers[customer_id].link_counts)
    combined.update(i.kind for i in unlinked)
    if any(count > config.caps.get(kind, count) for kind, count in combined.items()):
        return HoldForReview(ReviewReason.CAP_EXCEEDED, tuple(ordered))
    survivor = ordered[0]
    return Merge(
        survivor,
        tuple(ordered[1:]),
        tuple(_link(i, survivor, event, LinkRule.SEEN_TOGETHER) for i in unlinked),
    )


def _within_caps(
    candidates: list[CustomerIdentifier], counts: Mapping[IdentifierKind, int], config: IdentityConfig
) -> tuple[list[CustomerIdentifier], list[CustomerIdentifier]]:
    used = Counter(counts)
    fitting: list[CustomerIdentifier] = []
    over: list[CustomerIdentifier] = []
    for identifier in candidates:
        cap = config.caps.get(identifier.kind)
        if cap is not None and used[identifier.kind] >= cap:
            over.append(identifier)
        else:
            used[identifier.kind] += 1
            fitting.append(identifier)
    return fitting, over


def _link(identifier: CustomerIdentifier, customer_id: str, event: ObservedEvent, rule: LinkRule) -> Link:
    return Link(
        key=identifier.key,
        kind=identifier.kind,
        customer_id=customer_id,
        event_id=event.event_id,
        channel=event.source_channel,
        rule=rule,
        linked_at=event.occurred_at,
    )
