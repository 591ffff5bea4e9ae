"""Merging two customers without losing anything, and undoing it exactly.

A merge combines the facts of both profiles (timeline event ids, identifiers, attributes by the newest
rule, orders and experiences by event id; consent keeps the merged-away side's decisions apart, the most
restrictive winning at the merge, see ``core.consent``), moves the merged-away customer's links and
cases to the survivor, and keeps a ``MergeRecord`` of what each side held.

An unmerge needs only that record, the merged customer's events and its consent log: each side gets back
the events it held at the merge and is folded again, and takes back its own consent decisions (folding
again would lose whose decision each was in a customer merged before), so both are restored exactly.
Events, links and cases that came after the merge go to the merged-away side when their identifiers (or
opening event) belong only to it, and stay with the survivor otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from services.profile.core.attributes import newest
from services.profile.core.cases import Case, moved
from services.profile.core.consent import effective, merged_log, split_log
from services.profile.core.identity import Link, LinkRule
from services.profile.core.ids import stable_id
from services.profile.core.observe import ObservedEvent
from services.profile.core.profile import (
    Profile,
    ProfileConfig,
    ProfileFacts,
    earliest,
    evaluate,
    fold,
    latest,
)


@dataclass(frozen=True)
class Holdings:
    """One customer as a merge sees it: the profile, its identity links and its case ids."""

    profile: Profile
    links: tuple[Link, ...]
    case_ids: frozenset[str]


@dataclass(frozen=True)
class MergeRecord:
    merge_id: str
    survivor_id: str
    merged_away_id: str
    merged_at: datetime
    cause_event_id: str  # the event that carried identifiers of both
    survivor_event_ids: frozenset[str]
    merged_away_event_ids: frozenset[str]
    survivor_links: tuple[Link, ...]
    merged_away_links: tuple[Link, ...]
    survivor_case_ids: frozenset[str]
    merged_away_case_ids: frozenset[str]


@dataclass(frozen=True)
class Merged:
    profile: Profile
    links: tuple[Link, ...]  # all of the survivor's links; the merged-away ones re-pointed
    record: MergeRecord


@dataclass(frozen=True)
class Unmerged:
    survivor: Profile
    restored: Profile
    survivor_links: tuple[Link, ...]
    restored_links: tuple[Link, ...]
    event_owner: Mapping[str, str]  # event id → customer id
    cases: tuple[Case, ...]  # each under its owner again


def combine(first: ProfileFacts, second: ProfileFacts, *, away_id: str, merged_at: datetime) -> ProfileFacts:
    """Both sides' facts; only consent differs from folding both event sets (``second``'s kept apart)."""
    attributes = dict(first.attributes)
    for name, attribute in second.attributes.items():
        attributes[name] = newest(attributes.get(name), attribute)
    log = merged_log(
        first.decisions,
        second.decisions,
        away_id=away_id,
        merged_at=merged_at,
        keys=frozenset(identifier.key for identifier in second.identifiers),
        survivor_keys=frozenset(identifier.key for identifier in first.identifiers),
    )
    return ProfileFacts(
        event_ids=first.event_ids | second.event_ids,
        identifiers=first.identifiers | second.identifiers,
        first_seen=earliest(first.first_seen, second.first_seen),
        last_seen=latest(first.last_seen, second.last_seen),
        attributes=attributes,
        consent=effective(log),
        consent_log=log,
        orders={**first.orders, **second.orders},
        experiences={**first.experiences, **second.experiences},
        phone_steps={**first.phone_steps, **second.phone_steps},
    )


def merge(
    survivor: Holdings,
    merged_away: Holdings,
    *,
    cause_event_id: str,
    merged_at: datetime,
    config: ProfileConfig,
    now: datetime,
) -> Merged:
    survivor_id = survivor.profile.customer_id
    away_id = merged_away.profile.customer_id
    record = MergeRecord(
        merge_id=stable_id("merge", f"{survivor_id}\x00{away_id}\x00{cause_event_id}"),
        survivor_id=survivor_id,
        merged_away_id=away_id,
        merged_at=merged_at,
        cause_event_id=cause_event_id,
        survivor_event_ids=survivor.profile.facts.event_ids,
        merged_away_event_ids=merged_away.profile.facts.event_ids,
        survivor_links=survivor.links,
        merged_away_links=merged_away.links,
        survivor_case_ids=survivor.case_ids,
        merged_away_case_ids=merged_away.case_ids,
    )
    repointed = tuple(
        replace(link, customer_id=survivor_id, rule=LinkRule.MERGED) for link in merged_away.links
    )
    facts = combine(survivor.profile.facts, merged_away.profile.facts, away_id=away_id, merged_at=merged_at)
    return Merged(evaluate(survivor_id, facts, config, now), survivor.links + repointed, record)


def unmerge(
    record: MergeRecord,
    *,
    held: ProfileFacts,
    events: Iterable[ObservedEvent],
    links: Iterable[Link],
    cases: Iterable[Case],
    config: ProfileConfig,
    now: datetime,
) -> Unmerged:
    """Split the survivor again. ``held`` (its facts), ``events``, ``links`` and ``cases`` are everything the
    survivor holds now."""
    survivor_id, restored_id = record.survivor_id, record.merged_away_id
    restored_keys = {link.key for link in record.merged_away_links}
    survivor_keys = {link.key for link in record.survivor_links}
    survivor_events: list[ObservedEvent] = []
    restored_events: list[ObservedEvent] = []
    for event in events:
        keys = {identifier.key for identifier in event.identifiers}
        if event.event_id in record.merged_away_event_ids or (
            event.event_id not in record.survivor_event_ids
            and keys & restored_keys
            and not keys & survivor_keys
        ):
            restored_events.append(event)
        else:
            survivor_events.append(event)
    event_owner = {
        **{event.event_id: survivor_id for event in survivor_events},
        **{event.event_id: restored_id for event in restored_events},
    }
    later_links = [link for link in links if link.key not in restored_keys and link.key not in survivor_keys]
    later_restored = tuple(
        replace(link, customer_id=restored_id)
        for link in later_links
        if event_owner.get(link.event_id) == restored_id
    )
    later_survivor = tuple(link for link in later_links if event_owner.get(link.event_id) != restored_id)
    survivor = fold(survivor_id, survivor_events, config, now)
    restored = fold(restored_id, restored_events, config, now)
    if (split := split_log(held.decisions, restored_id)) is not None:
        survivor, restored = (
            evaluate(
                side.customer_id, replace(side.facts, consent=effective(log), consent_log=log), config, now
            )
            for side, log in zip((survivor, restored), split, strict=True)
        )
    return Unmerged(
        survivor=survivor,
        restored=restored,
        survivor_links=record.survivor_links + later_survivor,
        restored_links=record.merged_away_links + later_restored,
        event_owner=event_owner,
        cases=tuple(moved(case, _case_owner(case, record, event_owner)) for case in cases),
    )


def _case_owner(case: Case, record: MergeRecord, event_owner: Mapping[str, str]) -> str:
    if case.case_id in record.merged_away_case_ids:
        return record.merged_away_id
    if case.case_id in record.survivor_case_ids:
        return record.survivor_id
    return event_owner.get(case.opened_by, record.survivor_id)
