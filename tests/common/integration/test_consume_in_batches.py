"""A real faust agent over the real broker, batching with ``consume_in_batches`` as every worker does: events
that arrive while a batch is processed form the next batch, and offsets are committed only once the
batch is acked (``ack_all``), however far the stream has read."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from services.common.kafka.faust_app import create_faust_app
from services.common.kafka.groups import start_group_at_the_end
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.kafka.taking import ack_all, consume_in_batches
from services.common.settings import CommonSettings
from tests.profile.integration.profile_flow import eventually, fresh_email, interaction, topic_of
from tests.support.kafka import committed

pytestmark = pytest.mark.integration

TOPIC = "interactions.v1"
# Past faust's commit interval (1 s), with room: an offset acked too early would be committed by then.
COMMIT_WAIT_S = 3.0


async def test_a_batch_is_what_arrived_meanwhile_and_commits_wait_for_its_ack(
    infra: CommonSettings, publisher: AsyncEventPublisher
) -> None:
    group = f"test-take-{uuid.uuid4().hex[:8]}"
    start_group_at_the_end(infra, group, [TOPIC])
    before = committed(infra, group, TOPIC)
    batches: list[list[bytes]] = []
    gate = asyncio.Event()
    app = create_faust_app(infra, group)

    async def process(batch: list[Any]) -> None:
        batches.append([event.message.key for event in batch])
        await gate.wait()  # the first batch is "processed" until the test opens the gate
        ack_all(batch)

    async def agent(stream: Any) -> None:
        await consume_in_batches(stream, 100, 0.05, process)

    app.agent(app.topic(TOPIC, key_type=bytes, value_type=bytes), name="take-batches")(agent)
    await app.start()
    try:
        first = interaction(fresh_email())
        await publisher.publish(topic_of(first), first)

        async def first_taken() -> bool:
            return len(batches) == 1

        await eventually(first_taken, what="the first batch")
        meanwhile = [interaction(fresh_email()) for _ in range(30)]
        for event in meanwhile:
            await publisher.publish(topic_of(event), event)
        await asyncio.sleep(COMMIT_WAIT_S)
        assert committed(infra, group, TOPIC) == before  # read, not acked: nothing committed

        gate.set()

        async def all_committed() -> bool:
            return committed(infra, group, TOPIC) == before + 31

        await eventually(all_committed, timeout_s=30, what="the offsets committed")
    finally:
        await app.stop()
    assert len(batches) == 2  # the thirty that arrived meanwhile came as one batch
    assert sorted(batches[1]) == sorted(event.key.encode() for event in meanwhile)


async def test_an_app_with_several_agents_stops(infra: CommonSettings) -> None:
    """Each agent iterates its own stream, so stopping the app ends every one (a reader in a task of its
    own kept the second agent's stream open: stopping hung)."""
    app = create_faust_app(infra, f"test-take-stop-{uuid.uuid4().hex[:8]}")

    async def process(batch: list[Any]) -> None:
        ack_all(batch)

    for topic in ("deliveries.v1", "feedback.v1", "queue-stats.v1"):

        async def agent(stream: Any) -> None:
            await consume_in_batches(stream, 100, 0.05, process)

        app.agent(app.topic(topic, key_type=bytes, value_type=bytes), name=f"take-{topic}")(agent)
    await app.start()

    async def reading() -> bool:
        return bool(app.consumer.assignment())

    await eventually(reading, timeout_s=60, what="partitions assigned")
    async with asyncio.timeout(20):
        await app.stop()
