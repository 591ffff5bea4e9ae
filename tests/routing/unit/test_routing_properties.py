"""Properties of routing over random schedules, leave, statuses, capacities and case streams: no case is
ever offered to an ineligible agent, no agent's capacity is exceeded, the highest-ranked case with an
eligible agent is served first, and a starving case is served before any case that is not."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.routing.core.agents import Agent
from services.routing.core.backlog import Backlog, Rank
from services.routing.core.cases import CaseState, QueuedCase
from services.routing.core.eligibility import ineligibility
from services.routing.core.pick import (
    Pick,
    Roster,
    Unserved,
    choose_agent,
    choose_case,
    held_for_previous,
    make_offer,
    plan_round,
)
from tests.routing.unit.routing_builders import RULES, agents, instants, queued_cases

modest = settings(max_examples=75, deadline=None)


@dataclass(frozen=True)
class World:
    now: datetime
    agents: tuple[Agent, ...]
    cases: tuple[QueuedCase, ...]


@st.composite
def worlds(draw: st.DrawFn, max_agents: int = 5, max_cases: int = 10) -> World:
    now = draw(instants(days=200))
    ids = tuple(f"a{index}" for index in range(draw(st.integers(min_value=1, max_value=max_agents))))
    count = draw(st.integers(min_value=1, max_value=max_cases))
    return World(
        now,
        tuple(draw(agents(agent_id, now)) for agent_id in ids),
        tuple(draw(queued_cases(f"c{index:02}", now, ids)) for index in range(count)),
    )


def assert_within_capacity(agent: Agent) -> None:
    assert agent.used <= agent.capacity.budget, agent
    for item in agent.work:
        limit = agent.capacity.limits.get(item.channel)
        assert limit is not None, (agent.agent_id, item)
        assert agent.holding(item.channel) <= limit.cap, (agent.agent_id, item.channel)


def starving(rank: Rank) -> bool:
    return rank[0] is False


def _preference(agent: Agent) -> tuple[float, datetime, str]:
    return (agent.load, agent.idle_since or datetime.max.replace(tzinfo=UTC), agent.agent_id)


# --- a round --------------------------------------------------------------------------------------------


@modest
@given(world=worlds())
def test_a_round_offers_only_to_eligible_agents_within_capacity_best_ranked_first(world: World) -> None:
    now = world.now
    ranks = {c.case_id: Backlog(world.cases, RULES).rank(c, now) for c in world.cases}
    roster, backlog = Roster(world.agents, now, RULES), Backlog(world.cases, RULES)

    picks = plan_round(roster, backlog)

    state = {a.agent_id: a for a in world.agents}
    served: set[str] = set()
    for pick in picks:
        before = state[pick.agent.agent_id]
        # The agent as it stood when picked (with the round's earlier offers), and eligible then.
        assert pick.agent == before
        assert ineligibility(before, pick.case, now, RULES) is None
        assert pick.case.case_id not in served
        decision = pick.decision
        assert decision.eligible >= 1
        assert decision.eligible + sum(decision.ineligible.values()) == decision.considered
        # Every better-ranked case not served had nobody (or waits for its busy previous agent).
        moment = Roster(state.values(), now, RULES)
        for skipped in world.cases:
            if skipped.case_id not in served and ranks[skipped.case_id] < ranks[pick.case.case_id]:
                assert isinstance(choose_agent(skipped, moment), Unserved), (skipped, pick)
        served.add(pick.case.case_id)
        offered, state[before.agent_id] = make_offer(pick, RULES)
        assert offered.state is CaseState.OFFERED
        assert_within_capacity(state[before.agent_id])

    # Best-ranked first.
    assert [ranks[p.case.case_id] for p in picks] == sorted(ranks[p.case.case_id] for p in picks)
    # The roster and backlog moved on as if the offers were made.
    assert roster.by_id == state
    assert {c.case_id for c in backlog} == {c.case_id for c in world.cases} - served
    # Nothing left that anyone could take now: the round went as far as it could.
    after = Roster(state.values(), now, RULES)
    for left in backlog:
        assert isinstance(choose_agent(left, after), Unserved), left
    for held in state.values():
        assert_within_capacity(held)


@modest
@given(world=worlds())
def test_the_highest_ranked_case_with_an_eligible_agent_is_served_first(world: World) -> None:
    now = world.now
    backlog = Backlog(world.cases, RULES)
    at_start = Roster(world.agents, now, RULES)
    servable = [c for c in backlog if isinstance(choose_agent(c, at_start), Pick)]

    picks = plan_round(Roster(world.agents, now, RULES), Backlog(world.cases, RULES))

    if servable:
        best = min(servable, key=lambda c: backlog.rank(c, now))
        assert picks[0].case == best
        assert picks[0] == choose_agent(best, at_start)
    else:
        assert picks == []


@modest
@given(world=worlds(max_cases=12))
def test_a_starving_case_with_an_eligible_agent_is_served_before_any_that_is_not(world: World) -> None:
    now = world.now
    ranks = {c.case_id: Backlog(world.cases, RULES).rank(c, now) for c in world.cases}

    picks = plan_round(Roster(world.agents, now, RULES), Backlog(world.cases, RULES))

    state = {a.agent_id: a for a in world.agents}
    served: set[str] = set()
    for pick in picks:
        if not starving(ranks[pick.case.case_id]):
            moment = Roster(state.values(), now, RULES)
            for waiting in world.cases:
                if waiting.case_id not in served and starving(ranks[waiting.case_id]):
                    assert not isinstance(choose_agent(waiting, moment), Pick), (waiting, pick)
        served.add(pick.case.case_id)
        _, state[pick.agent.agent_id] = make_offer(pick, RULES)


# --- one case, one agent ----------------------------------------------------------------------------------


@modest
@given(world=worlds(max_cases=4))
def test_choose_agent_takes_the_sticky_agent_or_the_preferred_eligible_one(world: World) -> None:
    now = world.now
    roster = Roster(world.agents, now, RULES)
    for waiting in world.cases:
        serving = [a for a in world.agents if waiting.queue in a.queues]
        eligible = [a for a in serving if ineligibility(a, waiting, now, RULES) is None]
        outcome = choose_agent(waiting, roster)

        if isinstance(outcome, Pick):
            assert ineligibility(outcome.agent, waiting, now, RULES) is None
            sticky = [a for a in eligible if a.agent_id == waiting.last_agent]
            assert outcome.agent == (sticky[0] if sticky else min(eligible, key=_preference))
            assert outcome.decision.eligible == len(eligible)
            assert outcome.decision.considered == len(serving)
        else:
            assert outcome.held_for is not None or not eligible
            if outcome.held_for is not None:
                previous = roster.by_id[outcome.held_for]
                assert previous.agent_id == waiting.last_agent
                assert ineligibility(previous, waiting, now, RULES) == "capacity"
                assert now - waiting.waiting_since < RULES.sticky_wait[waiting.tier]
            assert sum(outcome.ineligible.values()) == len(serving) - len(eligible)


@modest
@given(world=worlds(), data=st.data())
def test_choose_case_gives_an_agent_the_best_ranked_case_it_may_take(
    world: World, data: st.DataObject
) -> None:
    now = world.now
    roster, backlog = Roster(world.agents, now, RULES), Backlog(world.cases, RULES)
    chooser = data.draw(st.sampled_from(world.agents))
    may_take = [
        c
        for c in backlog
        if ineligibility(chooser, c, now, RULES) is None
        and held_for_previous(c, roster) in (None, chooser.agent_id)
    ]

    pick = choose_case(chooser, backlog, roster)

    if not may_take:
        assert pick is None
    else:
        assert pick is not None
        assert pick.case == min(may_take, key=lambda c: backlog.rank(c, now))
        assert pick.agent == chooser
        assert ineligibility(chooser, pick.case, now, RULES) is None


# --- a stream of cases over time ------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(world=worlds(max_cases=14), data=st.data())
def test_a_stream_of_arrivals_completions_and_rounds_keeps_every_rule(
    world: World, data: st.DataObject
) -> None:
    """Cases arrive one by one, agents finish work and get new cases, rounds run; time passes (heartbeats
    age, shifts end, leave starts, cases starve). Every offer goes to an agent eligible at that moment,
    and nobody ever holds more than the capacity allows."""
    now = world.now
    state = {a.agent_id: a for a in world.agents}
    backlog = Backlog([], RULES)
    arrivals = list(world.cases)
    offered: set[str] = set()

    def offer(pick: Pick, roster: Roster) -> None:
        before = state[pick.agent.agent_id]
        assert roster.closed_because(before.agent_id) is None
        assert ineligibility(before, pick.case, roster.now, RULES) is None
        assert pick.case.case_id not in offered
        offered.add(pick.case.case_id)
        _, after = make_offer(pick, RULES)
        state[after.agent_id] = after
        backlog.remove(pick.case.case_id)
        assert_within_capacity(after)

    for _ in range(data.draw(st.integers(min_value=1, max_value=12))):
        now += timedelta(seconds=data.draw(st.sampled_from([0, 5, 30, 120, 700])))
        for agent_id in data.draw(st.sets(st.sampled_from(sorted(state)))):
            state[agent_id] = replace(state[agent_id], heartbeat_at=now)
        roster = Roster(state.values(), now, RULES)
        action = data.draw(st.sampled_from(["arrive", "arrive", "finish", "round"]))
        if action == "arrive" and arrivals:
            arriving = replace(arrivals.pop(0), waiting_since=now)
            backlog.add(arriving)
            outcome = choose_agent(arriving, roster)
            if isinstance(outcome, Pick):
                offer(outcome, roster)
        elif action == "finish":
            finisher = state[data.draw(st.sampled_from(sorted(state)))]
            if finisher.work:
                work = finisher.work[1:]
                state[finisher.agent_id] = replace(finisher, work=work, idle_since=None if work else now)
                roster = Roster(state.values(), now, RULES)
            pick = choose_case(state[finisher.agent_id], backlog, roster)
            if pick is not None:
                offer(pick, roster)
        else:
            for pick in plan_round(roster, backlog):
                assert ineligibility(pick.agent, pick.case, now, RULES) is None
                offered.add(pick.case.case_id)
            state.update(roster.by_id)
        for held in state.values():
            assert_within_capacity(held)
        assert not offered & {c.case_id for c in backlog}


@modest
@given(world=worlds(max_agents=6, max_cases=1), steps=st.lists(st.integers(1, 240), min_size=1, max_size=12))
def test_a_refreshed_roster_judges_every_agent_as_a_new_one_would(world: World, steps: list[int]) -> None:
    """A router keeps its roster between rounds and re-weighs only agents that changed or whose answer
    time alone may have changed: at every later instant it must agree with a roster built afresh."""
    kept = Roster(world.agents, world.now, RULES)
    now = world.now
    for minutes in steps:
        now += timedelta(minutes=minutes)
        kept.refresh(world.agents, now)
        fresh = Roster(world.agents, now, RULES)
        for agent in world.agents:
            assert kept.closed_because(agent.agent_id) == fresh.closed_because(agent.agent_id), (agent, now)
