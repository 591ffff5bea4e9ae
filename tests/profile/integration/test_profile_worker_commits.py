"""The real faust agent against the real broker commits a batch's offsets only after the batch's finish
has run: faust alone would commit them as soon as its stream moved past them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from schemas.envelope import Event
from services.common.kafka.batches import RetryPolicy
from services.common.kafka.faust_app import create_faust_app
from services.common.kafka.groups import start_group_at_the_end
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.settings import CommonSettings
from services.profile.adapters.inbound.worker import register_profile_agent
from services.profile.service import BatchOutcome, Finish
from tests.profile.integration.profile_flow import eventually, fresh_email, interaction, topic_of
from tests.support.kafka import committed

pytestmark = pytest.mark.integration

EVENTS = 5
TOPIC = "interactions.v1"
# Past faust's commit interval (1 s), with room: an offset acked too early would be committed by then.
COMMIT_WAIT_S = 3.0


class GatedService:
    """Applies at once; finishes only when the gate opens."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.applied = 0

    async def apply_batch(self, events: Sequence[Event[Any]]) -> Finish:
        self.applied += len(events)

        async def finish() -> BatchOutcome:
            await self.gate.wait()
            return BatchOutcome(applied=len(events), already_recorded=0, customers_written=0, attempts=1)

        return finish


class NoDeadLetters:
    async def send(self, topic: str, partition: int, offset: int, error: Exception) -> None:
        raise AssertionError(f"{topic}[{partition}]@{offset} dead-lettered: {error!r}")


async def test_offsets_are_committed_only_after_the_finish(
    infra: CommonSettings, publisher: AsyncEventPublisher
) -> None:
    group = f"test-commits-{uuid.uuid4().hex[:8]}"
    start_group_at_the_end(infra, group, [TOPIC])
    before = committed(infra, group, TOPIC)
    service = GatedService()
    app = create_faust_app(infra, group)

    async def handler() -> GatedService:
        return service

    register_profile_agent(
        app,
        handler_factory=handler,
        dead_letters=NoDeadLetters(),
        batch_size=EVENTS,
        within_seconds=0.1,
        retry=RetryPolicy(initial_seconds=0.1, max_seconds=0.1),
        topics=[TOPIC],
    )
    await app.start()
    try:
        events = [interaction(fresh_email()) for _ in range(EVENTS)]
        for event in events:
            await publisher.publish(topic_of(event), event)

        async def all_applied() -> bool:
            return service.applied == EVENTS

        await eventually(all_applied, timeout_s=60, what="the batch applied")
        await asyncio.sleep(COMMIT_WAIT_S)
        assert committed(infra, group, TOPIC) == before  # applied, not finished: nothing committed

        service.gate.set()

        async def all_committed() -> bool:
            return committed(infra, group, TOPIC) == before + EVENTS

        await eventually(all_committed, timeout_s=30, what="the offsets committed")
    finally:
        await app.stop()
