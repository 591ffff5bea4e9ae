"""Consent across merges: arrival order never changes it, and an unmerge gives each side back its own."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.customers import Purpose
from schemas.identifiers import IdentifierKind, identify
from services.profile.adapters.outbound.documents import facts_document, facts_from_document
from services.profile.core.consent import ConsentLog
from services.profile.core.merge import Holdings, combine, merge, unmerge
from services.profile.core.observe import ObservedEvent, observe_change
from services.profile.core.profile import ProfileConfig, ProfileFacts, evaluate, fold
from tests.profile.unit.profile_builders import NOW

CONFIG = ProfileConfig()
modest = settings(max_examples=150, deadline=None)
IDENTIFIER = {name: identify(IdentifierKind.EMAIL, f"{name}@example.no") for name in "abc"}
PURPOSES = (Purpose.MARKETING, Purpose.PROFILING)
times = st.integers(-10, 10).map(lambda hours: NOW + timedelta(hours=hours))


def decision(event_id: str, customer: str, purpose: Purpose, granted: bool, at: datetime) -> ObservedEvent:
    """A decision carried by an event with the customer's own identifier (an SMS "STOPP", a form)."""
    return observe_change(
        event_id, "sms", at, identifiers=(IDENTIFIER[customer],), consent={purpose: granted}
    )


@st.composite
def decisions(draw: st.DrawFn) -> list[ObservedEvent]:
    raw = draw(
        st.lists(
            st.tuples(st.sampled_from("abc"), st.sampled_from(PURPOSES), st.booleans(), times), max_size=9
        )
    )
    return [decision(f"d{i}", *fields) for i, fields in enumerate(raw)]


@dataclass(frozen=True)
class Merging:
    away: str
    at: datetime


def owner_of(event: ObservedEvent) -> str:
    return next(name for name, identifier in IDENTIFIER.items() if identifier in event.identifiers)


def process(arrivals: list[ObservedEvent | Merging]) -> ProfileFacts:
    """What the service does with events and merges (c, then b, into a) as they arrive: an event for a
    customer already merged away goes to its survivor."""
    # Each customer exists before any merge: an event with its identifier made it.
    facts = {
        name: ProfileFacts().with_event(observe_change(f"seen-{name}", "web", NOW, identifiers=(identifier,)))
        for name, identifier in IDENTIFIER.items()
    }
    into: dict[str, str] = {}
    for arrival in arrivals:
        if isinstance(arrival, Merging):
            facts["a"] = combine(facts["a"], facts[arrival.away], away_id=arrival.away, merged_at=arrival.at)
            into[arrival.away] = "a"
        else:
            name = into.get(owner_of(arrival), owner_of(arrival))
            facts[name] = facts[name].with_event(arrival)
    return facts["a"]


def in_event_order(arrivals: list[ObservedEvent | Merging]) -> list[ObservedEvent | Merging]:
    # At the same instant a decision comes before the merge: the merged side held it.
    return sorted(
        arrivals, key=lambda item: (item.at, 1) if isinstance(item, Merging) else (item.occurred_at, 0)
    )


@modest
@given(events=decisions(), first=times, second=times, data=st.data())
def test_any_arrival_order_of_decisions_and_merges_gives_the_consent_of_event_order(
    events: list[ObservedEvent], first: datetime, second: datetime, data: st.DataObject
) -> None:
    merges: list[ObservedEvent | Merging] = [Merging("c", first), Merging("b", second)]
    arrivals = data.draw(st.permutations([*events, *merges]))

    assert process(arrivals).consent == process(in_event_order(arrivals)).consent


def test_a_withdrawal_made_before_the_merge_and_seen_after_it_still_counts() -> None:
    granted = decision("grant", "a", Purpose.MARKETING, True, NOW - timedelta(hours=1))
    stop = decision("stop", "c", Purpose.MARKETING, False, NOW - timedelta(hours=2))
    late = process([granted, Merging("c", NOW), stop])

    assert late.consent == process([stop, granted, Merging("c", NOW)]).consent
    assert not late.consent[Purpose.MARKETING].granted


def holdings(name: str, events: list[ObservedEvent]) -> Holdings:
    return Holdings(fold(name, events, CONFIG, NOW), (), frozenset())


@modest
@given(events=decisions(), first=times, second=times)
def test_unmerge_after_nested_merges_restores_each_side_consent(
    events: list[ObservedEvent], first: datetime, second: datetime
) -> None:
    side = {name: [e for e in events if owner_of(e) == name] for name in "abc"}
    with_c = merge(
        holdings("a", side["a"]),
        holdings("c", side["c"]),
        cause_event_id="ac",
        merged_at=first,
        config=CONFIG,
        now=NOW,
    )
    with_b = merge(
        Holdings(with_c.profile, (), frozenset()),
        holdings("b", side["b"]),
        cause_event_id="ab",
        merged_at=second,
        config=CONFIG,
        now=NOW,
    )

    undone = unmerge(
        with_b.record, held=with_b.profile.facts, events=events, links=(), cases=(), config=CONFIG, now=NOW
    )

    assert undone.survivor.facts.consent == with_c.profile.facts.consent
    assert undone.survivor.facts.consent_log == with_c.profile.facts.consent_log
    assert undone.restored == fold("b", side["b"], CONFIG, NOW)


@modest
@given(events=decisions(), first=times, second=times)
def test_stored_consent_reads_back_as_written_and_older_documents_as_one_person(
    events: list[ObservedEvent], first: datetime, second: datetime
) -> None:
    facts = process([*events, Merging("c", first), Merging("b", second)])
    document = facts_document(evaluate("a", facts, CONFIG, NOW))

    assert facts_from_document(document) == replace(facts, event_ids=frozenset())
    older = facts_from_document({k: v for k, v in document.items() if k != "consent_log"})
    assert older.consent == facts.consent
    assert older.decisions == ConsentLog(frozenset(facts.consent.values()))
