"""Who gets what: the sticky agent, the hold for a busy previous agent, the tie-break rules, the decision
record, the best case for an agent with room, a whole round, and the offer itself."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest

from schemas.customers import Tier
from schemas.interactions import Channel
from schemas.routing import AgentStatus, Rule
from services.routing.core.agents import Agent, ChannelLimit, WorkState
from services.routing.core.backlog import Backlog
from services.routing.core.cases import CaseState, QueuedCase
from services.routing.core.pick import (
    Pick,
    Roster,
    Unserved,
    choose_agent,
    choose_case,
    held_for_previous,
    make_offer,
    offer_id,
    plan_round,
)
from services.routing.core.score import score
from tests.routing.unit.routing_builders import NOW, RULES, agent, case, holding

ONE_CHAT = {Channel.CHAT: ChannelLimit(cost=50, cap=1)}


def roster(*agents: Agent) -> Roster:
    return Roster(agents, NOW, RULES)


def picked(outcome: Pick | Unserved | None) -> Pick:
    assert isinstance(outcome, Pick), outcome
    return outcome


def unserved(outcome: Pick | Unserved) -> Unserved:
    assert isinstance(outcome, Unserved), outcome
    return outcome


# --- sticky and held ------------------------------------------------------------------------------------


def test_the_customers_previous_agent_gets_the_case_when_eligible() -> None:
    busier_previous = holding(agent("a2"), Channel.CHAT)
    free_other = agent("a1")

    pick = picked(choose_agent(case(last_agent="a2"), roster(free_other, busier_previous)))

    assert pick.agent.agent_id == "a2"
    assert pick.decision.rule is Rule.STICKY
    assert pick.decision.eligible == 2


def test_a_case_waits_for_its_busy_previous_agent_within_the_tiers_window() -> None:
    busy_previous = holding(agent("a2", limits=ONE_CHAT), Channel.CHAT)
    gold = case(tier=Tier.GOLD, last_agent="a2", waited=RULES.sticky_wait[Tier.GOLD] - timedelta(seconds=1))

    outcome = unserved(choose_agent(gold, roster(agent("a1"), busy_previous)))

    assert outcome.held_for == "a2"
    assert outcome.present == 2
    assert outcome.ineligible == {"capacity": 1}


def test_the_hold_ends_when_the_tiers_window_has_passed() -> None:
    busy_previous = holding(agent("a2", limits=ONE_CHAT), Channel.CHAT)
    gold = case(tier=Tier.GOLD, last_agent="a2", waited=RULES.sticky_wait[Tier.GOLD])

    pick = picked(choose_agent(gold, roster(agent("a1"), busy_previous)))

    assert pick.agent.agent_id == "a1"
    assert pick.decision.rule is Rule.ONLY_ELIGIBLE
    assert pick.decision.ineligible == {"capacity": 1}


@pytest.mark.parametrize(
    ("tier", "held"),
    [(Tier.STANDARD, False), (Tier.SILVER, True), (Tier.GOLD, True), (Tier.PLATINUM, True)],
)
def test_each_tier_has_its_own_window(tier: Tier, held: bool) -> None:
    busy_previous = holding(agent("a2", limits=ONE_CHAT), Channel.CHAT)
    fresh = case(tier=tier, last_agent="a2", waited=timedelta(seconds=30))

    outcome = choose_agent(fresh, roster(agent("a1"), busy_previous))

    assert isinstance(outcome, Unserved) is held
    assert held_for_previous(fresh, roster(agent("a1"), busy_previous)) == ("a2" if held else None)


def test_no_hold_for_a_previous_agent_who_is_away() -> None:
    away_previous = holding(agent("a2", limits=ONE_CHAT, status=AgentStatus.AWAY), Channel.CHAT)
    gold = case(tier=Tier.GOLD, last_agent="a2")

    pick = picked(choose_agent(gold, roster(agent("a1"), away_previous)))

    assert pick.agent.agent_id == "a1"
    assert pick.decision.ineligible == {"status": 1}


def test_no_hold_for_a_previous_agent_who_could_not_take_it_anyway() -> None:
    passed_over = case(tier=Tier.GOLD, last_agent="a2", passed_over=frozenset({"a2"}))
    busy_previous = holding(agent("a2", limits=ONE_CHAT), Channel.CHAT)

    assert picked(choose_agent(passed_over, roster(agent("a1"), busy_previous))).agent.agent_id == "a1"
    assert held_for_previous(passed_over, roster(agent("a1"), busy_previous)) is None


def test_no_hold_for_a_previous_agent_the_roster_does_not_know() -> None:
    gold = case(tier=Tier.GOLD, last_agent="gone")

    assert held_for_previous(gold, roster(agent("a1"))) is None
    assert picked(choose_agent(gold, roster(agent("a1")))).decision.rule is Rule.ONLY_ELIGIBLE


def test_held_even_when_nobody_else_is_eligible() -> None:
    busy_previous = holding(agent("a2", limits=ONE_CHAT), Channel.CHAT)

    outcome = unserved(choose_agent(case(tier=Tier.PLATINUM, last_agent="a2"), roster(busy_previous)))

    assert outcome.held_for == "a2"


# --- choosing between eligible agents ------------------------------------------------------------------


def test_the_least_loaded_agent_is_chosen() -> None:
    loaded = holding(agent("a1", idle_since=NOW - timedelta(hours=1)), Channel.CHAT)
    light = agent("a2", idle_since=NOW)

    pick = picked(choose_agent(case(), roster(loaded, light)))

    assert pick.agent.agent_id == "a2"
    assert pick.decision.rule is Rule.LEAST_LOADED


def test_load_is_relative_to_each_agents_budget() -> None:
    # 20 of 100 is less loaded than 20 of 60.
    chats = {Channel.CHAT: ChannelLimit(cost=20, cap=3)}
    small_budget = holding(agent("a1", budget=60, limits=chats), Channel.CHAT)
    big_budget = holding(agent("a2", limits=chats), Channel.CHAT)

    pick = picked(choose_agent(case(), roster(small_budget, big_budget)))

    assert pick.agent.agent_id == "a2"
    assert pick.decision.rule is Rule.LEAST_LOADED


def test_on_equal_load_the_longest_idle_agent_is_chosen() -> None:
    recently_idle = agent("a1", idle_since=NOW - timedelta(minutes=1))
    long_idle = agent("a2", idle_since=NOW - timedelta(minutes=20))

    pick = picked(choose_agent(case(), roster(recently_idle, long_idle)))

    assert pick.agent.agent_id == "a2"
    assert pick.decision.rule is Rule.LONGEST_IDLE


def test_never_idle_sorts_after_any_idle_time() -> None:
    never_idle = agent("a0", idle_since=None)
    idle = agent("a9", idle_since=NOW)

    pick = picked(choose_agent(case(), roster(never_idle, idle)))

    assert pick.agent.agent_id == "a9"
    assert pick.decision.rule is Rule.LONGEST_IDLE


def test_a_full_tie_is_broken_by_agent_id() -> None:
    since = NOW - timedelta(minutes=3)

    pick = picked(
        choose_agent(
            case(),
            roster(agent("b", idle_since=since), agent("a", idle_since=since), agent("c", idle_since=since)),
        )
    )

    assert pick.agent.agent_id == "a"
    assert pick.decision.rule is Rule.AGENT_ID


def test_a_lone_eligible_agent_is_named_only_eligible() -> None:
    pick = picked(choose_agent(case(), roster(agent("a1"), agent("a2", status=AgentStatus.OFFLINE))))

    assert pick.agent.agent_id == "a1"
    assert pick.decision.rule is Rule.ONLY_ELIGIBLE


# --- the decision record ---------------------------------------------------------------------------------


def test_the_decision_counts_who_was_looked_at_and_why_others_were_left_out() -> None:
    agents = (
        agent("a1"),
        agent("a2"),
        agent("away", status=AgentStatus.AWAY),
        agent("stale", heartbeat_at=NOW - timedelta(minutes=5)),
        agent("full", limits=ONE_CHAT, work=holding(agent(limits=ONE_CHAT), Channel.CHAT).work),
        agent("english", languages=frozenset({"en"})),
        agent("other-queue", queues=("email",)),
    )
    norwegian = case(language="nb", tier=Tier.SILVER, predicted_value="3000", waited=timedelta(minutes=1))

    decision = picked(choose_agent(norwegian, Roster(agents, NOW, RULES))).decision

    assert decision.considered == 6  # the email agent does not serve the chat queue
    assert decision.eligible == 2
    assert decision.ineligible == {"capacity": 1, "heartbeat": 1, "language": 1, "status": 1}
    assert decision.eligible + sum(decision.ineligible.values()) == decision.considered
    assert decision.score == score(norwegian, RULES.queue("chat"), RULES.weights, NOW)
    assert decision.weights == RULES.weights.published()
    assert decision.weights["tier.silver"] == 10.0
    assert decision.decided_at == NOW


def test_unserved_counts_the_reasons_and_who_is_present() -> None:
    agents = (
        agent("away", status=AgentStatus.AWAY),
        agent("silent", not_responding=True),
        holding(agent("full", limits=ONE_CHAT), Channel.CHAT),
        agent("declined"),
    )
    declined = case(passed_over=frozenset({"declined"}))

    outcome = unserved(choose_agent(declined, roster(*agents)))

    assert outcome.ineligible == {"capacity": 1, "not_responding": 1, "passed_over": 1, "status": 1}
    # Present means there, open for new work or not: all but the one who is away.
    assert outcome.present == 3
    assert outcome.held_for is None


def test_unserved_when_nobody_serves_the_queue() -> None:
    outcome = unserved(choose_agent(case(queue="email", channel=Channel.EMAIL), roster(agent("a1"))))

    assert outcome == Unserved({}, 0)


# --- choosing a case for an agent -----------------------------------------------------------------------


def test_an_agent_with_room_gets_the_best_ranked_case_it_fits() -> None:
    english = case("english", tier=Tier.PLATINUM, language="en")
    gold = case("gold", tier=Tier.GOLD, language="nb")
    standard = case("standard", language="nb")
    norwegian = agent("a1", languages=frozenset({"nb"}))
    backlog = Backlog([standard, english, gold], RULES)

    pick = picked(choose_case(norwegian, backlog, roster(norwegian)))

    assert pick.case == gold
    assert pick.agent == norwegian
    assert pick.decision.rule is Rule.NEXT_FREE
    assert pick.decision.score == score(gold, RULES.queue("chat"), RULES.weights, NOW)


def test_choose_case_looks_only_in_the_agents_queues_and_channels() -> None:
    call = case("call", queue="phone", channel=Channel.PHONE, tier=Tier.PLATINUM)
    mail = case("mail", queue="email", channel=Channel.EMAIL, tier=Tier.PLATINUM)
    chat = case("chat")
    chatter = agent("a1", queues=("chat", "email"))  # no email limit: cannot take email
    backlog = Backlog([call, mail, chat], RULES)

    assert picked(choose_case(chatter, backlog, roster(chatter))).case == chat


def test_choose_case_skips_a_case_held_for_another_agent() -> None:
    busy_previous = holding(agent("a2", limits=ONE_CHAT), Channel.CHAT)
    held = case("held", tier=Tier.PLATINUM, last_agent="a2")
    other = case("other")
    free = agent("a1")
    backlog = Backlog([held, other], RULES)

    assert picked(choose_case(free, backlog, roster(free, busy_previous))).case == other


def test_choose_case_gives_a_held_case_to_the_agent_it_waits_for() -> None:
    previous = agent("a2", limits={Channel.CHAT: ChannelLimit(cost=50, cap=2)})
    held = case("held", tier=Tier.PLATINUM, last_agent="a2")
    backlog = Backlog([held, case("other", tier=Tier.GOLD)], RULES)

    pick = picked(choose_case(previous, backlog, roster(previous, agent("a1"))))

    assert pick.case == held
    assert pick.decision.rule is Rule.STICKY
    assert pick.decision.eligible == 2
    assert pick.decision.considered == 2


def test_choose_case_for_a_closed_or_full_agent_is_nothing() -> None:
    backlog = Backlog([case()], RULES)
    away = agent("a1", status=AgentStatus.AWAY)
    full = holding(agent("a2", limits=ONE_CHAT), Channel.CHAT)

    assert choose_case(away, backlog, roster(away)) is None
    assert choose_case(full, backlog, roster(full)) is None
    assert choose_case(agent("a3"), Backlog([], RULES), roster(agent("a3"))) is None


def test_choose_case_for_an_agent_the_roster_does_not_know_is_nothing() -> None:
    assert choose_case(agent("stranger"), Backlog([case()], RULES), roster(agent("a1"))) is None
    assert roster(agent("a1")).closed_because("stranger") == "unknown"


# --- a round ----------------------------------------------------------------------------------------------


def test_a_round_serves_the_best_ranked_cases_first_until_nobody_has_room() -> None:
    one_each = (agent("a1", limits=ONE_CHAT), agent("a2", limits=ONE_CHAT))
    cases = [
        case("standard", waited=timedelta(minutes=1)),
        case("platinum", tier=Tier.PLATINUM),
        case("gold", tier=Tier.GOLD),
    ]
    the_roster, backlog = roster(*one_each), Backlog(cases, RULES)

    picks = plan_round(the_roster, backlog)

    assert [p.case.case_id for p in picks] == ["platinum", "gold"]
    assert [p.agent.agent_id for p in picks] == ["a1", "a2"]
    assert [c.case_id for c in backlog] == ["standard"]
    assert all(the_roster.by_id[a].used == 50 for a in ("a1", "a2"))
    assert unserved(choose_agent(cases[0], the_roster)).ineligible == {"capacity": 2}


def test_a_round_spreads_work_by_load() -> None:
    the_roster = roster(agent("a1"), agent("a2"))
    backlog = Backlog([case(f"c{i}", waited=timedelta(seconds=i)) for i in range(4)], RULES)

    picks = plan_round(the_roster, backlog)

    assert [p.agent.agent_id for p in picks] == ["a1", "a2", "a1", "a2"]
    assert [p.decision.rule for p in picks] == [Rule.AGENT_ID, Rule.LEAST_LOADED] * 2


def test_a_round_skips_a_held_case_and_serves_the_next() -> None:
    busy_previous = holding(agent("a2", limits=ONE_CHAT), Channel.CHAT)
    held = case("held", tier=Tier.PLATINUM, last_agent="a2")
    the_roster, backlog = roster(agent("a1"), busy_previous), Backlog([held, case("next")], RULES)

    picks = plan_round(the_roster, backlog)

    assert [p.case.case_id for p in picks] == ["next"]
    assert backlog.get("held") == held


def test_a_round_with_nobody_open_offers_nothing() -> None:
    backlog = Backlog([case()], RULES)

    assert plan_round(roster(agent(status=AgentStatus.OFFLINE)), backlog) == []
    assert len(backlog) == 1


# --- the offer ---------------------------------------------------------------------------------------------


def test_an_offer_holds_the_agents_capacity_until_it_is_settled() -> None:
    waiting = case("c1", queue="chat", unserved_since=NOW - timedelta(minutes=1))
    pick = picked(choose_agent(waiting, roster(agent("a1"))))

    offered, held = make_offer(pick, RULES)

    (item,) = held.work
    assert item.offer_id == offer_id(waiting)
    assert item.case_id == "c1"
    assert item.channel is Channel.CHAT
    assert item.cost == 33
    assert item.state is WorkState.OFFERED
    assert item.since == NOW
    assert item.expires_at == NOW + RULES.queue("chat").offer_timeout
    assert held.used == 33
    assert offered.state is CaseState.OFFERED
    assert offered.offer_id == item.offer_id
    assert offered.agent_id == "a1"
    assert offered.offers_made == 1
    assert offered.offer_expires_at == NOW + timedelta(seconds=30)
    assert offered.decision == pick.decision
    assert offered.unserved_since is None
    assert offered.waiting_since == waiting.waiting_since


def test_the_offer_timeout_is_the_queues() -> None:
    phone_agent = agent("a1", queues=("phone",), limits={Channel.PHONE: ChannelLimit(100, 1)})
    call = case(queue="phone", channel=Channel.PHONE)

    _, held = make_offer(picked(choose_agent(call, roster(phone_agent))), RULES)

    assert held.work[0].expires_at == NOW + RULES.queue("phone").offer_timeout
    assert held.work[0].cost == 100


def test_offer_ids_are_deterministic_and_count_the_offers_made() -> None:
    first = case("c1")
    again = replace(first, offers_made=2)

    assert offer_id(first) == offer_id(case("c1"))
    assert offer_id(first).startswith("c1")
    assert len({offer_id(replace(first, offers_made=n)) for n in range(5)}) == 5
    assert offer_id(again) == offer_id(replace(case("c1"), offers_made=2)) != offer_id(first)
    pick = picked(choose_agent(first, roster(agent("a1"))))
    assert make_offer(pick, RULES) == make_offer(pick, RULES)


def test_an_offer_keeps_the_agents_other_work() -> None:
    chatting = holding(agent("a1"), Channel.CHAT)
    pick = picked(choose_agent(case("c9"), roster(chatting)))

    _, held = make_offer(pick, RULES)

    assert held.work[:1] == chatting.work
    assert [item.case_id for item in held.work] == ["w1", "c9"]
    assert held.used == 66


def _offered_again(declined: QueuedCase) -> str:
    pick = picked(choose_agent(declined, roster(agent("a1"), agent("a2"))))
    return make_offer(pick, RULES)[0].offer_id or ""


def test_a_case_offered_again_after_a_decline_gets_a_new_offer_id() -> None:
    first, _ = make_offer(picked(choose_agent(case("c1"), roster(agent("a1")))), RULES)
    requeued = replace(first, state=CaseState.WAITING, passed_over=frozenset({"a1"}))

    assert first.offer_id == offer_id(case("c1"))
    assert _offered_again(requeued) == offer_id(replace(case("c1"), offers_made=1)) != first.offer_id


def test_a_round_stops_once_no_open_agent_has_budget_left() -> None:
    phone_agent = agent("a1", queues=("phone",), limits={Channel.PHONE: ChannelLimit(100, 1)})
    calls = [
        case(f"call{i}", queue="phone", channel=Channel.PHONE, waited=timedelta(seconds=i)) for i in range(3)
    ]
    the_roster, backlog = roster(phone_agent), Backlog(calls, RULES)

    picks = plan_round(the_roster, backlog)

    assert [p.case.case_id for p in picks] == ["call2"]
    assert the_roster.with_room("phone", Channel.PHONE) == set()
    assert len(backlog) == 2


def test_the_roster_keeps_one_entry_per_agent_and_rechecks_it_when_put_again() -> None:
    the_roster = roster(agent("a1", queues=("chat", "email")))

    the_roster.put(agent("a1", queues=("chat", "email"), status=AgentStatus.AWAY))

    assert the_roster.open_in("chat") == []
    assert the_roster.closed_in("chat") == Counter({"status": 1})
    assert the_roster.closed_because("a1") == "status"
    assert the_roster.open_in("phone") == []


def test_a_full_budget_does_not_end_a_round_while_a_free_channel_has_room() -> None:
    # Email costs nothing against the budget (only its cap counts): an agent on a call can still get one.
    limits = {Channel.PHONE: ChannelLimit(cost=100, cap=1), Channel.EMAIL: ChannelLimit(cost=0, cap=2)}
    on_the_phone = holding(agent("a1", queues=("phone", "email"), limits=limits), Channel.PHONE)
    mails = [
        case(f"mail{i}", queue="email", channel=Channel.EMAIL, waited=timedelta(minutes=i)) for i in range(3)
    ]
    the_roster = roster(on_the_phone)

    assert the_roster.with_room("email", Channel.EMAIL) == {"a1"}
    picks = plan_round(the_roster, Backlog(mails, RULES))

    assert [p.case.case_id for p in picks] == ["mail2", "mail1"]
    assert the_roster.by_id["a1"].used == 100
    assert the_roster.with_room("email", Channel.EMAIL) == set()
