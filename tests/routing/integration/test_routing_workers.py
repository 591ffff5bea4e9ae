"""Two routing workers in one consumer group, on the real broker and database: cases published on
``cases.v1`` (each twice) are offered at most once each, no agent is over capacity, and what the agents
hold matches what the cases say. A poison message goes to the dead letters and the next case is routed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer
from pymongo.asynchronous.database import AsyncDatabase

from schemas.cases import CaseChanged
from schemas.catalog import event_type_of
from schemas.envelope import Event
from services.common.kafka.connection import aiokafka_options
from services.common.kafka.groups import start_group_at_the_end
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document
from services.common.settings import CommonSettings
from services.routing.adapters.inbound.worker import ROUTING_TOPICS
from services.routing.adapters.outbound.mongo_store import MongoRoutingStore
from services.routing.core.cases import CaseState
from services.routing.inject import WorkerRuntime, create_worker
from services.routing.service import RoutingService
from services.routing.settings import RoutingSettings
from tests.routing.integration.routing_flow import case_opened, present_agent
from tests.support.clock import Clock
from tests.support.kafka import dead_letter_of

pytestmark = pytest.mark.integration

AGENTS = 6
CHATS_EACH = 3
CASES = 40


def settings_for(infra: CommonSettings, db: AsyncDatabase[Document], group: str) -> RoutingSettings:
    return RoutingSettings(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        mongodb_uri=infra.mongodb_uri,
        mongodb_database=db.name,
        worker_app_id=group,
        tick_seconds=0.3,
    )


@asynccontextmanager
async def running_workers(settings: RoutingSettings, count: int) -> AsyncIterator[list[WorkerRuntime]]:
    start_group_at_the_end(settings, settings.worker_app_id, ROUTING_TOPICS)
    async with AsyncExitStack() as stack:
        runtimes = []
        for _ in range(count):
            runtime = create_worker(settings, telemetry=False)
            await runtime.app.start()
            stack.push_async_callback(runtime.aclose)
            stack.push_async_callback(runtime.app.stop)
            runtimes.append(runtime)
        yield runtimes


def opened_event(changed: CaseChanged) -> Event[CaseChanged]:
    return Event[CaseChanged](
        id=f"case-opened-{changed.case_id}",
        source="/tests/routing",
        type=event_type_of(CaseChanged).name,
        time=datetime.now(UTC),
        key=changed.customer_id,
        data=changed,
    )


async def until(check: Callable[[], Awaitable[bool]], timeout_s: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.3)


async def test_two_workers_never_offer_a_case_twice_nor_overfill_an_agent(
    *,
    infra: CommonSettings,
    routing_db: AsyncDatabase[Document],
    store: MongoRoutingStore,
    service: RoutingService,
    publisher: AsyncEventPublisher,
    clock: Clock,
) -> None:
    for number in range(AGENTS):
        await present_agent(service, f"agent-{number}", clock.now)
    cases = [case_opened(clock.now) for _ in range(CASES)]
    settings = settings_for(infra, routing_db, f"test-routing-{routing_db.name}")

    async with running_workers(settings, 2):
        for changed in cases:
            await publisher.publish("cases.v1", opened_event(changed))
        for changed in cases[::2]:  # redelivered: must change nothing
            await publisher.publish("cases.v1", opened_event(changed))

        async def all_slots_offered() -> bool:
            active = await store.active_cases()
            return sum(case.state is CaseState.OFFERED for case in active) == AGENTS * CHATS_EACH

        await until(all_slots_offered)
        await asyncio.sleep(1.5)  # several more ticks of both workers racing over the same waiting cases

    active = {case.case_id: case for case in await store.active_cases()}
    assert set(active) == {changed.case_id for changed in cases}  # each case once, none lost
    offered = [case for case in active.values() if case.state is CaseState.OFFERED]
    assert len(offered) == AGENTS * CHATS_EACH
    held: dict[str, tuple[str | None, str | None]] = {}
    for agent in await store.agents():
        assert len(agent.work) <= CHATS_EACH
        assert agent.used <= agent.capacity.budget
        held |= {item.case_id: (agent.agent_id, item.offer_id) for item in agent.work}
    assert held == {case.case_id: (case.agent_id, case.offer_id) for case in offered}


async def test_a_poison_message_is_dead_lettered_and_the_next_case_routed(
    *,
    infra: CommonSettings,
    routing_db: AsyncDatabase[Document],
    store: MongoRoutingStore,
    service: RoutingService,
    publisher: AsyncEventPublisher,
    clock: Clock,
) -> None:
    await present_agent(service, "anna", clock.now)
    settings = settings_for(infra, routing_db, f"test-routing-{routing_db.name}")
    good = case_opened(clock.now)

    async with running_workers(settings, 1):
        producer = AIOKafkaProducer(acks="all", **aiokafka_options(infra))
        await producer.start()
        try:
            poison = await producer.send_and_wait(
                "cases.v1",
                b'{"case_id": "x", "note": "ring meg p\xc3\xa5 +4791234567"}',
                key=good.customer_id.encode(),
                headers=[("ce_specversion", b"1.0"), ("ce_type", b"helhet.case.changed.v1")],
            )
        finally:
            await producer.stop()
        await publisher.publish("cases.v1", opened_event(good))

        async def offered() -> bool:
            case = await store.case(good.case_id)
            return case is not None and case.state is CaseState.OFFERED

        await until(offered)

    dead = await dead_letter_of(infra, "cases.v1", poison.partition, poison.offset)
    headers = dict(dead.headers)
    assert headers["dlq_consumer"] == b"routing"
    assert headers["dlq_error_class"] == b"InvalidEventError"
    assert dead.value in (None, b"")
    assert not any(b"4791234567" in value for value in headers.values())
