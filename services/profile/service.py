"""The profile service layer: a batch of decoded events in, identity links, customer facts and timeline
entries out, in a handful of bulk writes.

Safe to run twice and in parallel:
- events already on a timeline are skipped up front, so a replay writes nothing;
- the timeline entry is written last; a crash before it only means the events are applied again, and
  every part of ``ProfileFacts`` is idempotent (keyed by event id or newest-wins), so re-applying changes
  nothing — and an unchanged customer is not written at all;
- links are inserted on their unique identifier key, customers are written with compare-and-set on a
  version; a lost race re-plans the batch from what is stored now, so two consumers never create two
  customers for one identifier.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from schemas.envelope import Event
from schemas.identifiers import IdentifierKind
from services.profile.core.experience import PhoneStep
from services.profile.core.identity import (
    Attach,
    HoldForReview,
    IdentityConfig,
    KnownCustomer,
    Link,
    Merge,
    NewCustomer,
    resolve,
)
from services.profile.core.merge import combine
from services.profile.core.observe import ObservedEvent, ProfilePayload, observe
from services.profile.core.profile import ProfileConfig, ProfileFacts, evaluate
from services.profile.ports import (
    CustomerWrite,
    ProfileStore,
    ReviewHold,
    StoredCustomer,
    TimelineEntry,
)

_log = logging.getLogger(__name__)

# A customer's document may not exist yet while its links do (a crash or a racing consumer between the
# two writes); resolution then orders it by its earliest link, which every consumer reads the same.
_MERGE_CHAIN_LIMIT = 8


class ConcurrentUpdateError(Exception):
    """The batch lost races on every attempt; retrying it later is safe."""


@dataclass(frozen=True)
class BatchOutcome:
    applied: int  # events newly recorded
    already_recorded: int  # events skipped: recorded before (replay, redelivery, repeated in the batch)
    customers_written: int
    attempts: int


@dataclass
class _Customer:
    customer_id: str
    facts: ProfileFacts
    version: int
    stored: ProfileFacts | None  # as read; None when the customer has no document
    first_seen_hint: datetime | None = None
    merged_into: str | None = None
    stored_merged_into: str | None = None
    touched: bool = False  # an event of this batch (or a merge) changed it

    @property
    def changed(self) -> bool:
        return self.touched and (
            self.stored is None
            or self.merged_into != self.stored_merged_into
            or replace(self.facts, event_ids=frozenset()) != self.stored
        )


@dataclass
class _Plan:
    customers: dict[str, _Customer]
    new_links: list[Link] = field(default_factory=list)
    owner: dict[str, str] = field(default_factory=dict)  # event id → customer id
    merged: dict[str, str] = field(default_factory=dict)  # merged-away id → survivor id
    holds: list[ReviewHold] = field(default_factory=list)


class ProfileService:
    def __init__(
        self,
        store: ProfileStore,
        clock: Callable[[], datetime],
        *,
        identity: IdentityConfig | None = None,
        profile: ProfileConfig | None = None,
        max_attempts: int = 8,
    ) -> None:
        self._store = store
        self._clock = clock
        self._identity = identity or IdentityConfig()
        self._profile = profile or ProfileConfig()
        self._max_attempts = max_attempts

    async def handle_batch(self, events: Sequence[Event[ProfilePayload]]) -> BatchOutcome:
        observed: dict[str, ObservedEvent] = {}
        for event in events:
            observed.setdefault(event.id, to_millis(observe(event)))
        recorded = await self._store.recorded(list(observed))
        pending = [event for event_id, event in observed.items() if event_id not in recorded]
        skipped = len(events) - len(pending)
        if not pending:
            return BatchOutcome(0, skipped, 0, 0)
        also_load: set[str] = set()
        for attempt in range(1, self._max_attempts + 1):
            written = await self._attempt(pending, also_load)
            if written is not None:
                return BatchOutcome(len(pending), skipped, written, attempt)
            _log.info("profile batch lost a race; re-planning (attempt %d)", attempt)
        raise ConcurrentUpdateError(f"batch of {len(pending)} events lost {self._max_attempts} races")

    async def _attempt(self, pending: list[ObservedEvent], also_load: set[str]) -> int | None:
        """Plan and write; None when a race was lost (``also_load`` then names what to re-read)."""
        now = self._clock()
        plan = await self._plan(pending, also_load, now)
        conflicts = await self._store.add_links(plan.new_links)
        if conflicts:
            also_load.update(conflicts.values())
            return None
        writes = [
            CustomerWrite(
                evaluate(c.customer_id, c.facts, self._profile, now),
                expected_version=c.version,
                merged_into=c.merged_into,
            )
            for c in plan.customers.values()
            if c.changed
        ]
        lost = await self._store.save_customers(writes, uuid.uuid4().hex)
        if lost:
            also_load.update(lost)
            return None
        if plan.merged:
            await self._store.repoint(plan.merged)
        if plan.holds:
            await self._store.hold_for_review(plan.holds)
        await self._store.record_timeline(
            [TimelineEntry(event, _final(plan, plan.owner[event.event_id])) for event in pending]
        )
        return len(writes)

    async def _plan(self, pending: list[ObservedEvent], also_load: set[str], now: datetime) -> _Plan:
        keys = {identifier.key for event in pending for identifier in event.identifiers}
        stored_links = await self._store.links(keys)
        link_times: dict[str, datetime] = {}
        for link in stored_links.values():
            first = link_times.get(link.customer_id)
            link_times[link.customer_id] = link.linked_at if first is None else min(first, link.linked_at)
        customers = await self._load({link.customer_id for link in stored_links.values()} | also_load)
        links = {key: _final_of(customers, link.customer_id) for key, link in stored_links.items()}
        for customer_id in set(links.values()) - customers.keys():
            customers[customer_id] = _Customer(customer_id, ProfileFacts(), 0, None)
        for customer_id, first in link_times.items():
            if customer_id in customers:
                customers[customer_id].first_seen_hint = first
        counts: dict[str, Counter[IdentifierKind]] = {
            customer_id: Counter(by_kind)
            for customer_id, by_kind in (await self._store.link_counts(list(customers))).items()
        }
        plan = _Plan({c.customer_id: c for c in customers.values()})
        for event in pending:
            self._place(event, plan, links, counts)
        return plan

    async def _load(self, customer_ids: set[str]) -> dict[str, _Customer]:
        """The customers and, for merged-away ones, their survivors."""
        loaded: dict[str, _Customer] = {}
        wanted = set(customer_ids)
        for _ in range(_MERGE_CHAIN_LIMIT):
            if not wanted:
                break
            found = await self._store.customers(list(wanted))
            for customer_id, stored in found.items():
                loaded[customer_id] = _from_stored(stored)
            wanted = {c.merged_into for c in loaded.values() if c.merged_into} - loaded.keys()
        return loaded

    def _place(
        self,
        event: ObservedEvent,
        plan: _Plan,
        links: dict[str, str],
        counts: dict[str, Counter[IdentifierKind]],
    ) -> None:
        customers = plan.customers
        # Only the customers this event's identifiers name: resolution needs no others, and describing
        # every customer of the batch for every event made a batch quadratic.
        named = {links[i.key] for i in event.identifiers if i.key in links}
        known = {
            customer_id: KnownCustomer(
                first_seen=c.facts.first_seen or c.first_seen_hint or event.occurred_at,
                link_counts=counts.get(customer_id, Counter()),
            )
            for customer_id in named
            if (c := customers[customer_id]).merged_into is None
        }
        resolution = resolve(event, links, known, self._identity)
        match resolution:
            case NewCustomer(customer_id=owner, links=new) | Attach(customer_id=owner, links=new):
                pass
            case Merge(survivor=owner, merged_away=away, links=new):
                for away_id in away:
                    merged_away = customers[away_id]
                    customers[owner].facts = combine(customers[owner].facts, merged_away.facts)
                    merged_away.merged_into = owner
                    merged_away.touched = True
                    plan.merged[away_id] = owner
                    counts.setdefault(owner, Counter()).update(counts.pop(away_id, Counter()))
                    for key, customer_id in links.items():
                        if customer_id == away_id:
                            links[key] = owner
            case HoldForReview(reason=reason, customers=held):
                owner, new = held[0], ()
                plan.holds.append(ReviewHold(event.event_id, reason, held, event.occurred_at))
        customer = customers.get(owner)
        if customer is None:
            customer = customers[owner] = _Customer(owner, ProfileFacts(), 0, None)
        customer.facts = customer.facts.with_event(event)
        customer.touched = True
        for link in new:
            links[link.key] = owner
            counts.setdefault(owner, Counter())[link.kind] += 1
            plan.new_links.append(link)
        plan.owner[event.event_id] = owner


def _from_stored(stored: StoredCustomer) -> _Customer:
    return _Customer(
        stored.customer_id,
        stored.facts,
        stored.version,
        stored.facts,
        merged_into=stored.merged_into,
        stored_merged_into=stored.merged_into,
    )


def _final_of(customers: dict[str, _Customer], customer_id: str) -> str:
    for _ in range(_MERGE_CHAIN_LIMIT):
        customer = customers.get(customer_id)
        if customer is None or customer.merged_into is None:
            return customer_id
        customer_id = customer.merged_into
    return customer_id


def _final(plan: _Plan, customer_id: str) -> str:
    return _final_of(plan.customers, customer_id)


def _ms(at: datetime) -> datetime:
    # MongoDB keeps milliseconds: facts compared with stored ones must be at that precision already.
    return at.astimezone(UTC).replace(microsecond=at.microsecond // 1000 * 1000)


def to_millis(event: ObservedEvent) -> ObservedEvent:
    """The event with every instant at the precision the store keeps."""
    step: PhoneStep | None = event.phone_step
    if step is not None:
        window_end = step.callback_window_end
        step = replace(
            step,
            occurred_at=_ms(step.occurred_at),
            callback_window_end=None if window_end is None else _ms(window_end),
        )
    return replace(
        event,
        occurred_at=_ms(event.occurred_at),
        attributes=tuple(replace(a, occurred_at=_ms(a.occurred_at)) for a in event.attributes),
        consent=tuple(replace(c, occurred_at=_ms(c.occurred_at)) for c in event.consent),
        order=None if event.order is None else replace(event.order, occurred_at=_ms(event.order.occurred_at)),
        experience=None
        if event.experience is None
        else replace(event.experience, occurred_at=_ms(event.experience.occurred_at)),
        phone_step=step,
    )
