"""A batch's plan: the customers it touches as loaded and as the batch leaves them, the links, cases,
merges and review holds it makes, and where each event ends up. Built by the service layer, turned into
writes and messages there; nothing here does I/O."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from schemas.cases import CaseChange
from schemas.identifiers import IdentifierKind
from services.profile.core.cases import Case
from services.profile.core.delivery import Delivery
from services.profile.core.identity import Link
from services.profile.core.observe import ObservedEvent
from services.profile.core.profile import ProfileFacts
from services.profile.ports import (
    KeptOutbox,
    Outgoing,
    ReviewHold,
    StoredCustomer,
)

# A customer's document may not exist yet while its links do (a crash or a racing consumer between the
# two writes); resolution then orders it by its earliest link, which every consumer reads the same.
MERGE_CHAIN_LIMIT = 8


@dataclass
class PlannedCustomer:
    customer_id: str
    facts: ProfileFacts
    version: int
    stored: ProfileFacts | None  # as read; None when the customer has no document
    first_seen_hint: datetime | None = None
    merged_into: str | None = None
    stored_merged_into: str | None = None
    touched: bool = False  # an event of this batch (or a merge) changed it
    refreshed: bool = False  # asked to look again (time alone may have moved it): written even unchanged
    link_counts: Mapping[IdentifierKind, int] | None = None  # as stored; None: not kept by older documents
    cases: dict[str, Case] = field(default_factory=dict)
    stored_cases: dict[str, Case] = field(default_factory=dict)
    published: dict[str, Any] | None = None
    outbox: tuple[KeptOutbox, ...] = ()
    kept_apart: frozenset[str] = frozenset()  # customers an unmerge split from this one
    stored_kept_apart: frozenset[str] = frozenset()
    write_id: str | None = None  # the last write of the stored document

    @property
    def changed(self) -> bool:
        return self.touched and (
            self.refreshed
            or self.stored is None
            or self.merged_into != self.stored_merged_into
            or self.cases != self.stored_cases
            or self.kept_apart != self.stored_kept_apart
            or replace(self.facts, event_ids=frozenset()) != self.stored
        )


@dataclass(frozen=True)
class CaseStep:
    change: CaseChange
    case: Case  # as the step left it
    cause: ObservedEvent | None  # the contact that opened or joined it, the answer that reopened it
    # Without a cause: the request that made the step (the close request, the merge or the unmerge). A
    # case can close or move again later (closed, reopened, closed), so this tells the occurrences apart.
    request_id: str | None = None

    @property
    def occasion(self) -> str:
        """The id of the event behind this step: the same for a redelivered batch, another for a later
        step of the same kind."""
        return self.cause.event_id if self.cause is not None else self.request_id or ""


@dataclass(frozen=True)
class MergeDraft:
    """A merge planned in this batch; its record is completed with what the store holds of each side."""

    survivor_id: str
    away_id: str
    cause: ObservedEvent
    survivor_batch_events: set[str]  # this batch's events placed on each side before the merge
    away_batch_events: set[str]
    survivor_case_ids: frozenset[str]
    away_case_ids: frozenset[str]


@dataclass
class Plan:
    customers: dict[str, PlannedCustomer]
    new_links: list[Link] = field(default_factory=list)
    owner: dict[str, str] = field(default_factory=dict)  # event id → customer id
    merged: dict[str, str] = field(default_factory=dict)  # merged-away id → survivor id
    holds: list[ReviewHold] = field(default_factory=list)
    case_steps: list[CaseStep] = field(default_factory=list)
    # event id → the case it opened, joined or closed, or that a report names (the timeline's case filter)
    case_of: dict[str, str] = field(default_factory=dict)
    merge_drafts: list[MergeDraft] = field(default_factory=list)
    link_counts: dict[str, Counter[IdentifierKind]] = field(default_factory=dict)
    unheld: set[str] = field(default_factory=set)  # reports addressed to a customer nobody holds
    deliveries: list[Delivery] = field(default_factory=list)  # delivered orders, to publish


def from_stored(stored: StoredCustomer) -> PlannedCustomer:
    return PlannedCustomer(
        stored.customer_id,
        stored.facts,
        stored.version,
        stored.facts,
        merged_into=stored.merged_into,
        stored_merged_into=stored.merged_into,
        link_counts=stored.link_counts,
        cases=dict(stored.cases),
        stored_cases=dict(stored.cases),
        published=None if stored.published is None else dict(stored.published),
        outbox=stored.outbox,
        kept_apart=stored.kept_apart,
        stored_kept_apart=stored.kept_apart,
        write_id=stored.write_id,
    )


def in_segments(events: list[ObservedEvent]) -> list[list[ObservedEvent]]:
    """The batch in order, each unmerge request on its own: it works on stored state, so what came
    before it is written first."""
    segments: list[list[ObservedEvent]] = []
    for event in events:
        if event.unmerge is not None or not segments or segments[-1][0].unmerge is not None:
            segments.append([event])
        else:
            segments[-1].append(event)
    return segments


def cases_of(survivor: StoredCustomer, merged_away: StoredCustomer) -> list[Case]:
    """Every case of both sides; the survivor's copy of one both hold is the current one."""
    return list({**merged_away.cases, **survivor.cases}.values())


def links_made_for(plan: Plan, customer_id: str) -> tuple[Link, ...]:
    return tuple(link for link in plan.new_links if link.customer_id == customer_id)


def unpublished(plan: Plan) -> list[Outgoing]:
    """Messages of earlier writes caused by events of this batch: the batch was delivered before, its
    writes landed, and whether their messages were published is unknown. Publishing again is safe. A
    customer this batch changes as well (a redelivery with new events beside the old) counts too."""
    caused = set(plan.owner)
    again: list[Outgoing] = []
    for customer in plan.customers.values():
        if customer.touched:
            for entry in customer.outbox:
                if entry.event_ids & caused:
                    again.extend(entry.messages())
    return again


def final_of(customers: dict[str, PlannedCustomer], customer_id: str) -> str:
    for _ in range(MERGE_CHAIN_LIMIT):
        customer = customers.get(customer_id)
        if customer is None or customer.merged_into is None:
            return customer_id
        customer_id = customer.merged_into
    return customer_id


def last_survivor(survivors: Mapping[str, str], customer_id: str) -> str:
    for _ in range(MERGE_CHAIN_LIMIT):
        if customer_id not in survivors:
            break
        customer_id = survivors[customer_id]
    return customer_id


def final(plan: Plan, customer_id: str) -> str:
    return final_of(plan.customers, customer_id)
