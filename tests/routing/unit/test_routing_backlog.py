"""The backlog: the threshold search finds exactly the case a full scan would, and cases come and go."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.cases import CaseCategory
from schemas.customers import Tier
from schemas.interactions import Channel
from services.routing.core.backlog import Backlog
from services.routing.core.cases import CaseState, QueuedCase
from services.routing.core.rules import QueueRules, RoutingRules, ScoreWeights
from tests.routing.unit.routing_builders import CHANNELS, NOW, QUEUE_NAMES, RULES, case

modest = settings(max_examples=60, deadline=None)


def brute_best(
    backlog: Backlog, accept: Callable[[QueuedCase], bool], now: datetime, queues: set[str] | None
) -> QueuedCase | None:
    """Score every case."""
    taken = [c for c in backlog if accept(c) and (queues is None or c.queue in queues)]
    return min(taken, key=lambda c: backlog.rank(c, now), default=None)


def accepting(case_ids: set[str]) -> Callable[[QueuedCase], bool]:
    return lambda c: c.case_id in case_ids


# --- strategies ---------------------------------------------------------------------------------------


@st.composite
def routing_rules(draw: st.DrawFn) -> RoutingRules:
    """Any non-negative weights and any SLA and starvation caps, so the growth curves differ by queue.
    Zero aging and SLA weights make totals tie often, which is where a threshold search goes wrong."""
    queues = tuple(
        QueueRules(
            name,
            frozenset(CHANNELS),
            sla=timedelta(seconds=draw(st.sampled_from([0, 60, 120, 1800]))),
            offer_timeout=timedelta(seconds=30),
            starvation_after=timedelta(seconds=draw(st.sampled_from([60, 600, 3600, 10**6]))),
        )
        for name in QUEUE_NAMES
    )
    weights = ScoreWeights(
        aging_per_minute=draw(st.sampled_from([0.0, 0.1, 1.0, 3.0])),
        sla=draw(st.sampled_from([0.0, 0.0, 30.0, 200.0])),
        recovery=draw(st.sampled_from([0.0, 25.0])),
        value_per_1000=draw(st.sampled_from([0.0, 1.0, 7.5])),
    )
    return RoutingRules(queues=queues, weights=weights)


# Mostly a few ages (ties, and ages exactly at a starvation cap), sometimes any age.
_waits = st.sampled_from([-30, 0, 30, 60, 120, 600, 601, 3600]) | st.integers(
    min_value=-120, max_value=50_000
)
_values = st.sampled_from([0, 1000, 5000, 30000]) | st.integers(min_value=-1000, max_value=50_000)


@st.composite
def waiting_cases(
    draw: st.DrawFn,
    case_id: str,
    queues: tuple[str, ...] = QUEUE_NAMES[:2],
    channels: tuple[Channel, ...] = CHANNELS[:2],
) -> QueuedCase:
    return QueuedCase(
        case_id=case_id,
        customer_id=f"cust-{case_id}",
        queue=draw(st.sampled_from(queues)),
        channel=draw(st.sampled_from(channels)),
        category=CaseCategory.OTHER,
        language=None,
        tier=draw(st.sampled_from(list(Tier))),
        predicted_value=Decimal(draw(_values)),
        needs_recovery=draw(st.booleans()),
        last_agent=None,
        waiting_since=NOW - timedelta(seconds=draw(_waits)),
    )


@st.composite
def case_sets(draw: st.DrawFn, max_size: int = 30, *, one_group: bool = False) -> list[QueuedCase]:
    """Cases in a few (queue, channel) groups, or all in one, so each group holds many."""
    count = draw(st.integers(min_value=0, max_value=max_size))
    if one_group:
        return [draw(waiting_cases(f"c{index:02}", ("chat",), (Channel.CHAT,))) for index in range(count)]
    return [draw(waiting_cases(f"c{index:02}")) for index in range(count)]


_nows = st.sampled_from([0, 0, 1, 540]) | st.integers(min_value=0, max_value=20_000)


# --- the threshold search is exact --------------------------------------------------------------------


@modest
@given(rules=routing_rules(), cases=case_sets(), data=st.data())
def test_best_is_the_best_ranked_accepted_case_of_a_full_scan(
    rules: RoutingRules, cases: list[QueuedCase], data: st.DataObject
) -> None:
    backlog = Backlog(cases, rules)
    ids = sorted(c.case_id for c in cases)
    accepted = data.draw(st.sets(st.sampled_from(ids)) if ids else st.just(set[str]()))
    queues = data.draw(st.none() | st.sets(st.sampled_from(QUEUE_NAMES)))
    now = NOW + timedelta(seconds=data.draw(_nows))

    def accept(c: QueuedCase) -> bool:
        return c.case_id in accepted

    assert backlog.best(accept, now, queues) == brute_best(backlog, accept, now, queues)


@modest
@given(rules=routing_rules(), cases=case_sets(one_group=True), data=st.data())
def test_best_is_exact_within_one_crowded_group(
    rules: RoutingRules, cases: list[QueuedCase], data: st.DataObject
) -> None:
    backlog = Backlog(cases, rules)
    ids = sorted(c.case_id for c in cases)
    accepted = data.draw(st.sets(st.sampled_from(ids)) if ids else st.just(set[str]()))
    now = NOW + timedelta(seconds=data.draw(_nows))

    def accept(c: QueuedCase) -> bool:
        return c.case_id in accepted

    assert backlog.best(accept, now) == brute_best(backlog, accept, now, None)


@modest
@given(rules=routing_rules(), cases=case_sets(), data=st.data())
def test_best_with_a_filter_on_the_case_itself(
    rules: RoutingRules, cases: list[QueuedCase], data: st.DataObject
) -> None:
    backlog = Backlog(cases, rules)
    tiers = data.draw(st.sets(st.sampled_from(list(Tier))))
    channels = data.draw(st.sets(st.sampled_from(CHANNELS)))

    def accept(c: QueuedCase) -> bool:
        return c.tier in tiers and c.channel in channels

    assert backlog.best(accept, NOW, None) == brute_best(backlog, accept, NOW, None)


@modest
@given(rules=routing_rules(), cases=case_sets())
def test_ranked_is_every_case_best_first_and_best_takes_the_first(
    rules: RoutingRules, cases: list[QueuedCase]
) -> None:
    backlog = Backlog(cases, rules)
    ranked = backlog.ranked(NOW)

    assert sorted(c.case_id for c in ranked) == sorted(c.case_id for c in cases)
    assert [backlog.rank(c, NOW) for c in ranked] == sorted(backlog.rank(c, NOW) for c in cases)
    assert backlog.best(lambda _: True, NOW) == (ranked[0] if ranked else None)


@modest
@given(
    rules=routing_rules(),
    cases=case_sets(max_size=20),
    data=st.data(),
)
def test_best_stays_exact_through_adds_removes_and_replacements(
    rules: RoutingRules, cases: list[QueuedCase], data: st.DataObject
) -> None:
    backlog = Backlog([], rules)
    ids = [c.case_id for c in cases] or ["c00"]
    for held in cases:
        backlog.add(held)
    steps = data.draw(
        st.lists(
            st.one_of(
                st.tuples(st.just("remove"), st.sampled_from(ids)),
                st.tuples(st.just("add"), st.sampled_from(ids)),
                st.tuples(st.just("close"), st.sampled_from(ids)),
            ),
            max_size=15,
        )
    )
    expected: dict[str, QueuedCase] = {c.case_id: c for c in cases}
    for action, case_id in steps:
        if action == "remove":
            backlog.remove(case_id)
            expected.pop(case_id, None)
        elif action == "add":
            fresh = data.draw(waiting_cases(case_id))
            backlog.add(fresh)
            expected[case_id] = fresh
        else:
            closed = replace(data.draw(waiting_cases(case_id)), state=CaseState.DONE)
            backlog.add(closed)
            expected.pop(case_id, None)
        accept = accepting(data.draw(st.sets(st.sampled_from(ids))))
        assert backlog.best(accept, NOW) == brute_best(backlog, accept, NOW, None)

    assert {c.case_id: c for c in backlog} == expected
    assert len(backlog) == len(expected)


# --- examples -------------------------------------------------------------------------------------------


def test_starving_cases_rank_above_every_other_case_and_oldest_first_among_equals() -> None:
    starving_standard = case("old", waited=timedelta(minutes=11))
    starving_older = case("older", waited=timedelta(minutes=12))
    platinum = case("vip", tier=Tier.PLATINUM, predicted_value="99000", needs_recovery=True)
    backlog = Backlog([platinum, starving_standard, starving_older], RULES)

    assert [c.case_id for c in backlog.ranked(NOW)] == ["older", "old", "vip"]
    assert backlog.best(lambda _: True, NOW) == starving_older
    assert backlog.best(lambda c: c.case_id != "older", NOW) == starving_standard


def test_among_starving_cases_the_higher_score_goes_first() -> None:
    starving_gold = case("gold", tier=Tier.GOLD, waited=timedelta(minutes=11))
    starving_older = case("older", waited=timedelta(minutes=12))

    assert Backlog([starving_older, starving_gold], RULES).best(lambda _: True, NOW) == starving_gold


def test_equal_scores_go_oldest_first_then_by_id() -> None:
    twin_a = case("a", channel=Channel.EMAIL, queue="email", waited=timedelta(hours=1))
    twin_b = replace(twin_a, case_id="b")
    # Same static part; younger by a second is below one aging point, but still a lower total.
    younger = case("0", channel=Channel.EMAIL, queue="email", waited=timedelta(minutes=59, seconds=59))
    backlog = Backlog([twin_b, younger, twin_a], RULES)

    assert [c.case_id for c in backlog.ranked(NOW)] == ["a", "b", "0"]


def test_best_is_limited_to_the_agents_queues() -> None:
    chat = case("chat", waited=timedelta(minutes=1))
    call = case("call", queue="phone", channel=Channel.PHONE, waited=timedelta(minutes=5))
    backlog = Backlog([chat, call], RULES)

    assert backlog.best(lambda _: True, NOW) == call
    assert backlog.best(lambda _: True, NOW, ["chat"]) == chat
    assert backlog.best(lambda _: True, NOW, ["email"]) is None
    assert backlog.best(lambda _: False, NOW) is None


def test_only_waiting_cases_are_held() -> None:
    offered = case("offered", state=CaseState.OFFERED)
    backlog = Backlog([offered, case("waiting")], RULES)

    assert len(backlog) == 1
    assert backlog.get("offered") is None
    assert backlog.get("waiting") is not None


def test_adding_a_case_again_replaces_it() -> None:
    backlog = Backlog([case("a", waited=timedelta(minutes=1)), case("b", waited=timedelta(minutes=2))], RULES)
    assert backlog.best(lambda _: True, NOW) == backlog.get("b")

    promoted = case("a", tier=Tier.PLATINUM, waited=timedelta(minutes=1))
    backlog.add(promoted)

    assert len(backlog) == 2
    assert backlog.get("a") == promoted
    assert backlog.best(lambda _: True, NOW) == promoted


def test_a_case_moved_to_another_queue_leaves_the_old_one() -> None:
    backlog = Backlog([case("a")], RULES)

    backlog.add(case("a", queue="email", channel=Channel.EMAIL))

    assert backlog.best(lambda _: True, NOW, ["chat"]) is None
    assert backlog.best(lambda _: True, NOW, ["email"]) == backlog.get("a")


def test_a_case_no_longer_waiting_is_dropped_when_added() -> None:
    backlog = Backlog([case("a")], RULES)

    backlog.add(case("a", state=CaseState.ASSIGNED))

    assert len(backlog) == 0
    assert backlog.best(lambda _: True, NOW) is None


def test_removing_an_unknown_case_is_harmless() -> None:
    backlog = Backlog([case("a")], RULES)

    backlog.remove("nope")
    backlog.remove("a")
    backlog.remove("a")

    assert len(backlog) == 0
    assert list(backlog) == []


def test_a_tie_with_the_threshold_reads_on_and_finds_the_older_equal() -> None:
    # Aging and the SLA ramp off: a case's total is its static part, so equal statics tie exactly.
    flat = replace(RULES, weights=ScoreWeights(aging_per_minute=0.0, sla=0.0))
    young_gold = case("c01", tier=Tier.GOLD, waited=timedelta(minutes=1))
    old_gold = case("c02", tier=Tier.GOLD, waited=timedelta(minutes=5))
    oldest_standard = case("c00", waited=timedelta(minutes=9))
    backlog = Backlog([young_gold, old_gold, oldest_standard], flat)

    # After one step the best seen (young gold, 50) equals the bound for the rest (50 + 0): an unseen
    # case may still tie and be older, so the search must go on.
    assert backlog.best(lambda _: True, NOW) == old_gold
    assert backlog.ranked(NOW)[0] == old_gold


def test_a_case_exactly_at_the_starvation_cap_is_starving_in_the_search_too() -> None:
    cap = RULES.queue("chat").starvation_after
    older_standard = case("older", waited=cap + timedelta(minutes=1))
    platinum_at_cap = case("at-cap", tier=Tier.PLATINUM, waited=cap)
    backlog = Backlog([older_standard, platinum_at_cap], RULES)

    # Both starve; among the starving the higher score goes first.
    assert backlog.rank(platinum_at_cap, NOW)[0] is False
    assert backlog.best(lambda _: True, NOW) == platinum_at_cap
    assert backlog.ranked(NOW)[0] == platinum_at_cap
