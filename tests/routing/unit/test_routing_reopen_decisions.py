"""A case that was done comes back when profile reopens it (a negative survey answer): a fresh wait from the
reopening, for the agent who worked it, nobody passed over; late and redelivered reopenings change nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from schemas.cases import CaseCategory, CaseChange, CaseChanged, CaseStatus
from schemas.customers import CustomerView, LifecycleStage, Tier
from schemas.interactions import Channel
from schemas.routing import Rule
from services.routing.core.cases import CaseState, QueuedCase
from services.routing.core.flow import arrived, closed_by, closed_unseen, completed, reopened
from services.routing.core.pick import Pick, Roster, choose_agent, make_offer
from services.routing.core.score import score
from tests.routing.unit.routing_builders import NOW, RULES, agent, case

CLOSED_AT = NOW - timedelta(hours=2)
OPENED_AT = NOW - timedelta(hours=5)


def change(
    kind: CaseChange,
    at: datetime,
    *,
    case_id: str = "c1",
    needs_recovery: bool = True,
    last_agent: str | None = "a2",
    tier: Tier = Tier.SILVER,
) -> CaseChanged:
    """A ``cases.v1`` message about case ``c1`` of chat, as profile sends it."""
    customer = f"cust-{case_id}"
    closing = kind is CaseChange.CLOSED
    return CaseChanged(
        change=kind,
        case_id=case_id,
        customer_id=customer,
        status=CaseStatus.CLOSED if closing else CaseStatus.OPEN,
        category=CaseCategory.ORDER,
        channel=Channel.CHAT,
        language="nb",
        opened_at=OPENED_AT,
        last_activity_at=at,
        closed_at=at if closing else None,
        interactions=2,
        customer=CustomerView(
            customer_id=customer,
            tier=tier,
            historic_value=Decimal(0),
            predicted_lifetime_value=Decimal(5000),
            lifecycle=LifecycleStage.ACTIVE,
            needs_recovery=needs_recovery,
            last_agent=last_agent,
            as_of=at,
        ),
    )


def reopening(
    at: datetime = NOW,
    *,
    needs_recovery: bool = True,
    last_agent: str | None = "a2",
    tier: Tier = Tier.SILVER,
) -> CaseChanged:
    """Profile reopening ``c1`` (status open, no contact) at ``at``."""
    return change(CaseChange.REOPENED, at, needs_recovery=needs_recovery, last_agent=last_agent, tier=tier)


def worked_and_done(agent_id: str = "a2") -> QueuedCase:
    """Case ``c1``: declined by a1, then accepted and completed by ``agent_id``, two hours ago."""
    return case(
        "c1",
        last_agent="a1",
        state=CaseState.DONE,
        offer_id="c1.2",
        agent_id=agent_id,
        passed_over=frozenset({"a1"}),
        unserved_since=OPENED_AT,
        offers_made=2,
        offer_expires_at=OPENED_AT + timedelta(seconds=30),
        assigned_at=OPENED_AT + timedelta(minutes=1),
        done_at=CLOSED_AT,
        version=7,
        waited=NOW - OPENED_AT,
    )


def waiting_again(outcome: QueuedCase | None) -> QueuedCase:
    assert outcome is not None
    assert outcome.state is CaseState.WAITING
    return outcome


# --- a done case waits again ----------------------------------------------------------------------------


def test_a_completed_case_waits_again_from_the_reopening_with_its_counters_reset() -> None:
    done = worked_and_done()

    again = waiting_again(arrived(reopening(NOW), done, RULES))

    assert again.waiting_since == NOW  # a fresh wait: not the age of its first life
    assert again.queue == done.queue
    assert (again.offer_id, again.agent_id, again.offer_expires_at) == (None, None, None)
    assert again.passed_over == frozenset()  # whoever declined it before may take it now
    assert again.unserved_since is None  # the queue's policy starts over with the new wait
    assert (again.assigned_at, again.done_at) == (None, None)
    assert again.version == done.version  # written by compare-and-set on the version read


def test_a_reopened_case_keeps_counting_its_offers_so_no_offer_id_comes_twice() -> None:
    done = worked_and_done()
    again = waiting_again(reopened(reopening(), done))

    offered, _ = make_offer(pick_for(again, "a2"), RULES)

    assert again.offers_made == done.offers_made
    assert offered.offer_id == "c1.3"
    assert offered.offer_id != done.offer_id


def test_the_agent_who_worked_the_case_is_its_sticky_candidate() -> None:
    done = worked_and_done("a2")

    again = waiting_again(reopened(reopening(last_agent="someone-later"), done))
    pick = choose_agent(again, Roster([agent("a1"), agent("a2")], NOW, RULES))

    assert again.last_agent == "a2"
    assert isinstance(pick, Pick)
    assert pick.agent.agent_id == "a2"
    assert pick.decision.rule is Rule.STICKY


def test_without_an_agent_who_worked_it_the_customers_last_agent_is_the_candidate() -> None:
    # Closed while only offered (withdrawn): the agent offered it never worked it.
    offered_only = replace(worked_and_done("a3"), assigned_at=None)

    again = waiting_again(reopened(reopening(last_agent="a2"), offered_only))

    assert again.last_agent == "a2"


def test_the_agent_passed_over_before_may_take_it_once_the_sticky_agent_is_away() -> None:
    again = waiting_again(reopened(reopening(), worked_and_done("a2")))

    pick = choose_agent(again, Roster([agent("a1")], NOW, RULES))

    assert isinstance(pick, Pick)
    assert pick.agent.agent_id == "a1"  # declined it in its first life: asked again in this one


def test_the_recovery_boost_and_the_tier_come_with_the_customers_snapshot() -> None:
    done = replace(worked_and_done(), needs_recovery=False, tier=Tier.STANDARD)

    again = waiting_again(reopened(reopening(needs_recovery=True, tier=Tier.GOLD), done))
    parts = score(again, RULES.queue(again.queue), RULES.weights, NOW)

    assert again.needs_recovery
    assert again.tier is Tier.GOLD
    assert parts.recovery == RULES.weights.recovery
    assert parts.aging == 0.0  # the wait starts at the reopening


# --- what changes nothing ------------------------------------------------------------------------------


@pytest.mark.parametrize("at", [CLOSED_AT, CLOSED_AT - timedelta(seconds=1), OPENED_AT])
def test_a_reopening_no_newer_than_the_close_is_late(at: datetime) -> None:
    assert reopened(reopening(at), worked_and_done()) is None
    assert arrived(reopening(at), worked_and_done(), RULES) is None


@pytest.mark.parametrize("state", [CaseState.WAITING, CaseState.OFFERED, CaseState.ASSIGNED])
def test_a_redelivered_reopening_changes_nothing_once_the_case_is_active(state: CaseState) -> None:
    again = waiting_again(reopened(reopening(NOW), worked_and_done()))
    later = replace(again, state=state, offer_id="c1.3", agent_id="a2", offers_made=3, version=9)

    assert arrived(reopening(NOW), again, RULES) is None
    assert arrived(reopening(NOW), later, RULES) is None
    assert arrived(reopening(NOW - timedelta(minutes=1)), later, RULES) is None


def test_a_reopening_redelivered_after_the_case_was_done_again_is_late() -> None:
    again = waiting_again(reopened(reopening(NOW), worked_and_done()))
    offered, _ = make_offer(pick_for(again, "a2"), RULES)
    assigned = replace(offered, state=CaseState.ASSIGNED, assigned_at=NOW)
    done_again = completed(assigned, "c1.3", NOW + timedelta(minutes=10))
    assert isinstance(done_again, QueuedCase)

    assert arrived(reopening(NOW), done_again, RULES) is None
    # The customer is unhappy a second time: a newer reopening brings it back once more.
    second = waiting_again(arrived(reopening(NOW + timedelta(days=1)), done_again, RULES))
    assert second.waiting_since == NOW + timedelta(days=1)
    assert second.offers_made == 3


@pytest.mark.parametrize("kind", [CaseChange.OPENED, CaseChange.JOINED, CaseChange.MOVED])
def test_other_late_messages_about_a_done_case_still_change_nothing(kind: CaseChange) -> None:
    assert arrived(change(kind, NOW), worked_and_done(), RULES) is None


def test_a_case_routing_holds_as_active_only_takes_the_snapshot_of_a_newer_reopening() -> None:
    # Its close never reached routing (it moved between customers): the reopening finds it still assigned.
    assigned = case("c1", state=CaseState.ASSIGNED, offer_id="c1.1", agent_id="a2", waited=timedelta(hours=1))

    refreshed = arrived(reopening(NOW, tier=Tier.GOLD), assigned, RULES)

    assert refreshed == replace(
        assigned,
        customer_id="cust-c1",
        tier=Tier.GOLD,
        predicted_value=Decimal(5000),
        needs_recovery=True,
        last_agent="a2",
        language="nb",
    )


# --- cases routing did not see, and when a close counts --------------------------------------------------


def test_a_reopening_of_a_case_never_seen_queues_it_like_an_opening() -> None:
    opened = waiting_again(arrived(change(CaseChange.OPENED, NOW), None, RULES))
    reopened_unseen = waiting_again(arrived(reopening(NOW), None, RULES))

    assert reopened_unseen == replace(opened, waiting_since=NOW)  # its wait starts at the reopening
    assert reopened_unseen.last_agent == "a2"
    assert arrived(reopening(NOW), reopened_unseen, RULES) is None  # and a redelivery changes nothing


def test_a_case_closed_before_it_was_seen_comes_back_with_a_newer_reopening() -> None:
    done = closed_unseen(change(CaseChange.CLOSED, CLOSED_AT), RULES)
    assert done.done_at == CLOSED_AT

    assert arrived(reopening(CLOSED_AT), done, RULES) is None
    again = waiting_again(arrived(reopening(NOW), done, RULES))
    assert again.last_agent == "a2"  # nobody worked it here: the customer's last agent


def test_a_close_counts_from_when_profile_closed_it_not_when_routing_heard_of_it() -> None:
    # Routing was behind: the close and the reopening arrive together, long after both happened.
    assigned = replace(worked_and_done(), state=CaseState.ASSIGNED, done_at=None)
    close = change(CaseChange.CLOSED, CLOSED_AT)

    done = closed_by(close, assigned)

    assert done.state is CaseState.DONE
    assert done.done_at == CLOSED_AT
    again = waiting_again(arrived(reopening(CLOSED_AT + timedelta(minutes=30)), done, RULES))
    assert again.last_agent == "a2"


def pick_for(waiting: QueuedCase, agent_id: str) -> Pick:
    outcome = choose_agent(waiting, Roster([agent(agent_id)], NOW, RULES))
    assert isinstance(outcome, Pick)
    return outcome


def test_a_waiting_case_takes_its_customers_new_snapshot_and_keeps_its_place() -> None:
    """Profile tells an open case its customer moved (a broken promise, a bigger order): ranked anew."""
    waiting = case("c1", tier=Tier.STANDARD, needs_recovery=False)
    told = change(CaseChange.CUSTOMER_CHANGED, NOW, tier=Tier.GOLD, needs_recovery=True)
    updated = arrived(told, waiting, RULES)
    assert updated is not None
    assert (updated.tier, updated.needs_recovery) == (Tier.GOLD, True)
    assert (updated.state, updated.waiting_since) == (waiting.state, waiting.waiting_since)
    before = score(waiting, RULES.queue(waiting.queue), RULES.weights, NOW)
    after = score(updated, RULES.queue(updated.queue), RULES.weights, NOW)
    assert (after.recovery, after.tier) == (RULES.weights.recovery, RULES.weights.tier[Tier.GOLD])
    assert after.total > before.total
