"""The routing worker: a faust agent over ``cases.v1`` in batches (``services.common.kafka.batches`` says
how a batch is decoded, dead-lettered, retried and acked) and a timer that ticks the clock.

What it does with what it is given:
- malformed, oversized or hostile messages (not a CloudEvent, not a ``CaseChanged``, a field out of its
  contract) go to ``cases.v1.dlq`` with their coordinates and error class only; the batch moves on;
- duplicates (a redelivered batch, a re-published message) change nothing: every write is a
  compare-and-set from the state it read, and an "opened" for a known case only refreshes its snapshot;
- late messages about a case that is done are ignored; a close that arrives before the case was seen
  leaves it done, so a late "opened" cannot bring it back; only a "reopened" newer than the close does
  (the case waits again, from the reopening, for the agent who worked it);
- a database that fails makes the batch retry (with backoff) before its offsets are committed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import faust

from schemas.cases import CaseChanged
from schemas.envelope import Event
from services.common.kafka.batches import DeadLetters, RetryPolicy, process_batch, raw_message
from services.common.kafka.taking import ack_all, consume_in_batches
from services.routing.service import RoutingService

ROUTING_TOPICS = ("cases.v1",)
_log = logging.getLogger(__name__)


class CaseBatches:
    """The service as a batch handler."""

    def __init__(self, service: RoutingService) -> None:
        self._service = service

    async def handle_batch(self, events: Sequence[Event[Any]]) -> int:
        return await self._service.handle_cases([event.data for event in events])


def register_routing_agents(
    app: faust.App,
    *,
    service: Callable[[], Awaitable[RoutingService]],
    dead_letters: DeadLetters,
    batch_size: int,
    within_seconds: float,
    retry: RetryPolicy,
    tick_seconds: float,
    stats_every_ticks: int,
) -> None:
    source = app.topic(*ROUTING_TOPICS, key_type=bytes, value_type=bytes)

    async def case_changes(stream: Any) -> None:
        handler = CaseBatches(await service())

        async def process(batch: list[Any]) -> None:
            messages = [raw_message(event) for event in batch]
            await process_batch(messages, handler, dead_letters, retry, (CaseChanged,))
            ack_all(batch)

        await consume_in_batches(stream, batch_size, within_seconds, process)

    app.agent(source, name="case-changes")(case_changes)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        ticks += 1
        routing = await service()
        try:
            await routing.tick()
            if ticks % stats_every_ticks == 1 or stats_every_ticks == 1:
                await routing.publish_stats()
        except Exception as error:  # the next tick tries again; nothing is lost by waiting
            _log.error("routing tick failed: %s", type(error).__name__)

    app.timer(tick_seconds)(tick)
