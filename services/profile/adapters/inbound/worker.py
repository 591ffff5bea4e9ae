"""The profile worker: a faust agent over the channel topics, profile's requests, routing's assignments,
notify's notifications and customers' survey answers, in batches (``services.common.kafka.batches`` says
how a batch is decoded, dead-lettered, retried and acked)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import faust

from services.common.kafka.batches import BatchHandler, DeadLetters, RetryPolicy, process_batch, raw_message
from services.profile.core.observe import PROFILE_PAYLOADS
from services.profile.service import BatchOutcome

PROFILE_TOPICS = (
    "interactions.v1",
    "orders.v1",
    "web-activity.v1",
    "profile-requests.v1",
    "assignments.v1",  # routing's changes: the timeline and the customer's last agent
    "notifications.v1",  # what notify told the customer: the timeline
    # Survey answers: the timeline, the experience ledger; a negative one reopens its case, or opens a
    # delivery case when it is about a delivered order.
    "feedback.v1",
)


def register_profile_agent(
    app: faust.App,
    *,
    handler_factory: Callable[[], Awaitable[BatchHandler[BatchOutcome]]],
    dead_letters: DeadLetters,
    batch_size: int,
    within_seconds: float,
    retry: RetryPolicy,
    topics: Sequence[str] = PROFILE_TOPICS,
) -> Any:
    source = app.topic(*topics, key_type=bytes, value_type=bytes)

    async def profile_events(stream: Any) -> None:
        handler = await handler_factory()
        async for batch in stream.take_events(batch_size, within_seconds):
            messages = [raw_message(event) for event in batch]
            await process_batch(messages, handler, dead_letters, retry, PROFILE_PAYLOADS)

    return app.agent(source, name="profile-events")(profile_events)
