"""Erasure (GDPR art. 17) as pure decisions: whom an erase covers, what is remembered afterwards, and which
replayed events must be dropped so that an erased person never comes back.

- An erase covers the customer and every merged-away customer whose ``merged_into`` chain leads to it.
- Afterwards nothing readable is kept: the person's identifier keys are remembered only as SHA-256 hashes,
  each with the erase time (a *suppression*). A key already erased before keeps the later time.
- ``is_suppressed``: an event is dropped when it occurred at or before the erase and every usable
  identifier key it carries is suppressed. Replaying Kafka from offset 0 therefore never resurrects the
  person, while a genuinely new contact after the erase (a later event) creates a fresh customer.
- An event without any usable identifier made a one-off customer of its own (its id comes from the event
  id); such a customer is suppressed by its event (``anonymous_subject``) instead of by keys.

No I/O and no clock here: ``now`` is passed in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from schemas.identifiers import CustomerIdentifier
from services.profile.core.identity import IdentityConfig
from services.profile.core.ids import stable_id

# A merge chain longer than this is a data error; stop following it (same limit as the read side).
MERGE_CHAIN_LIMIT = 8
_ANONYMOUS_CUSTOMER = "anonymous-customer"  # the id kind identity resolution gives one-off customers
_ANONYMOUS_SUBJECT = "event:"  # not an identifier kind, so it never collides with an identifier key


def key_hash(key: str) -> str:
    """How a suppressed identifier key (or subject) is remembered: SHA-256 of its UTF-8, as hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def at_store_precision(at: datetime) -> datetime:
    """MongoDB keeps milliseconds (UTC): an erase time is truncated before it is stored or compared."""
    at = at.astimezone(UTC)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def erasure_id(customer_id: str, requested_at: datetime) -> str:
    """A stable id for the erase of ``customer_id`` asked for at ``requested_at``."""
    return stable_id("erasure", f"{customer_id}\x00{at_store_precision(requested_at).isoformat()}")


def anonymous_subject(event_id: str) -> str:
    """What suppresses an event that has no usable identifier (its one-off customer)."""
    return f"{_ANONYMOUS_SUBJECT}{event_id}"


def suppression_subjects(
    identifiers: Iterable[CustomerIdentifier], event_id: str, config: IdentityConfig
) -> tuple[str, ...]:
    """The keys to check an event against: its usable identifier keys, or its anonymous subject when it
    has none (blocked, role mailboxes and unparsed identifiers never link, so they never decide)."""
    usable = sorted({identifier.key for identifier in identifiers if config.usable(identifier)})
    return tuple(usable) if usable else (anonymous_subject(event_id),)


def is_suppressed(
    identifier_keys: Collection[str], occurred_at: datetime, suppressions: Mapping[str, datetime]
) -> bool:
    """Must this event be dropped? ``identifier_keys`` are the event's usable identifier keys (plain,
    not hashed; see ``suppression_subjects``); ``suppressions`` maps key hashes to their erase time.

    Dropped when the event occurred at or before the erase and every one of its keys is suppressed. An
    event with one key that is not suppressed is kept: it may belong to someone else."""
    if not identifier_keys:
        return False
    at = at_store_precision(occurred_at)
    for key in identifier_keys:
        erased_at = suppressions.get(key_hash(key))
        if erased_at is None or at > at_store_precision(erased_at):
            return False
    return True


def survivor_of(customer_id: str, merged_into: Mapping[str, str | None]) -> str | None:
    """The last customer of ``customer_id``'s merge chain, or None when the chain is broken or loops."""
    seen = {customer_id}
    current = customer_id
    for _ in range(MERGE_CHAIN_LIMIT + 1):
        if current not in merged_into:
            return None
        following = merged_into[current]
        if following is None:
            return current
        if following in seen:
            return None
        seen.add(following)
        current = following
    return None


def covered_customers(survivor: str, merged_into: Mapping[str, str | None]) -> tuple[str, ...]:
    """The customers an erase of ``survivor`` covers: itself, then (sorted) every customer in
    ``merged_into`` whose merge chain leads to it."""
    away = sorted(
        customer_id
        for customer_id in merged_into
        if customer_id != survivor and survivor_of(customer_id, merged_into) == survivor
    )
    return (survivor, *away)


def person_keys(
    linked: Collection[str], seen: Collection[str], linked_elsewhere: Collection[str]
) -> frozenset[str]:
    """The identifier keys a person had: every key linked to them, and every key seen on their events
    that links to nobody else (an unlinked blocked, unparsed or over-cap identifier). A key linked to
    another customer (an event held for review names both) is that customer's, never suppressed here."""
    elsewhere = set(linked_elsewhere)
    return frozenset(linked) | frozenset(key for key in seen if key not in elsewhere)


def anonymous_subjects(timeline: Iterable[tuple[str, str]]) -> frozenset[str]:
    """The subjects of one-off customers among ``(customer id, event id)`` timeline entries: a customer
    whose id identity resolution derived from that very event."""
    return frozenset(
        anonymous_subject(event_id)
        for customer_id, event_id in timeline
        if customer_id == stable_id(_ANONYMOUS_CUSTOMER, event_id)
    )


@dataclass(frozen=True)
class ErasurePlan:
    """What an erase records before it deletes anything."""

    erasure_id: str
    customer_id: str  # the person: the survivor of the id asked for
    customer_ids: tuple[str, ...]  # survivor first, then the merged-away customers
    key_hashes: tuple[str, ...]  # sorted; never the keys themselves
    erased_at: datetime  # at store precision


def plan_erasure(
    customer_id: str, customer_ids: Iterable[str], subjects: Iterable[str], now: datetime
) -> ErasurePlan:
    covered = [customer_id, *sorted(set(customer_ids) - {customer_id})]
    erased_at = at_store_precision(now)
    return ErasurePlan(
        erasure_id=erasure_id(customer_id, erased_at),
        customer_id=customer_id,
        customer_ids=tuple(covered),
        key_hashes=tuple(sorted({key_hash(subject) for subject in subjects})),
        erased_at=erased_at,
    )


@dataclass(frozen=True)
class ErasureReceipt:
    """What an erase answers, and answers again when it is repeated."""

    erasure_id: str
    customer_id: str
    customer_ids: tuple[str, ...]
    erased_at: datetime
    deleted: Mapping[str, int] = field(default_factory=dict)  # collection → documents deleted
    tombstones: int = 0  # tombstones acknowledged on the compacted profile topic
    completed: bool = False  # every delete and tombstone done

    @property
    def total_deleted(self) -> int:
        return sum(self.deleted.values())


def merged_suppressions(
    existing: Mapping[str, datetime], key_hashes: Iterable[str], erased_at: datetime
) -> dict[str, datetime]:
    """The suppressions after an erase at ``erased_at``: a key erased twice keeps the later time."""
    result = dict(existing)
    for digest in key_hashes:
        previous = result.get(digest)
        result[digest] = erased_at if previous is None else max(previous, erased_at)
    return result
