"""Consuming in batches, the same way in every service: decode each message (what does not decode, or is
not a type the consumer takes, goes to ``<topic>.dlq`` and the batch moves on), hand the batch to the
service in one call, and retry until it returned. A batch's messages are acked only once it returned
(``taking.ack_all``), so an offset is never committed before the write that covers it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import faust

from schemas.envelope import Event, Payload
from services.common.codec import InvalidEventError, decode

_log = logging.getLogger(__name__)
OutcomeT_co = TypeVar("OutcomeT_co", covariant=True)
T = TypeVar("T")


class BatchHandler(Protocol[OutcomeT_co]):
    async def handle_batch(self, events: Sequence[Event[Any]]) -> OutcomeT_co: ...


class DeadLetters(Protocol):
    async def send(self, topic: str, partition: int, offset: int, error: Exception) -> None:
        """Publish where an unprocessable message was and why (never its content); return once acked."""


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
    messages: Sequence[RawMessage],
    handler: BatchHandler[OutcomeT_co],
    dead_letters: DeadLetters,
    retry: RetryPolicy,
    accepts: tuple[type[Payload], ...],
) -> OutcomeT_co | None:
    """Decode, dead-letter what does not decode or is not accepted, and hand the rest to the service until
    it succeeds."""
    events = await decoded(messages, dead_letters, accepts)
    if not events:
        return None
    return await until_done(lambda: handler.handle_batch(events), retry, len(events))


async def decoded(
    messages: Sequence[RawMessage], dead_letters: DeadLetters, accepts: tuple[type[Payload], ...]
) -> list[Event[Any]]:
    """The events of these messages; what does not decode, or is not accepted, goes to the dead letters."""
    events: list[Event[Any]] = []
    for message in messages:
        try:
            event = decode(message.key, message.value, message.headers)
            if not isinstance(event.data, accepts):
                raise InvalidEventError(f"{event.type} is not an event this consumer takes")
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
        events.append(event)
    return events


async def until_done(call: Callable[[], Awaitable[T]], retry: RetryPolicy, size: int) -> T:
    """Call until it returns, with growing pauses between tries."""
    delay = retry.initial_seconds
    while True:
        try:
            return await call()
        except Exception as error:  # the batch must not be acked before it is written
            # Redelivering the batch is safe (the service is idempotent); skipping it would lose it.
            _log.error("batch of %d failed (%s); retrying in %.1fs", size, type(error).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, retry.max_seconds)


def raw_message(event: Any) -> RawMessage:
    """A faust event as a ``RawMessage``."""
    message = event.message
    headers: Iterable[tuple[str, bytes]] | Mapping[str, bytes] = message.headers or []
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    return RawMessage(message.topic, message.partition, message.offset, message.key, message.value, pairs)


def faust_send_empty(app: faust.App) -> Callable[[str, list[tuple[str, bytes]]], Awaitable[None]]:
    """Send an empty message through the app's producer and wait for the broker's acknowledgement."""

    async def send(topic: str, headers: list[tuple[str, bytes]]) -> None:
        channel = app.topic(topic, key_type=bytes, value_type=bytes)
        pending = await channel.send(value=b"", headers=headers)
        await pending

    return send
