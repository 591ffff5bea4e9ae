"""Consent per purpose, with source and time. Within one customer the newest decision wins (a withdrawal
wins a tie); when two customers merge the most restrictive decision wins, because consent given by one
person must never be read as given by another.

A merged customer keeps each merged-away customer's decisions apart (``ConsentLog``), and its effective
consent is the replay of all of them in time order, each merge at its time: a decision that arrives late
(made before the merge, seen after it) still counts for the person it came from, so arrival order never
changes the result, and an unmerge gives each side back exactly its own decisions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from schemas.customers import Purpose
from services.profile.core.wording import Language, Wording

MERGE_SOURCE = "merge"


@dataclass(frozen=True)
class ConsentDecision:
    purpose: Purpose
    granted: bool
    source: str
    occurred_at: datetime
    event_id: str

    @property
    def rank(self) -> tuple[datetime, bool, str]:
        # Later wins; at the same instant a withdrawal beats a grant; the event id settles the rest.
        return (self.occurred_at, not self.granted, self.event_id)


def newest_decision(current: ConsentDecision | None, candidate: ConsentDecision) -> ConsentDecision:
    if current is None or candidate.rank > current.rank:
        return candidate
    return current


def most_restrictive(first: ConsentDecision, second: ConsentDecision) -> ConsentDecision:
    """The merged decision: agreeing sides keep the newest; disagreeing sides keep the withdrawal, dated to
    the later of the two so that only a decision made after the merge overrides it."""
    if first.granted == second.granted:
        return newest_decision(first, second)
    withdrawal = second if first.granted else first
    return replace(withdrawal, source=MERGE_SOURCE, occurred_at=max(first.occurred_at, second.occurred_at))


@dataclass(frozen=True)
class ConsentLog:
    """Every consent decision of a customer, and those of each customer merged into it, kept apart."""

    decisions: frozenset[ConsentDecision] = frozenset()  # its own (all: a later merge replays them)
    merged: tuple[MergedConsent, ...] = ()  # ordered by customer id


@dataclass(frozen=True)
class MergedConsent:
    customer_id: str
    merged_at: datetime
    # Identifier keys of each side at the merge: a later event with some of ``keys`` and none of
    # ``survivor_keys`` came from this person (the rule an unmerge splits events by).
    keys: frozenset[str]
    survivor_keys: frozenset[str]
    log: ConsentLog

    def holds(self, customer_id: str) -> bool:
        return self.customer_id == customer_id or any(child.holds(customer_id) for child in self.log.merged)


def with_decisions(
    log: ConsentLog, decisions: Iterable[ConsentDecision], keys: frozenset[str], named: str | None
) -> ConsentLog:
    """The log with an event's decisions added to the person it came from: the merged-away customer it
    names by id, or whose identifiers it carries; otherwise the customer itself."""
    for index, child in enumerate(log.merged):
        theirs = bool(keys & child.keys and not keys & child.survivor_keys)
        if child.holds(named) if named is not None else theirs:
            placed = replace(child, log=with_decisions(child.log, decisions, keys, named))
            return replace(log, merged=(*log.merged[:index], placed, *log.merged[index + 1 :]))
    return replace(log, decisions=log.decisions.union(decisions))


def merged_log(
    survivor: ConsentLog,
    away: ConsentLog,
    *,
    away_id: str,
    merged_at: datetime,
    keys: frozenset[str],
    survivor_keys: frozenset[str],
) -> ConsentLog:
    child = MergedConsent(away_id, merged_at, keys, survivor_keys, away)
    others = tuple(c for c in survivor.merged if c.customer_id != away_id)
    return replace(survivor, merged=tuple(sorted((*others, child), key=lambda c: c.customer_id)))


def split_log(log: ConsentLog, away_id: str) -> tuple[ConsentLog, ConsentLog] | None:
    """Undo merging ``away_id`` in: what the customer holds without it, and what it takes back (None: not
    merged in here, e.g. by a customer stored before the log was kept)."""
    for child in log.merged:
        if child.customer_id == away_id:
            return replace(log, merged=tuple(c for c in log.merged if c is not child)), child.log
    return None


# (time, is a merge, decision): a merge carries the merged-away side's decision as of the merge.
_Item = tuple[datetime, bool, ConsentDecision]


def _items(log: ConsentLog, purpose: Purpose) -> list[_Item]:
    items: list[_Item] = [(d.occurred_at, False, d) for d in log.decisions if d.purpose is purpose]
    for child in log.merged:
        theirs = _items(child.log, purpose)
        at_merge = _replay(item for item in theirs if item[0] <= child.merged_at)
        if at_merge is not None:
            items.append((child.merged_at, True, at_merge))
        # After the merge the person's decisions are the merged customer's: the newest wins there.
        items.extend(item for item in theirs if item[0] > child.merged_at)
    return items


def _replay(items: Iterable[_Item]) -> ConsentDecision | None:
    state: ConsentDecision | None = None
    # Decisions at the merge's instant belong before it (the side held them when merged).
    for _, is_merge, decision in sorted(items, key=lambda item: (item[0], item[1], item[2].rank)):
        if is_merge and state is not None:
            state = most_restrictive(state, decision)
        else:
            state = newest_decision(state, decision)
    return state


def effective(log: ConsentLog) -> Mapping[Purpose, ConsentDecision]:
    """Each purpose's decision as replaying every decision and merge in time order leaves it."""
    result = {}
    for purpose in Purpose:
        if (decision := _replay(_items(log, purpose))) is not None:
            result[purpose] = decision
    return result


# A text that is nothing but one of these words is the customer's opt-out from marketing.
_OPT_OUT = Wording(
    {
        Language.NORWEGIAN: ("stopp", "stop", "avmeld", "avslutt"),
        Language.SWEDISH: ("stopp", "stop", "avsluta", "avregistrera"),
        Language.DANISH: ("stop", "afmeld", "frameld"),
        Language.ENGLISH: ("stop", "unsubscribe"),
    }
)


def is_opt_out(text: str | None) -> bool:
    """Whether a reply such as "STOPP" asks to stop marketing (the whole text, not a word in a sentence)."""
    if not text:
        return False
    word = text.strip().strip(".!").strip()
    return bool(word) and " " not in word and _OPT_OUT.found_in(word, None)
