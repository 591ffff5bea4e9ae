"""Erlang C staffing: textbook figures, the search for the fewest agents, and who is on shift."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.interactions import Channel
from services.routing.core.agents import Agent, Capacity, ChannelLimit
from services.routing.core.schedule import Leave, Schedule, Shift
from services.routing.core.staffing import (
    HourStaffing,
    effective_handle_seconds,
    erlang_c,
    required_agents,
    scheduled_agents,
    service_level,
    staffing_plan,
)

modest = settings(max_examples=150, deadline=None)

MONDAY = datetime(2026, 11, 23, tzinfo=UTC)  # Oslo is UTC+1 in November
CHAT = Capacity(limits={Channel.CHAT: ChannelLimit(cost=25, cap=4)})


def factorial_erlang_c(traffic: float, agents: int) -> float:
    """The formula as printed in the textbooks, for checking the stable recursion on small inputs."""
    top = traffic**agents / math.factorial(agents) * agents / (agents - traffic)
    below = sum(traffic**k / math.factorial(k) for k in range(agents))
    return top / (below + top)


def agent(
    agent_id: str,
    *shifts: Shift,
    queues: frozenset[str] = frozenset({"chat"}),
    leaves: tuple[Leave, ...] = (),
) -> Agent:
    return Agent(agent_id, queues, CHAT, schedule=Schedule("Europe/Oslo", shifts), leaves=leaves)


# Erlang C itself


@pytest.mark.parametrize(("agents", "waits"), [(11, 0.6821), (12, 0.4494), (13, 0.2853), (14, 0.1741)])
def test_erlang_c_matches_the_textbook_table_for_ten_erlangs(agents: int, waits: float) -> None:
    assert erlang_c(10.0, agents) == pytest.approx(waits, abs=1e-4)


@modest
@given(traffic=st.floats(min_value=0.01, max_value=40.0), extra=st.integers(min_value=1, max_value=40))
def test_erlang_c_agrees_with_the_factorial_formula(traffic: float, extra: int) -> None:
    agents = math.floor(traffic) + extra

    assert erlang_c(traffic, agents) == pytest.approx(factorial_erlang_c(traffic, agents), rel=1e-9)


def test_erlang_c_stays_finite_where_the_factorial_formula_overflows() -> None:
    with pytest.raises(OverflowError):
        factorial_erlang_c(800.0, 830)

    waits = erlang_c(800.0, 830)

    assert 0.0 < waits < 1.0
    assert erlang_c(800.0, 840) < waits


def test_everyone_waits_when_the_agents_cannot_keep_up() -> None:
    assert erlang_c(10.0, 10) == 1.0
    assert erlang_c(10.5, 3) == 1.0
    assert service_level(10.0, 10, 180.0, 20.0) == 0.0


def test_nobody_waits_without_traffic() -> None:
    assert erlang_c(0.0, 0) == 0.0
    assert service_level(0.0, 0, 180.0, 20.0) == 1.0


# Service level


def test_the_call_centre_helper_worked_example() -> None:
    """100 calls per 30 minutes of 180 s each, 80 % within 20 s: 10 erlangs, 14 agents."""
    assert service_level(10.0, 13, 180.0, 20.0) == pytest.approx(0.7956, abs=1e-4)
    assert service_level(10.0, 14, 180.0, 20.0) == pytest.approx(0.8884, abs=1e-4)
    assert required_agents(200.0, 180.0, 20.0, 0.8) == 14


def test_service_level_agrees_with_the_factorial_formula() -> None:
    expected = 1.0 - factorial_erlang_c(10.0, 12) * math.exp(-2 * 20.0 / 180.0)

    assert service_level(10.0, 12, 180.0, 20.0) == pytest.approx(expected, rel=1e-12)


def test_a_zero_target_is_the_share_that_does_not_wait() -> None:
    assert service_level(10.0, 12, 180.0, 0.0) == pytest.approx(1.0 - erlang_c(10.0, 12))


@modest
@given(
    traffic=st.floats(min_value=0.0, max_value=150.0),
    agents=st.integers(min_value=0, max_value=250),
    handle=st.floats(min_value=10.0, max_value=1800.0),
    target=st.floats(min_value=0.0, max_value=600.0),
)
def test_service_level_never_falls_with_more_agents(
    traffic: float, agents: int, handle: float, target: float
) -> None:
    fewer = service_level(traffic, agents, handle, target)
    more = service_level(traffic, agents + 1, handle, target)

    assert 0.0 <= fewer <= more <= 1.0


# The fewest agents


@modest
@given(
    arrivals=st.floats(min_value=0.5, max_value=2000.0),
    handle=st.floats(min_value=30.0, max_value=900.0),
    target=st.floats(min_value=0.0, max_value=300.0),
    goal=st.floats(min_value=0.05, max_value=0.99),
)
def test_required_agents_is_the_fewest_that_meet_the_goal(
    arrivals: float, handle: float, target: float, goal: float
) -> None:
    traffic = arrivals * handle / 3600.0

    needed = required_agents(arrivals, handle, target, goal)

    assert needed > traffic
    assert service_level(traffic, needed, handle, target) >= goal
    assert service_level(traffic, needed - 1, handle, target) < goal


@modest
@given(
    arrivals=st.floats(min_value=0.5, max_value=1000.0),
    handle=st.floats(min_value=60.0, max_value=900.0),
    goal=st.floats(min_value=0.5, max_value=0.95),
    concurrency=st.integers(min_value=2, max_value=5),
)
def test_with_several_chats_one_agent_fewer_misses_the_goal(
    arrivals: float, handle: float, goal: float, concurrency: int
) -> None:
    stretched = effective_handle_seconds(handle, concurrency)
    traffic = arrivals * stretched / 3600.0

    needed = required_agents(arrivals, handle, 60.0, goal, concurrency=concurrency)

    assert service_level(traffic, needed * concurrency, stretched, 60.0) >= goal
    assert service_level(traffic, (needed - 1) * concurrency, stretched, 60.0) < goal


def test_agents_on_several_chats_are_fewer_than_on_one() -> None:
    single = required_agents(120.0, 600.0, 60.0, 0.8)
    triple = required_agents(120.0, 600.0, 60.0, 0.8, concurrency=3)

    assert triple < single
    # Three chats at 1.5 times the handle time do twice the work of one, so roughly half the agents.
    assert triple == pytest.approx(single / 2, abs=2)


def test_the_slowdown_sets_what_an_extra_chat_is_worth() -> None:
    assert effective_handle_seconds(600.0, 3) == 900.0
    assert effective_handle_seconds(600.0, 3, slowdown=0.0) == 600.0
    free = required_agents(120.0, 600.0, 60.0, 0.8, concurrency=3, slowdown=0.0)
    costly = required_agents(120.0, 600.0, 60.0, 0.8, concurrency=3, slowdown=1.0)

    assert free < required_agents(120.0, 600.0, 60.0, 0.8, concurrency=3) < costly
    # A slowdown of 1 makes parallel chats worth no more than serial ones.
    assert costly >= math.ceil(required_agents(120.0, 600.0, 60.0, 0.8) / 3)


def test_no_arrivals_need_no_agents() -> None:
    assert required_agents(0.0, 300.0, 20.0, 0.8) == 0
    assert required_agents(0.0, 300.0, 20.0, 0.8, concurrency=4) == 0


def test_a_large_centre_is_sized_quickly_and_sensibly() -> None:
    needed = required_agents(100_000.0, 300.0, 20.0, 0.8)
    traffic = 100_000.0 * 300.0 / 3600.0

    assert traffic < needed < traffic * 1.05


@pytest.mark.parametrize(
    "arguments",
    [
        {"arrivals_per_hour": -1.0},
        {"arrivals_per_hour": math.nan},
        {"arrivals_per_hour": math.inf},
        {"arrivals_per_hour": 1e12},
        {"handle_seconds": 0.0},
        {"handle_seconds": -30.0},
        {"target_seconds": -1.0},
        {"service_level_goal": 0.0},
        {"service_level_goal": 1.0},
        {"service_level_goal": 80.0},
        {"concurrency": 0},
        {"slowdown": -0.1},
    ],
)
def test_absurd_inputs_are_refused(arguments: dict[str, float]) -> None:
    inputs: dict[str, float] = {
        "arrivals_per_hour": 100.0,
        "handle_seconds": 300.0,
        "target_seconds": 20.0,
        "service_level_goal": 0.8,
        "concurrency": 1,
        "slowdown": 0.25,
    } | arguments

    with pytest.raises(ValueError):  # noqa: PT011 - the message differs per input
        required_agents(
            inputs["arrivals_per_hour"],
            inputs["handle_seconds"],
            inputs["target_seconds"],
            inputs["service_level_goal"],
            concurrency=int(inputs["concurrency"]),
            slowdown=inputs["slowdown"],
        )


def test_erlang_c_refuses_negative_inputs() -> None:
    with pytest.raises(ValueError, match="traffic_erlangs"):
        erlang_c(-1.0, 3)
    with pytest.raises(ValueError, match="agents"):
        erlang_c(1.0, -3)


# Who is scheduled


def test_scheduled_agents_counts_an_overnight_shift_after_midnight() -> None:
    night = agent("night", Shift(0, time(22), time(6)))  # Monday 22:00 to Tuesday 06:00 in Oslo
    tuesday_3am_oslo = MONDAY + timedelta(days=1, hours=2)
    tuesday_6am_oslo = MONDAY + timedelta(days=1, hours=5)

    assert scheduled_agents([night], "chat", MONDAY + timedelta(hours=21)) == 1
    assert scheduled_agents([night], "chat", tuesday_3am_oslo) == 1
    assert scheduled_agents([night], "chat", tuesday_6am_oslo) == 0


def test_scheduled_agents_looks_at_the_middle_of_the_hour() -> None:
    half_past = agent("late", Shift(0, time(9, 30), time(17, 30)))
    nine_oslo = MONDAY + timedelta(hours=8)

    assert scheduled_agents([half_past], "chat", nine_oslo) == 1  # on at 09:30
    assert scheduled_agents([half_past], "chat", nine_oslo + timedelta(hours=8)) == 0  # off at 17:30


def test_scheduled_agents_leaves_out_leave_and_other_queues() -> None:
    day = Shift(0, time(8), time(16))
    noon_oslo = MONDAY + timedelta(hours=11)
    away = Leave(MONDAY, MONDAY + timedelta(days=1))
    roster = [
        agent("here", day),
        agent("also-phone", day, queues=frozenset({"chat", "phone"})),
        agent("phone-only", day, queues=frozenset({"phone"})),
        agent("on-leave", day, leaves=(away,)),
        agent("leave-over", day, leaves=(Leave(MONDAY - timedelta(days=7), MONDAY),)),
        agent("off-today", Shift(1, time(8), time(16))),
    ]

    assert scheduled_agents(roster, "chat", noon_oslo) == 3
    assert scheduled_agents(roster, "phone", noon_oslo) == 2


def test_scheduled_agents_needs_an_aware_hour() -> None:
    with pytest.raises(ValueError, match="time zone"):
        scheduled_agents([], "chat", datetime(2026, 11, 23, 12))  # naive on purpose


# The plan


def test_staffing_plan_sets_required_against_scheduled_per_hour() -> None:
    roster = [agent(f"a{n}", Shift(0, time(8), time(16))) for n in range(12)]
    hours = [MONDAY + timedelta(hours=h) for h in (5, 6, 7, 8, 15)]  # 06:00 .. 09:00 and 16:00 in Oslo
    forecast = {hours[1]: 40.0, hours[2]: 200.0, hours[3]: 120.0, hours[4]: 60.0}

    plan = staffing_plan(
        roster, "chat", hours, forecast, handle_seconds=180.0, target_seconds=20.0, service_level_goal=0.8
    )

    assert [hour.hour_start for hour in plan] == hours
    assert [hour.arrivals_per_hour for hour in plan] == [0.0, 40.0, 200.0, 120.0, 60.0]
    assert [hour.scheduled for hour in plan] == [0, 0, 12, 12, 0]
    assert plan[0].required == 0
    assert plan[2].required == 14
    for hour in plan:
        assert hour.required == required_agents(hour.arrivals_per_hour, 180.0, 20.0, 0.8)
        assert hour.gap == hour.scheduled - hour.required
    assert plan[2].gap == -2


def test_staffing_plan_takes_one_rate_for_every_hour_and_several_chats() -> None:
    roster = (agent(f"a{n}", Shift(0, time(8), time(16))) for n in range(5))
    hours = [MONDAY + timedelta(hours=h) for h in (8, 9)]

    plan = staffing_plan(
        roster,
        "chat",
        hours,
        120.0,
        handle_seconds=600.0,
        target_seconds=60.0,
        service_level_goal=0.8,
        concurrency=3,
    )

    expected = required_agents(120.0, 600.0, 60.0, 0.8, concurrency=3)
    assert plan == [HourStaffing(hour, 120.0, expected, 5) for hour in hours]
    assert all(hour.gap == 5 - expected for hour in plan)
