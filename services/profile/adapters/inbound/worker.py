"""The profile worker: a faust agent over the channel topics, in batches.

Each batch is decoded (a message that does not decode goes to ``<topic>.dlq`` and the batch moves on),
handed to the service in one call, and retried until its database write returned. faust acks a batch's
messages only when the loop asks for the next batch, and commits acked offsets on a timer, so an offset
is never committed before the write that covers it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import faust

from services.common.codec import InvalidEventError, decode
from services.profile.core.observe import PROFILE_PAYLOADS, ProfileEvent
from services.profile.ports import DeadLetters
from services.profile.service import BatchOutcome

PROFILE_TOPICS = ("interactions.v1", "orders.v1", "web-activity.v1", "profile-requests.v1")

_log = logging.getLogger(__name__)


class BatchHandler(Protocol):
    async def handle_batch(self, events: Sequence[ProfileEvent]) -> BatchOutcome: ...


@dataclass(frozen=True)
class RawMessage:
    """A consumed message, independent of the client library."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


@dataclass(frozen=True)
class RetryPolicy:
    initial_seconds: float = 0.5
    max_seconds: float = 30.0


async def process_batch(
    messages: Sequence[RawMessage], handler: BatchHandler, dead_letters: DeadLetters, retry: RetryPolicy
) -> BatchOutcome | None:
    """Decode, dead-letter what does not decode, and hand the rest to the service until it succeeds."""
    events: list[ProfileEvent] = []
    for message in messages:
        try:
            event = decode(message.key, message.value, message.headers)
            if not isinstance(event.data, PROFILE_PAYLOADS):
                raise InvalidEventError(f"{event.type} is not an event profile consumes")
        except InvalidEventError as error:
            # Coordinates and the error class only: the reason names fields, the payload never leaves.
            _log.warning(
                "dead-lettering %s[%d]@%d: %s",
                message.topic,
                message.partition,
                message.offset,
                type(error).__name__,
            )
            await dead_letters.send(message.topic, message.partition, message.offset, error)
            continue
        events.append(event)  # type: ignore[arg-type]  # decode only yields the catalog's payloads
    if not events:
        return None
    delay = retry.initial_seconds
    while True:
        try:
            return await handler.handle_batch(events)
        except Exception as error:  # the batch must not be acked before it is written
            # Redelivering the batch is safe (the service is idempotent); skipping it would lose it.
            _log.error(
                "profile batch of %d failed (%s); retrying in %.1fs", len(events), type(error).__name__, delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, retry.max_seconds)


def raw_message(event: Any) -> RawMessage:
    """A faust event as a ``RawMessage``."""
    message = event.message
    headers: Iterable[tuple[str, bytes]] | Mapping[str, bytes] = message.headers or []
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    return RawMessage(message.topic, message.partition, message.offset, message.key, message.value, pairs)


def register_profile_agent(
    app: faust.App,
    *,
    handler_factory: Callable[[], Awaitable[BatchHandler]],
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
            await process_batch([raw_message(event) for event in batch], handler, dead_letters, retry)

    return app.agent(source, name="profile-events")(profile_events)


def faust_send_empty(app: faust.App) -> Callable[[str, list[tuple[str, bytes]]], Awaitable[None]]:
    """Send an empty message through the app's producer and wait for the broker's acknowledgement."""

    async def send(topic: str, headers: list[tuple[str, bytes]]) -> None:
        channel = app.topic(topic, key_type=bytes, value_type=bytes)
        pending = await channel.send(value=b"", headers=headers)
        await pending

    return send
