"""Routing against the real MongoDB-wire server and broker: offers, answers, timeouts, leave, nobody
eligible, and what goes out on assignments.v1."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

import pytest
from aiokafka.errors import KafkaConnectionError
from pymongo.asynchronous.database import AsyncDatabase

from schemas.envelope import Event
from schemas.interactions import Channel
from schemas.routing import AgentStatus, AssignmentChange, AssignmentChanged, Rule
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document
from services.common.settings import CommonSettings
from services.routing.adapters.outbound.kafka_events import KafkaAssignmentFeed, KafkaStatsFeed
from services.routing.adapters.outbound.mongo_store import MongoRoutingStore
from services.routing.core.agents import Agent, Capacity, ChannelLimit, WorkItem, WorkState
from services.routing.core.cases import CaseState
from services.routing.core.flow import Refusal
from services.routing.core.presence import with_heartbeat, with_leave, with_status
from services.routing.core.schedule import Leave
from services.routing.service import RoutingService
from tests.routing.integration.routing_flow import case_opened, closed, present_agent
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


async def test_a_case_is_offered_accepted_and_completed(
    service: RoutingService, store: MongoRoutingStore, clock: Clock, infra: CommonSettings
) -> None:
    await present_agent(service, "anna", clock.now)
    await present_agent(service, "bo", clock.now)
    opened = case_opened(clock.now)

    assert await service.handle_cases([opened]) == 1
    offered = await store.case(opened.case_id)
    assert offered is not None
    assert offered.state is CaseState.OFFERED
    assert offered.agent_id == "anna"  # equal load, never idle: the id decides, and the record says so
    assert offered.decision is not None
    assert offered.decision.rule is Rule.AGENT_ID
    assert offered.decision.eligible == 2

    accepted = await service.accept(offered.offer_id or "", "anna")
    assert not isinstance(accepted, Refusal)
    assert accepted.state is CaseState.ASSIGNED
    anna = await store.agent("anna")
    assert anna is not None
    assert [item.state for item in anna.work] == [WorkState.ACCEPTED]

    done = await service.complete(offered.offer_id or "")
    assert not isinstance(done, Refusal)
    assert done.state is CaseState.DONE
    anna = await store.agent("anna")
    assert anna is not None
    assert anna.work == ()
    assert anna.idle_since == clock.now
    assert opened.case_id not in {case.case_id for case in await store.active_cases()}  # archived
    again = await service.complete(offered.offer_id or "")
    assert not isinstance(again, Refusal)
    assert again.state is CaseState.DONE

    changes = await changes_of(infra, opened.case_id, 3)
    assert kinds(changes) == [AssignmentChange.OFFERED, AssignmentChange.ACCEPTED, AssignmentChange.COMPLETED]
    assert changes[0].decision is not None
    assert changes[0].agent_id == "anna"


async def test_an_ignored_offer_expires_and_goes_to_the_next_agent(
    service: RoutingService, store: MongoRoutingStore, clock: Clock, infra: CommonSettings
) -> None:
    await present_agent(service, "anna", clock.now)
    await present_agent(service, "bo", clock.now)
    opened = case_opened(clock.now - timedelta(minutes=1))
    await service.handle_cases([opened])
    first = await store.case(opened.case_id)
    assert first is not None
    assert first.agent_id == "anna"

    clock.advance(seconds=31)  # chat offers expire after 30 s
    outcome = await service.tick()

    assert outcome.expired == 1
    second = await store.case(opened.case_id)
    assert second is not None
    assert second.state is CaseState.OFFERED
    assert second.agent_id == "bo"
    assert second.waiting_since == opened.opened_at  # the case kept its age
    anna = await store.agent("anna")
    assert anna is not None
    assert anna.not_responding
    assert anna.work == ()
    late = await service.accept(first.offer_id or "", "anna")
    assert isinstance(late, Refusal)
    changes = await changes_of(infra, opened.case_id, 3)
    assert kinds(changes)[:3] == [
        AssignmentChange.OFFERED,
        AssignmentChange.EXPIRED,
        AssignmentChange.OFFERED,
    ]
    assert changes[1].reason == "offer_timeout"
    assert changes[1].agent_id == "anna"


async def test_a_declined_case_keeps_its_age_and_is_not_offered_to_the_same_agent_again(
    service: RoutingService, store: MongoRoutingStore, clock: Clock
) -> None:
    await present_agent(service, "anna", clock.now)
    opened = case_opened(clock.now - timedelta(minutes=3))
    await service.handle_cases([opened])
    offered = await store.case(opened.case_id)
    assert offered is not None
    assert offered.agent_id == "anna"

    declined = await service.decline(offered.offer_id or "", "anna")

    assert not isinstance(declined, Refusal)
    waiting = await store.case(opened.case_id)
    assert waiting is not None
    assert waiting.state is CaseState.WAITING
    assert waiting.waiting_since == opened.opened_at
    assert "anna" in waiting.passed_over
    await present_agent(service, "bo", clock.now)  # bo comes: the case goes to him at once
    now_offered = await store.case(opened.case_id)
    assert now_offered is not None
    assert now_offered.agent_id == "bo"


async def test_an_agent_on_leave_gets_no_new_work_and_loses_work_not_yet_started(
    service: RoutingService, store: MongoRoutingStore, clock: Clock, infra: CommonSettings
) -> None:
    email_only = Capacity(100, {Channel.EMAIL: ChannelLimit(20, 5)})
    for agent_id in ("anna", "bo"):
        await present_agent(service, agent_id, clock.now, email_only)
        await service.change_agent(agent_id, _serving_email)
    first = case_opened(clock.now, channel=Channel.EMAIL)
    await service.handle_cases([first])
    pending = await store.case(first.case_id)
    assert pending is not None
    assert pending.agent_id == "anna"

    leave = Leave(clock.now, clock.now + timedelta(days=7))
    await service.change_agent("anna", lambda agent: with_leave(_known(agent), leave, clock.now))
    second = case_opened(clock.now, channel=Channel.EMAIL)
    await service.handle_cases([second])
    routed = await store.case(second.case_id)
    assert routed is not None
    assert routed.agent_id == "bo"

    await service.tick()  # anna is noticed absent now
    clock.advance(seconds=121)  # past the 2-minute grace, before the 5-minute offer timeout
    await service.change_agent("bo", lambda agent: with_heartbeat(_known(agent), clock.now))
    outcome = await service.tick()

    assert outcome.requeued == 1
    moved = await store.case(first.case_id)
    assert moved is not None
    assert moved.agent_id == "bo"
    assert moved.waiting_since == first.opened_at
    anna = await store.agent("anna")
    assert anna is not None
    assert anna.work == ()
    assert not anna.not_responding
    changes = await changes_of(infra, first.case_id, 3)
    assert AssignmentChange.WITHDRAWN in kinds(changes)
    assert next(c for c in changes if c.change is AssignmentChange.WITHDRAWN).reason == "agent_absent"


async def test_nobody_eligible_is_published_and_the_phone_queue_offers_a_callback(
    service: RoutingService, store: MongoRoutingStore, clock: Clock, infra: CommonSettings
) -> None:
    call = case_opened(clock.now, channel=Channel.PHONE)
    await service.handle_cases([call])
    waiting = await store.case(call.case_id)
    assert waiting is not None
    assert waiting.state is CaseState.WAITING
    assert waiting.unserved_since == clock.now

    clock.advance(seconds=121)  # the phone queue's policy applies after 2 minutes
    await service.tick()

    moved = await store.case(call.case_id)
    assert moved is not None
    assert moved.queue == "callback"
    assert moved.waiting_since == call.opened_at
    changes = await changes_of(infra, call.case_id, 2)
    assert kinds(changes)[:2] == [AssignmentChange.WAITING, AssignmentChange.CALLBACK_OFFERED]
    assert changes[0].reason == "no_agent_present"


async def test_a_closed_case_gives_its_agent_capacity_back(
    service: RoutingService, store: MongoRoutingStore, clock: Clock
) -> None:
    await present_agent(service, "anna", clock.now)
    opened = case_opened(clock.now)
    await service.handle_cases([opened])
    await service.handle_cases([closed(opened, clock.now)])
    await service.handle_cases([closed(opened, clock.now)])  # redelivered: nothing more happens

    case = await store.case(opened.case_id)
    assert case is not None
    assert case.state is CaseState.DONE
    anna = await store.agent("anna")
    assert anna is not None
    assert anna.work == ()


def _known(agent: Agent | None) -> Agent:
    assert agent is not None
    return agent


def _serving_email(agent: Agent | None) -> Agent:
    return replace(_known(agent), queues=frozenset({"email"}))


async def test_a_close_seen_before_its_case_keeps_a_late_open_from_queueing_it(
    service: RoutingService, store: MongoRoutingStore, clock: Clock
) -> None:
    await present_agent(service, "anna", clock.now)
    opened = case_opened(clock.now)

    await service.handle_cases([closed(opened, clock.now)])
    await service.handle_cases([opened])  # late: it was closed already

    case = await store.case(opened.case_id)
    assert case is not None
    assert case.state is CaseState.DONE
    anna = await store.agent("anna")
    assert anna is not None
    assert anna.work == ()


class FailingOnce:
    """The real feed, after one refused publish (the broker unreachable at the worst moment)."""

    def __init__(self, feed: KafkaAssignmentFeed) -> None:
        self._feed = feed
        self.refused = 0

    async def publish(self, events: Sequence[Event[AssignmentChanged]]) -> None:
        if not self.refused:
            self.refused += 1
            raise KafkaConnectionError("broker unreachable")
        await self._feed.publish(events)


async def test_an_event_the_broker_refused_stays_with_its_case_and_goes_out_on_the_next_tick(
    routing_db: AsyncDatabase[Document],
    publisher: AsyncEventPublisher,
    store: MongoRoutingStore,
    clock: Clock,
    infra: CommonSettings,
) -> None:
    feed = FailingOnce(KafkaAssignmentFeed(publisher))
    service = RoutingService(store, feed, KafkaStatsFeed(publisher), clock)
    await present_agent(service, "anna", clock.now)
    opened = case_opened(clock.now)

    await service.handle_cases([opened])  # offered, but the "offered" event was refused

    assert feed.refused == 1
    assert [case_id for case_id, _ in await store.unpublished()] == [opened.case_id]
    outcome = await service.tick()
    assert outcome.republished == 1
    assert await store.unpublished() == []
    changes = await changes_of(infra, opened.case_id, 1)
    assert kinds(changes) == [AssignmentChange.OFFERED]


async def test_a_hold_left_by_a_router_that_crashed_between_its_two_writes_is_given_back(
    service: RoutingService, store: MongoRoutingStore, clock: Clock
) -> None:
    anna = await present_agent(service, "anna", clock.now)
    opened = case_opened(clock.now)
    await service.handle_cases([closed(opened, clock.now)])  # the case is over: it names no agent
    orphan = WorkItem(
        f"{opened.case_id}.1", opened.case_id, Channel.CHAT, 33, WorkState.OFFERED, clock.now, clock.now
    )
    assert await store.save_agent(replace(anna, work=(orphan,))) is not None

    clock.advance(seconds=31)
    await service.change_agent("anna", lambda agent: with_heartbeat(_known(agent), clock.now))
    await service.tick()  # the first tick sweeps

    held = await store.agent("anna")
    assert held is not None
    assert held.work == ()


def router_with_a_copy_kept_an_hour(
    routing_db: AsyncDatabase[Document], publisher: AsyncEventPublisher, clock: Clock
) -> RoutingService:
    """A router whose planning copy of the agents never refreshes by itself during the test."""
    return RoutingService(
        MongoRoutingStore(routing_db),
        KafkaAssignmentFeed(publisher),
        KafkaStatsFeed(publisher),
        clock,
        agents_fresh_for=3600,
    )


async def test_an_agent_gone_away_since_the_routers_copy_gets_no_offer(
    routing_db: AsyncDatabase[Document],
    publisher: AsyncEventPublisher,
    clock: Clock,
    store: MongoRoutingStore,
) -> None:
    router = router_with_a_copy_kept_an_hour(routing_db, publisher, clock)
    await present_agent(router, "anna", clock.now)
    await router.match()  # the router's copy now holds anna, available
    # Another process (the API, another router) records her going away.
    elsewhere = router_with_a_copy_kept_an_hour(routing_db, publisher, clock)
    await elsewhere.change_agent(
        "anna", lambda agent: with_status(_known(agent), AgentStatus.AWAY, clock.now)
    )

    opened = case_opened(clock.now)
    assert await router.handle_cases([opened]) == 0
    waiting = await store.case(opened.case_id)
    assert waiting is not None
    assert waiting.state is CaseState.WAITING
    anna = await store.agent("anna")
    assert anna is not None
    assert anna.work == ()


async def test_an_agent_changed_harmlessly_since_the_routers_copy_is_offered_the_case_as_stored(
    routing_db: AsyncDatabase[Document],
    publisher: AsyncEventPublisher,
    clock: Clock,
    store: MongoRoutingStore,
) -> None:
    router = router_with_a_copy_kept_an_hour(routing_db, publisher, clock)
    await present_agent(router, "anna", clock.now)
    await router.match()
    elsewhere = router_with_a_copy_kept_an_hour(routing_db, publisher, clock)
    clock.advance(seconds=5)
    beat = await elsewhere.change_agent("anna", lambda agent: with_heartbeat(_known(agent), clock.now))

    opened = case_opened(clock.now)
    assert await router.handle_cases([opened]) == 1
    anna = await store.agent("anna")
    assert anna is not None
    # Written over the heartbeat (the stale copy's write was refused, the stored agent's taken).
    assert anna.version == beat.version + 1
    assert anna.heartbeat_at == clock.now
    assert [item.case_id for item in anna.work] == [opened.case_id]
