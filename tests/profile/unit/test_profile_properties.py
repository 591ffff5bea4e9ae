"""Properties of the profile fold, merge and unmerge over any valid event set, and of what is published."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from services.profile.core.merge import Holdings, merge, unmerge
from services.profile.core.observe import ObservedEvent
from services.profile.core.profile import ProfileConfig, apply, fold
from services.profile.core.snapshot import published_fields
from tests.profile.unit.profile_builders import NOW, event_sets

CONFIG = ProfileConfig()
modest = settings(max_examples=100, deadline=None)


@modest
@given(events=event_sets(), data=st.data())
def test_any_permutation_and_duplication_gives_the_same_profile(
    events: list[ObservedEvent], data: st.DataObject
) -> None:
    duplicated = events + data.draw(st.lists(st.sampled_from(events), max_size=6) if events else st.just([]))
    shuffled = data.draw(st.permutations(duplicated))

    assert fold("c", shuffled, CONFIG, NOW) == fold("c", events, CONFIG, NOW)


@modest
@given(events=event_sets(), data=st.data())
def test_incremental_apply_equals_fold(events: list[ObservedEvent], data: st.DataObject) -> None:
    arrival = data.draw(st.permutations(events + events[:3]))
    profile = fold("c", [], CONFIG, NOW)
    for observed in arrival:
        profile = apply(profile, observed, CONFIG, NOW)

    assert profile == fold("c", events, CONFIG, NOW)


@modest
@given(events=event_sets(min_size=1), late=event_sets(min_size=1, max_size=4))
def test_late_events_never_overwrite_newer_attributes(
    events: list[ObservedEvent], late: list[ObservedEvent]
) -> None:
    before = fold("c", events, CONFIG, NOW)
    after = fold("c", events + late, CONFIG, NOW)

    for name, attribute in after.facts.attributes.items():
        previous = before.facts.attributes.get(name)
        assert previous is None or attribute.stamp >= previous.stamp
        if attribute != previous:
            assert attribute.event_id in {e.event_id for e in late}


@modest
@given(ours=event_sets(max_size=8), theirs=event_sets(max_size=8))
def test_merge_then_unmerge_restores_both_sides(
    ours: list[ObservedEvent], theirs: list[ObservedEvent]
) -> None:
    theirs = [replace(e, event_id=f"b-{e.event_id}") for e in theirs]
    survivor, away = fold("a", ours, CONFIG, NOW), fold("b", theirs, CONFIG, NOW)
    merged = merge(
        Holdings(survivor, (), frozenset()),
        Holdings(away, (), frozenset()),
        cause_event_id="bridge",
        merged_at=NOW,
        config=CONFIG,
        now=NOW,
    )

    undone = unmerge(
        merged.record,
        held=merged.profile.facts,
        events=ours + theirs,
        links=(),
        cases=(),
        config=CONFIG,
        now=NOW,
    )

    assert undone.survivor == survivor
    assert undone.restored == away


@modest
@given(ours=event_sets(max_size=8), theirs=event_sets(max_size=8))
def test_a_merge_loses_nothing(ours: list[ObservedEvent], theirs: list[ObservedEvent]) -> None:
    theirs = [replace(e, event_id=f"b-{e.event_id}") for e in theirs]
    merged = merge(
        Holdings(fold("a", ours, CONFIG, NOW), (), frozenset()),
        Holdings(fold("b", theirs, CONFIG, NOW), (), frozenset()),
        cause_event_id="bridge",
        merged_at=NOW,
        config=CONFIG,
        now=NOW,
    ).profile
    together = fold("a", ours + theirs, CONFIG, NOW)

    # Everything equals folding both event sets, except consent, where the most restrictive side wins
    # at the merge and each side's decisions are kept apart.
    assert replace(merged.facts, consent={}, consent_log=None) == replace(
        together.facts, consent={}, consent_log=None
    )
    for purpose, decision in together.facts.consent.items():
        assert merged.facts.consent[purpose].granted <= decision.granted


@modest
@given(events=event_sets())
def test_published_fields_are_the_views_json_dump(events: list[ObservedEvent]) -> None:
    profile = fold("kari", events, CONFIG, NOW)

    published = published_fields(profile, None)

    dumped = profile.view.model_dump(mode="json", exclude={"customer_id", "as_of"})
    assert {name: published[name] for name in dumped} == dumped
    assert set(published) - set(dumped) == {"name", "identifiers", "merged_into"}
