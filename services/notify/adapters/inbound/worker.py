"""The notify worker: faust agents over ``cases.v1``, ``assignments.v1``, ``queue-stats.v1``,
``feedback.v1`` and ``deliveries.v1`` in batches (``services.common.kafka.batches`` says how a batch is
decoded, dead-lettered, retried and acked) and a timer for what time alone makes due.

What it does with what it is given:
- malformed, oversized or hostile messages (not a CloudEvent, not the topic's type, a field out of its
  contract) go to ``<topic>.dlq`` with their coordinates and error class only; the batch moves on;
- duplicates (a redelivered batch, a replayed topic) send nothing new: every message is claimed under a
  unique send key before it goes out, and a promise is made once per case;
- late messages: figures older than the stored ones are dropped; a close already recorded changes
  nothing; an assignment for a case notify never saw is ignored;
- a database or broker that fails makes the batch retry (with backoff) before its offsets are committed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import faust

from schemas.cases import CaseChanged
from schemas.commerce import OrderDelivered
from schemas.envelope import Event, Payload
from schemas.feedback import FeedbackReceived
from schemas.routing import AssignmentChanged, QueueStats
from services.common.kafka.batches import DeadLetters, RetryPolicy, process_batch, raw_message
from services.common.kafka.taking import ack_all, consume_in_batches
from services.notify.service import NotifyService

_log = logging.getLogger(__name__)
NOTIFY_TOPICS = ("cases.v1", "assignments.v1", "queue-stats.v1", "feedback.v1", "deliveries.v1")


class _Batches:
    """One of the service's handlers as a batch handler."""

    def __init__(self, handle: Callable[[list[Any]], Awaitable[int]]) -> None:
        self._handle = handle

    async def handle_batch(self, events: Sequence[Event[Any]]) -> int:
        return await self._handle([event.data for event in events])


def register_notify_agents(
    app: faust.App,
    *,
    service: Callable[[], Awaitable[NotifyService]],
    dead_letters: DeadLetters,
    batch_size: int,
    within_seconds: float,
    retry: RetryPolicy,
    tick_seconds: float,
) -> None:
    def consume(
        topic: str,
        accepts: type[Payload],
        handler: Callable[[NotifyService], Callable[[list[Any]], Awaitable[int]]],
    ) -> None:
        async def agent(stream: Any) -> None:
            batches = _Batches(handler(await service()))

            async def process(batch: list[Any]) -> None:
                messages = [raw_message(event) for event in batch]
                await process_batch(messages, batches, dead_letters, retry, (accepts,))
                ack_all(batch)

            await consume_in_batches(stream, batch_size, within_seconds, process)

        source = app.topic(topic, key_type=bytes, value_type=bytes)
        app.agent(source, name=f"notify-{topic.replace('.', '-')}")(agent)

    consume("cases.v1", CaseChanged, lambda notify: notify.handle_cases)
    consume("assignments.v1", AssignmentChanged, lambda notify: notify.handle_assignments)
    consume("queue-stats.v1", QueueStats, lambda notify: notify.handle_stats)
    consume("feedback.v1", FeedbackReceived, lambda notify: notify.handle_feedback)
    consume("deliveries.v1", OrderDelivered, lambda notify: notify.handle_deliveries)

    async def tick() -> None:
        notify = await service()
        try:
            await notify.tick()
        except Exception as error:  # the next tick tries again; nothing is lost by waiting
            _log.error("notify tick failed: %s", type(error).__name__)

    app.timer(tick_seconds)(tick)
