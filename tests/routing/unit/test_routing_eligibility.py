"""The hard rule: each reason an agent is absent, closed for new work, or unfit for one case."""

from __future__ import annotations

from dataclasses import replace
from datetime import time, timedelta

import pytest

from schemas.cases import CaseCategory
from schemas.interactions import Channel
from schemas.routing import AgentStatus
from services.routing.core.agents import ChannelLimit, WorkState, primary_language
from services.routing.core.eligibility import absence, ineligibility, misfit, unavailability
from services.routing.core.schedule import Leave, Schedule, Shift
from tests.routing.unit.routing_builders import NOW, RULES, SHARED, agent, case, holding, oslo

# NOW is Wednesday 2026-01-14 13:00 in Oslo.
WEDNESDAY = 2


def day_shift(start: str, end: str) -> Schedule:
    return Schedule("Europe/Oslo", (Shift(WEDNESDAY, time.fromisoformat(start), time.fromisoformat(end)),))


# --- absence ----------------------------------------------------------------------------------------


def test_an_available_agent_with_a_fresh_heartbeat_on_shift_is_present_and_open() -> None:
    open_agent = agent(schedule=day_shift("08:00", "16:00"))

    assert absence(open_agent, NOW, RULES) is None
    assert unavailability(open_agent, NOW, RULES) is None
    assert ineligibility(open_agent, case(), NOW, RULES) is None


@pytest.mark.parametrize("status", [AgentStatus.AWAY, AgentStatus.OFFLINE])
def test_an_agent_not_available_is_absent_by_status(status: AgentStatus) -> None:
    assert absence(agent(status=status), NOW, RULES) == "status"
    assert ineligibility(agent(status=status), case(), NOW, RULES) == "status"


def test_an_agent_whose_heartbeat_expired_is_absent() -> None:
    ttl = RULES.heartbeat_ttl

    assert absence(agent(heartbeat_at=NOW - ttl), NOW, RULES) is None
    assert absence(agent(heartbeat_at=NOW - ttl - timedelta(seconds=1)), NOW, RULES) == "heartbeat"
    assert absence(agent(heartbeat_at=None), NOW, RULES) == "heartbeat"


def test_the_heartbeat_ttl_comes_from_the_rules() -> None:
    stale = agent(heartbeat_at=NOW - timedelta(seconds=90))

    assert absence(stale, NOW, RULES) == "heartbeat"
    assert absence(stale, NOW, replace(RULES, heartbeat_ttl=timedelta(minutes=2))) is None


def test_an_agent_on_leave_is_absent_for_the_leave_only() -> None:
    leave = Leave(NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    away = agent(leaves=(leave,))
    back = agent(leaves=(leave,), heartbeat_at=leave.end)

    assert absence(away, NOW, RULES) == "leave"
    assert absence(back, leave.end - timedelta(seconds=1), RULES) == "leave"
    assert absence(back, leave.end, RULES) is None


def test_an_agent_off_shift_is_absent() -> None:
    mornings = agent(schedule=day_shift("07:00", "12:00"))

    assert absence(mornings, NOW, RULES) == "off_shift"
    assert absence(mornings, oslo(2026, 1, 14, 9), RULES) is None


def test_the_first_failed_rule_is_named() -> None:
    everything_wrong = agent(
        status=AgentStatus.AWAY,
        heartbeat_at=None,
        leaves=(Leave(NOW - timedelta(hours=1), NOW + timedelta(hours=1)),),
        schedule=Schedule("Europe/Oslo", ()),
        not_responding=True,
    )

    assert absence(everything_wrong, NOW, RULES) == "status"
    assert absence(replace(everything_wrong, status=AgentStatus.AVAILABLE), NOW, RULES) == "heartbeat"
    assert absence(replace(everything_wrong, status=AgentStatus.AVAILABLE, heartbeat_at=NOW), NOW, RULES) == (
        "leave"
    )
    assert (
        absence(
            replace(everything_wrong, status=AgentStatus.AVAILABLE, heartbeat_at=NOW, leaves=()), NOW, RULES
        )
        == "off_shift"
    )


# --- unavailability -----------------------------------------------------------------------------------


def test_an_agent_not_responding_is_present_but_takes_no_new_work() -> None:
    silent = agent(not_responding=True)

    assert absence(silent, NOW, RULES) is None
    assert unavailability(silent, NOW, RULES) == "not_responding"
    assert ineligibility(silent, case(), NOW, RULES) == "not_responding"


def test_an_agent_near_the_end_of_the_shift_is_present_but_winding_down() -> None:
    ending = agent(schedule=day_shift("08:00", "13:05"))  # NOW is 13:00 in Oslo

    assert absence(ending, NOW, RULES) is None
    assert unavailability(ending, NOW, RULES) == "wind_down"
    assert unavailability(ending, NOW, replace(RULES, wind_down=timedelta(minutes=4))) is None


def test_absence_comes_before_unavailability() -> None:
    assert unavailability(agent(status=AgentStatus.AWAY, not_responding=True), NOW, RULES) == "status"


# --- misfit -------------------------------------------------------------------------------------------


def test_a_case_of_another_queue_does_not_fit() -> None:
    assert misfit(agent(queues=("email",)), case()) == "queue"


def test_a_case_on_a_channel_the_agent_has_no_limit_for_does_not_fit() -> None:
    phone_case = case(channel=Channel.PHONE)

    assert misfit(agent(), phone_case) == "channel"
    assert misfit(agent(limits=SHARED), phone_case) is None


def test_skills_restrict_categories_and_no_skills_means_every_category() -> None:
    complaint = case(category=CaseCategory.COMPLAINT_RETURN)

    assert misfit(agent(skills=frozenset({"order", "shipping"})), complaint) == "skill"
    assert misfit(agent(skills=frozenset({"complaint_return"})), complaint) is None
    assert misfit(agent(), complaint) is None


def test_languages_restrict_and_none_means_any() -> None:
    norwegian_agent = agent(languages=frozenset({"nb"}))

    assert misfit(norwegian_agent, case(language="en")) == "language"
    assert misfit(norwegian_agent, case(language="nb")) is None
    assert misfit(norwegian_agent, case(language=None)) is None
    assert misfit(agent(), case(language="en")) is None


@pytest.mark.parametrize(
    ("tag", "primary"),
    [("no", "nb"), ("no-NO", "nb"), ("NO", "nb"), ("nb-NO", "nb"), ("nn-NO", "nn"), ("en-GB", "en")],
)
def test_primary_language_takes_the_first_subtag_and_reads_no_as_bokmal(tag: str, primary: str) -> None:
    assert primary_language(tag) == primary


def test_a_customer_writing_no_is_served_by_a_bokmal_agent() -> None:
    norwegian_agent = agent(languages=frozenset({primary_language("nb-NO") or ""}))

    assert misfit(norwegian_agent, case(language=primary_language("no"))) is None
    assert misfit(norwegian_agent, case(language=primary_language("sv-SE"))) == "language"


def test_primary_language_of_nothing_is_nothing() -> None:
    assert primary_language(None) is None
    assert primary_language("") is None


def test_an_agent_who_passed_the_case_over_is_never_offered_it_again() -> None:
    assert misfit(agent("a1"), case(passed_over=frozenset({"a1"}))) == "passed_over"
    assert misfit(agent("a2"), case(passed_over=frozenset({"a1"}))) is None


def test_the_first_failed_misfit_is_named() -> None:
    busy_stranger = holding(agent(queues=("email",), languages=frozenset({"nb"})), *[Channel.CHAT] * 3)

    assert misfit(busy_stranger, case(language="en")) == "queue"


# --- capacity -----------------------------------------------------------------------------------------


def test_a_channel_cap_limits_how_many_items_of_it_are_held() -> None:
    two_chats = {Channel.CHAT: ChannelLimit(cost=10, cap=2)}
    free = agent(limits=two_chats)

    assert misfit(holding(free, Channel.CHAT), case()) is None
    assert misfit(holding(free, Channel.CHAT, Channel.CHAT), case()) == "capacity"


def test_an_offer_holds_capacity_like_accepted_work() -> None:
    one_chat = agent(limits={Channel.CHAT: ChannelLimit(cost=10, cap=1)})

    assert misfit(holding(one_chat, Channel.CHAT, state=WorkState.OFFERED), case()) == "capacity"


def test_three_chats_fill_the_chat_cap() -> None:
    chatting = agent(limits=SHARED, queues=("chat", "phone"))

    assert misfit(holding(chatting, Channel.CHAT, Channel.CHAT), case()) is None
    assert misfit(holding(chatting, Channel.CHAT, Channel.CHAT, Channel.CHAT), case()) == "capacity"


def test_a_phone_call_blocks_chat_through_the_shared_budget() -> None:
    on_the_phone = holding(agent(limits=SHARED, queues=("chat", "phone")), Channel.PHONE)

    assert on_the_phone.used == 100
    assert misfit(on_the_phone, case()) == "capacity"
    assert not on_the_phone.room_for(Channel.EMAIL)


def test_a_chat_blocks_a_phone_call_through_the_shared_budget() -> None:
    free = agent(limits=SHARED, queues=("chat", "phone"))
    call = case(queue="phone", channel=Channel.PHONE)

    assert misfit(free, call) is None
    assert misfit(holding(free, Channel.CHAT), call) == "capacity"
    assert misfit(holding(free, Channel.EMAIL), call) == "capacity"


def test_budget_left_for_a_cheap_channel_but_not_a_dear_one() -> None:
    chatting = holding(agent(limits=SHARED, queues=("chat", "email")), Channel.CHAT, Channel.CHAT)  # 66 used

    assert chatting.room_for(Channel.EMAIL)
    assert misfit(chatting, case(queue="email", channel=Channel.EMAIL)) is None
    assert holding(chatting, Channel.CHAT).used == 99
    assert not holding(chatting, Channel.CHAT).room_for(Channel.EMAIL)


def test_load_is_the_share_of_the_budget_in_use() -> None:
    chatting = holding(agent(limits=SHARED), Channel.CHAT)

    assert chatting.load == pytest.approx(0.33)
    assert agent(budget=0).load == 1.0
    assert chatting.holding(Channel.CHAT) == 1
    assert chatting.holding(Channel.PHONE) == 0


def test_an_unavailable_agent_is_ineligible_before_any_misfit() -> None:
    assert ineligibility(agent(status=AgentStatus.AWAY, queues=("email",)), case(), NOW, RULES) == "status"
    assert ineligibility(agent(queues=("email",)), case(), NOW, RULES) == "queue"
