"""Profile's privacy service: export everything about one person (GDPR art. 15/20) and erase it (art. 17).

A person is a surviving customer together with every customer merged into it; a merged-away id answers
for its survivor.

Erase, in this order, so that a crash anywhere is finished by repeating the call:
1. record the erasure: the receipt, the suppressions (SHA-256 of each identifier key, with the erase
   time: the worker drops replayed events of the person) and a pointer per customer id to the receipt;
2. delete the person's documents from every profile collection, counting per collection;
3. publish a tombstone per customer id on the compacted profile topic, then mark the receipt complete.

Repeating an erase answers the stored receipt (finishing it first when it is incomplete). When the
customer exists again after a completed erase (a genuinely new contact after it, whose customer id is
derived from the same identifier), it is a new person to erase and gets a new receipt.

Never logs identifiers, customer ids, emails, phones or text: only erasure ids and counts.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from schemas.identifiers import CustomerIdentifier
from services.profile.core.erasure import (
    MERGE_CHAIN_LIMIT,
    ErasurePlan,
    ErasureReceipt,
    anonymous_subjects,
    covered_customers,
    person_keys,
    plan_erasure,
    survivor_of,
)
from services.profile.ports import SuppressionReader

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CustomerDocument:
    customer_id: str
    merged_into: str | None
    identifiers: tuple[CustomerIdentifier, ...]  # as seen on the customer's events
    fields: Mapping[str, Any]  # the other stored facts and the summary, JSON-ready
    cases: tuple[Mapping[str, Any], ...] = ()  # the customer's cases (each with its ``case_id``)


@dataclass(frozen=True)
class LinkDocument:
    key: str
    customer_id: str
    fields: Mapping[str, Any]  # provenance: kind, event, channel, rule, linked_at, merged_from


@dataclass(frozen=True)
class TimelineDocument:
    event_id: str
    customer_id: str
    identifier_keys: tuple[str, ...]  # every identifier the event named
    fields: Mapping[str, Any]  # what the event said


@dataclass(frozen=True)
class ReviewDocument:
    event_id: str
    customers: tuple[str, ...]  # every customer the held merge names, survivor first
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class OtherDocument:
    document_id: str
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class PersonRecords:
    """Every stored document about some customers."""

    customers: Sequence[CustomerDocument] = ()
    links: Sequence[LinkDocument] = ()
    timeline: Sequence[TimelineDocument] = ()  # oldest first
    reviews: Sequence[ReviewDocument] = ()
    cases: Sequence[OtherDocument] = ()  # case owners (``_id`` = case id) of these customers
    merges: Sequence[OtherDocument] = ()  # merges these customers took part in (their own side only)


class PrivacyStore(SuppressionReader, Protocol):
    async def merge_parents(self, customer_ids: Collection[str]) -> dict[str, str | None]:
        """The stored customers among these ids → the customer each was merged into (None: survivor)."""

    async def merged_children(self, customer_ids: Collection[str]) -> dict[str, str]:
        """Customers merged directly into one of these → the one they were merged into."""

    async def person(self, customer_ids: Collection[str]) -> PersonRecords:
        """Every stored document about these customers."""

    async def linked_customers(self, keys: Collection[str]) -> dict[str, str]:
        """The customer each of these identifier keys links to (unlinked keys are left out)."""

    async def erasure_of(self, customer_id: str) -> ErasureReceipt | None:
        """The receipt of the latest erase that covered this customer id."""

    async def record_erasure(self, plan: ErasurePlan) -> None:
        """Keep the receipt (incomplete), the suppressions and a pointer per customer id (idempotent)."""

    async def delete_person(self, erasure_id: str, customer_ids: Collection[str]) -> None:
        """Delete every document about these customers, adding the counts to the receipt."""

    async def complete_erasure(self, erasure_id: str, tombstones: int) -> ErasureReceipt:
        """Mark the receipt complete; returns it as stored."""


class Tombstones(Protocol):
    async def publish(self, customer_ids: Sequence[str]) -> int:
        """A tombstone per customer id on the compacted profile topic; returns how many were acked."""


@dataclass(frozen=True)
class Export:
    """Everything stored about one person; nothing about anyone else."""

    customer_id: str  # the survivor
    merged_customer_ids: tuple[str, ...]
    customers: list[dict[str, Any]] = field(default_factory=list)  # survivor first
    links: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    reviews: list[dict[str, Any]] = field(default_factory=list)
    cases: list[dict[str, Any]] = field(default_factory=list)
    merges: list[dict[str, Any]] = field(default_factory=list)


class PrivacyService:
    def __init__(self, store: PrivacyStore, tombstones: Tombstones) -> None:
        self._store = store
        self._tombstones = tombstones

    async def export(self, customer_id: str) -> Export | None:
        """The person ``customer_id`` belongs to (a merged-away id answers for its survivor), or None."""
        survivor = await self._survivor(customer_id)
        if survivor is None:
            return None
        covered = await self._covered(survivor)
        records = await self._store.person(covered)
        if not any(customer.customer_id == survivor for customer in records.customers):
            return None  # erased or deleted meanwhile
        hidden = await self._linked_elsewhere(records, covered)
        return _export(survivor, covered, records, hidden)

    async def erase(self, customer_id: str, now: datetime) -> ErasureReceipt | None:
        """Erase the person ``customer_id`` belongs to; the receipt, or None when nobody is known by it."""
        previous = await self._store.erasure_of(customer_id)
        if previous is not None and not previous.completed:
            return await self._finish(previous.erasure_id, previous.customer_ids)
        survivor = await self._survivor(customer_id)
        if survivor is None:
            return previous  # erased before (the same receipt again), or unknown
        covered = await self._covered(survivor)
        records = await self._store.person(covered)
        hidden = await self._linked_elsewhere(records, covered)
        subjects = person_keys(
            [link.key for link in records.links], _seen_keys(records), hidden
        ) | anonymous_subjects((entry.customer_id, entry.event_id) for entry in records.timeline)
        plan = plan_erasure(survivor, covered, subjects, now)
        await self._store.record_erasure(plan)
        _log.info(
            "erasure %s recorded: %d customers, %d suppressed keys",
            plan.erasure_id,
            len(plan.customer_ids),
            len(plan.key_hashes),
        )
        return await self._finish(plan.erasure_id, plan.customer_ids)

    async def suppressions(self, key_hashes: Collection[str]) -> dict[str, datetime]:
        return await self._store.suppressions(key_hashes)

    async def _finish(self, erasure_id: str, customer_ids: Sequence[str]) -> ErasureReceipt:
        await self._store.delete_person(erasure_id, customer_ids)
        published = await self._tombstones.publish(customer_ids)
        receipt = await self._store.complete_erasure(erasure_id, published)
        _log.info(
            "erasure %s complete: %d documents deleted, %d tombstones",
            erasure_id,
            receipt.total_deleted,
            published,
        )
        return receipt

    async def _survivor(self, customer_id: str) -> str | None:
        """The last customer of the merge chain ``customer_id`` starts, None when unknown or broken."""
        parents: dict[str, str | None] = {}
        wanted = customer_id
        for _ in range(MERGE_CHAIN_LIMIT + 1):
            found = await self._store.merge_parents([wanted])
            if wanted not in found:
                return None
            parents.update(found)
            following = found[wanted]
            if following is None or following in parents:
                return survivor_of(customer_id, parents)
            wanted = following
        return None

    async def _covered(self, survivor: str) -> tuple[str, ...]:
        """The survivor and every customer whose merge chain leads to it."""
        parents: dict[str, str | None] = {survivor: None}
        frontier: set[str] = {survivor}
        for _ in range(MERGE_CHAIN_LIMIT):
            if not frontier:
                break
            children = await self._store.merged_children(frontier)
            frontier = set(children) - parents.keys()
            parents.update({child: children[child] for child in frontier})
        return covered_customers(survivor, parents)

    async def _linked_elsewhere(self, records: PersonRecords, covered: Collection[str]) -> frozenset[str]:
        """Keys seen on the person's documents that link to another customer (held merges name both)."""
        own = {link.key for link in records.links}
        candidates = _seen_keys(records) - own
        if not candidates:
            return frozenset()
        linked = await self._store.linked_customers(candidates)
        covered_set = set(covered)
        return frozenset(key for key, owner in linked.items() if owner not in covered_set)


def _seen_keys(records: PersonRecords) -> set[str]:
    keys = {identifier.key for customer in records.customers for identifier in customer.identifiers}
    keys.update(key for entry in records.timeline for key in entry.identifier_keys)
    return keys


def _export(survivor: str, covered: Sequence[str], records: PersonRecords, hidden: frozenset[str]) -> Export:
    own = set(covered)
    customers = sorted(records.customers, key=lambda c: (c.customer_id != survivor, c.customer_id))
    return Export(
        customer_id=survivor,
        merged_customer_ids=tuple(c for c in covered if c != survivor),
        customers=[
            {
                "customer_id": customer.customer_id,
                "merged_into": customer.merged_into,
                **customer.fields,
                "identifiers": [
                    identifier.model_dump(mode="json")
                    for identifier in sorted(customer.identifiers, key=lambda i: (i.key, i.unparsed))
                    if identifier.key not in hidden
                ],
            }
            for customer in customers
        ],
        links=[
            {"key": link.key, "customer_id": link.customer_id, **link.fields}
            for link in sorted(records.links, key=lambda link: link.key)
        ],
        timeline=[
            {
                "event_id": entry.event_id,
                "customer_id": entry.customer_id,
                **entry.fields,
                "identifiers": [key for key in entry.identifier_keys if key not in hidden],
            }
            for entry in records.timeline
        ],
        reviews=[
            {
                "event_id": review.event_id,
                **review.fields,
                # A held merge names other customers too: only the person's own ids are theirs to see.
                "customers": [customer for customer in review.customers if customer in own],
            }
            for review in sorted(records.reviews, key=lambda review: review.event_id)
        ],
        cases=_cases(records),
        merges=[{"merge_id": merge.document_id, **merge.fields} for merge in records.merges],
    )


def _cases(records: PersonRecords) -> list[dict[str, Any]]:
    """The person's cases: as kept on their customers, and any other case an owner document names."""
    cases: dict[str, dict[str, Any]] = {
        owner.document_id: {"case_id": owner.document_id, **owner.fields} for owner in records.cases
    }
    for customer in records.customers:
        for case in customer.cases:
            case_id = str(case.get("case_id", ""))
            cases[case_id] = {**cases.get(case_id, {}), **case}
    return [cases[case_id] for case_id in sorted(cases)]
