"""Reopened cases against the real MongoDB-wire server and broker: a case worked and done comes back from
the archive, is offered again (to the agent who worked it while eligible, else to whoever may take it, else
published as waiting); a redelivered or stale reopening changes nothing; two routers reopening it at once
make one offer; and the store's way back out of the archive is a compare-and-set."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from schemas.cases import CaseChanged
from schemas.routing import AgentStatus, AssignmentChange, AssignmentChanged, Rule
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document
from services.common.settings import CommonSettings
from services.routing.adapters.outbound.mongo_store import CASES, DONE, MongoRoutingStore
from services.routing.core.agents import Agent
from services.routing.core.cases import CaseState, QueuedCase
from services.routing.core.flow import Refusal
from services.routing.core.presence import with_status
from services.routing.service import RoutingService
from tests.routing.integration.conftest import routing_service
from tests.routing.integration.routing_flow import case_opened, closed, present_agent, reopened
from tests.support.clock import Clock
from tests.support.kafka import events_on

pytestmark = pytest.mark.integration


async def changes_of(infra: CommonSettings, case_id: str, wanted: int) -> list[AssignmentChanged]:
    """The assignment changes published for one case, in order."""
    found: list[AssignmentChanged] = []
    for event in await events_on(infra, "assignments.v1", wanted=10**9, timeout_s=3):
        if isinstance(event.data, AssignmentChanged) and event.data.case_id == case_id:
            found.append(event.data)
    assert len(found) >= wanted, [change.change for change in found]
    return found


def kinds(changes: Sequence[AssignmentChanged]) -> list[AssignmentChange]:
    return [change.change for change in changes]


async def stored(store: MongoRoutingStore, case_id: str) -> QueuedCase:
    case = await store.case(case_id)
    assert case is not None
    return case


async def where(db: AsyncDatabase[Document], case_id: str) -> tuple[int | None, int | None]:
    """The version of the case in the active set and in the archive (``None``: not there)."""
    active = await db[CASES].find_one({"_id": case_id})
    archived = await db[DONE].find_one({"_id": case_id})
    return (
        None if active is None else int(active["version"]),
        None if archived is None else int(archived["version"]),
    )


def _away(clock: Clock) -> Callable[[Agent | None], Agent]:
    def made(agent: Agent | None) -> Agent:
        assert agent is not None
        return with_status(agent, AgentStatus.AWAY, clock.now)

    return made


async def later(service: RoutingService, store: MongoRoutingStore, clock: Clock, *, hours: float) -> None:
    """The clock moves on; the agents kept their desktops alive meanwhile (fresh heartbeats)."""
    clock.advance(hours=hours)
    for agent in await store.agents():
        await present_agent(service, agent.agent_id, clock.now)


async def worked_by_bo(service: RoutingService, store: MongoRoutingStore, clock: Clock) -> CaseChanged:
    """A case anna declined and bo accepted and completed (so it is archived), then closed by profile."""
    await present_agent(service, "anna", clock.now)
    await present_agent(service, "bo", clock.now)
    opened = case_opened(clock.now - timedelta(minutes=2))
    await service.handle_cases([opened])
    first = await stored(store, opened.case_id)
    assert first.agent_id == "anna"  # equal load: the id decides
    assert not isinstance(await service.decline(first.offer_id or "", "anna"), Refusal)
    second = await stored(store, opened.case_id)
    assert second.agent_id == "bo"
    assert not isinstance(await service.accept(second.offer_id or "", "bo"), Refusal)
    clock.advance(minutes=5)
    assert not isinstance(await service.complete(second.offer_id or ""), Refusal)
    await service.handle_cases([closed(opened, clock.now)])  # profile's close, after the agent's
    return opened


async def test_a_reopened_case_comes_back_from_the_archive_and_goes_to_the_agent_who_worked_it(
    service: RoutingService,
    store: MongoRoutingStore,
    routing_db: AsyncDatabase[Document],
    clock: Clock,
    infra: CommonSettings,
) -> None:
    opened = await worked_by_bo(service, store, clock)
    done = await stored(store, opened.case_id)
    assert done.state is CaseState.DONE
    assert await where(routing_db, opened.case_id) == (None, done.version)  # archived
    await later(service, store, clock, hours=2)
    reopening = reopened(opened, clock.now - timedelta(minutes=1))

    assert await service.handle_cases([reopening]) == 1

    again = await stored(store, opened.case_id)
    assert again.state is CaseState.OFFERED
    assert again.agent_id == "bo"  # sticky, though anna is free and first by id
    assert again.decision is not None
    assert again.decision.rule is Rule.STICKY
    assert again.offer_id == f"{opened.case_id}.3"  # never an offer id of its first life
    assert again.waiting_since == reopening.last_activity_at  # a fresh wait
    assert again.needs_recovery
    assert again.passed_over == frozenset()
    assert await where(routing_db, opened.case_id) == (again.version, None)  # active, out of the archive
    bo = await store.agent("bo")
    assert bo is not None
    assert [item.offer_id for item in bo.work] == [again.offer_id]

    # Redelivered while offered, then while assigned: nothing changes.
    assert await service.handle_cases([reopening]) == 0
    assert await stored(store, opened.case_id) == again
    accepted = await service.accept(again.offer_id or "", "bo")
    assert not isinstance(accepted, Refusal)
    assert await service.handle_cases([reopening]) == 0
    assert await stored(store, opened.case_id) == accepted
    # An old offer of its first life answers nothing now.
    assert isinstance(await service.accept(f"{opened.case_id}.2", "bo"), Refusal)

    changes = await changes_of(infra, opened.case_id, 6)
    assert kinds(changes) == [
        AssignmentChange.OFFERED,
        AssignmentChange.DECLINED,
        AssignmentChange.OFFERED,
        AssignmentChange.ACCEPTED,
        AssignmentChange.COMPLETED,
        AssignmentChange.OFFERED,
        AssignmentChange.ACCEPTED,
    ]
    assert changes[5].agent_id == "bo"
    assert changes[5].waiting_since == reopening.last_activity_at


async def test_a_stale_reopening_leaves_the_case_done_and_archived(
    service: RoutingService,
    store: MongoRoutingStore,
    routing_db: AsyncDatabase[Document],
    clock: Clock,
    infra: CommonSettings,
) -> None:
    opened = await worked_by_bo(service, store, clock)
    done = await stored(store, opened.case_id)
    assert done.done_at is not None
    await later(service, store, clock, hours=1)

    assert await service.handle_cases([reopened(opened, done.done_at)]) == 0
    assert await service.handle_cases([reopened(opened, done.done_at - timedelta(minutes=3))]) == 0

    assert await stored(store, opened.case_id) == done
    assert await where(routing_db, opened.case_id) == (None, done.version)
    for agent_id in ("anna", "bo"):
        agent = await store.agent(agent_id)
        assert agent is not None
        assert agent.work == ()
    assert len(await changes_of(infra, opened.case_id, 5)) == 5  # nothing after the completion


async def test_a_reopened_case_nobody_may_take_is_published_as_waiting_then_offered(
    service: RoutingService, store: MongoRoutingStore, clock: Clock, infra: CommonSettings
) -> None:
    opened = await worked_by_bo(service, store, clock)
    for agent_id in ("anna", "bo"):
        await service.change_agent(agent_id, _away(clock))
    clock.advance(hours=1)

    assert await service.handle_cases([reopened(opened, clock.now)]) == 0

    waiting = await stored(store, opened.case_id)
    assert waiting.state is CaseState.WAITING
    assert waiting.unserved_since == clock.now
    assert waiting.last_agent == "bo"
    changes = await changes_of(infra, opened.case_id, 6)
    assert changes[5].change is AssignmentChange.WAITING
    assert changes[5].reason == "no_agent_present"

    clock.advance(seconds=10)
    await present_agent(service, "anna", clock.now)  # anna comes back first: no hold for standard tier
    offered = await stored(store, opened.case_id)
    assert offered.state is CaseState.OFFERED
    assert offered.agent_id == "anna"  # declined it in its first life, asked again in this one


async def test_a_close_and_a_reopening_arriving_together_after_a_backlog_reopen_the_case(
    service: RoutingService, store: MongoRoutingStore, clock: Clock
) -> None:
    await present_agent(service, "anna", clock.now)
    opened = case_opened(clock.now)
    await service.handle_cases([opened])
    first = await stored(store, opened.case_id)
    assert not isinstance(await service.accept(first.offer_id or "", "anna"), Refusal)
    close = closed(opened, clock.now + timedelta(minutes=5))
    reopening = reopened(opened, clock.now + timedelta(minutes=30))
    await later(service, store, clock, hours=1)  # routing was behind: it hears of both only now

    assert await service.handle_cases([close, reopening]) == 1

    again = await stored(store, opened.case_id)
    assert again.state is CaseState.OFFERED
    assert again.agent_id == "anna"
    assert again.waiting_since == reopening.last_activity_at


async def test_a_reopening_of_a_case_never_seen_is_queued_like_an_opening(
    service: RoutingService, store: MongoRoutingStore, clock: Clock
) -> None:
    await present_agent(service, "anna", clock.now)
    opened = case_opened(clock.now - timedelta(days=1))
    reopening = reopened(opened, clock.now)

    assert await service.handle_cases([reopening]) == 1
    assert await service.handle_cases([reopening]) == 0

    case = await stored(store, opened.case_id)
    assert case.state is CaseState.OFFERED
    assert case.agent_id == "anna"
    assert case.waiting_since == reopening.last_activity_at


async def test_two_routers_reopening_the_same_case_make_one_offer(
    routing_db: AsyncDatabase[Document],
    publisher: AsyncEventPublisher,
    service: RoutingService,
    store: MongoRoutingStore,
    clock: Clock,
) -> None:
    opened = await worked_by_bo(service, store, clock)
    other = routing_service(routing_db, publisher, clock)
    await later(service, store, clock, hours=1)
    reopening = reopened(opened, clock.now)

    offers = await asyncio.gather(service.handle_cases([reopening]), other.handle_cases([reopening]))

    assert sum(offers) == 1
    again = await stored(store, opened.case_id)
    assert again.state is CaseState.OFFERED
    agents = [agent for agent in await store.agents() if agent.work]
    assert [(agent.agent_id, [item.offer_id for item in agent.work]) for agent in agents] == [
        ("bo", [again.offer_id])
    ]
    assert await where(routing_db, opened.case_id) == (again.version, None)


# --- the store's way back out of the archive -------------------------------------------------------------


async def archived_case(service: RoutingService, store: MongoRoutingStore, clock: Clock) -> QueuedCase:
    opened = case_opened(clock.now)
    await service.handle_cases([closed(opened, clock.now)])  # done before it was seen
    done = await stored(store, opened.case_id)
    assert done.state is CaseState.DONE
    await store.archive(done)
    return done


async def test_restore_moves_an_archived_case_back_by_compare_and_set(
    service: RoutingService, store: MongoRoutingStore, routing_db: AsyncDatabase[Document], clock: Clock
) -> None:
    done = await archived_case(service, store, clock)
    assert await where(routing_db, done.case_id) == (None, done.version)
    waiting = replace(done, state=CaseState.WAITING, done_at=None)

    saved = await store.restore(waiting)

    assert saved == replace(waiting, version=done.version + 1)
    assert await where(routing_db, done.case_id) == (saved.version, None)
    assert await store.restore(waiting) is None  # the same read again: an active copy exists
    assert await where(routing_db, done.case_id) == (saved.version, None)


async def test_restore_from_a_stale_read_of_the_archive_takes_its_insert_back(
    service: RoutingService, store: MongoRoutingStore, routing_db: AsyncDatabase[Document], clock: Clock
) -> None:
    done = await archived_case(service, store, clock)
    # Meanwhile another router reopened it, and it was done and archived again, two versions on.
    newer = replace(done, version=done.version + 2)
    await store.archive(newer)

    assert await store.restore(replace(done, state=CaseState.WAITING, done_at=None)) is None

    assert await where(routing_db, done.case_id) == (None, newer.version)
    assert await stored(store, done.case_id) == newer


async def test_restore_of_a_done_case_not_archived_yet_writes_it_in_place(
    store: MongoRoutingStore, routing_db: AsyncDatabase[Document], clock: Clock
) -> None:
    opened = case_opened(clock.now)
    first = await store.save_case(
        QueuedCase(
            case_id=opened.case_id,
            customer_id=opened.customer_id,
            queue="chat",
            channel=opened.channel,
            category=opened.category,
            language="nb",
            tier=opened.customer.tier,
            predicted_value=opened.customer.predicted_lifetime_value,
            needs_recovery=False,
            last_agent=None,
            waiting_since=clock.now,
            state=CaseState.DONE,
            done_at=clock.now,
        )
    )
    assert first is not None
    assert await where(routing_db, opened.case_id) == (first.version, None)

    saved = await store.restore(replace(first, state=CaseState.WAITING, done_at=None))

    assert saved is not None
    assert await where(routing_db, opened.case_id) == (saved.version, None)
    assert saved.version == first.version + 1
    assert await store.restore(replace(first, state=CaseState.WAITING, done_at=None)) is None
