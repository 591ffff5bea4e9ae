"""The webhook consumer: ``profiles.v1`` and ``cases.v1`` into webhook deliveries, with plain aiokafka.

Not a faust agent: faust's commits stall on offset gaps (faust-streaming #606), and ``profiles.v1`` is
compacted, so it is full of them. Offsets are committed by hand, only after the batch's deliveries are
written, and at the consumer's *position* (the offset after the last record it returned, or after the
gap or control batch it skipped), so the committed offset passes compacted-away records too.

A message that does not decode, or is not the type its topic carries, goes to the topic's ``.dlq`` twin
(coordinates and error class only) and the batch moves on; a failed write is retried (backing off) and
nothing is committed meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from schemas.cases import CaseChanged
from schemas.customers import ProfileChanged
from schemas.envelope import Event
from services.common.codec import InvalidEventError, decode
from services.common.kafka.batches import DeadLetters, RetryPolicy
from services.profile.core.webhooks import CASES_TOPIC, PROFILES_TOPIC, SourceMessage

_log = logging.getLogger(__name__)

WEBHOOK_TOPICS = (PROFILES_TOPIC, CASES_TOPIC)
_CARRIES: dict[str, type[ProfileChanged] | type[CaseChanged]] = {
    PROFILES_TOPIC: ProfileChanged,
    CASES_TOPIC: CaseChanged,
}


class Intake(Protocol):
    async def record(self, messages: Sequence[SourceMessage]) -> int: ...


def source_message(record: ConsumerRecord[bytes, bytes]) -> SourceMessage:
    """A consumed record as the core reads it; ``InvalidEventError`` when it is not one."""
    if not record.key:
        raise InvalidEventError("message has no key (the customer key is required)")
    try:
        key = record.key.decode()
    except UnicodeDecodeError:
        raise InvalidEventError("message key is not UTF-8") from None
    timestamp = datetime.fromtimestamp(record.timestamp / 1000, UTC)
    coordinates = (record.topic, record.partition, record.offset, timestamp, key)
    if record.value is None:
        if record.topic != PROFILES_TOPIC:
            raise InvalidEventError("a tombstone on a topic that is not compacted")
        return SourceMessage(*coordinates, event=None)
    event: Event[Any] = decode(record.key, record.value, record.headers)
    if not isinstance(event.data, _CARRIES[record.topic]):
        raise InvalidEventError(f"{event.type} is not an event of {record.topic}")
    return SourceMessage(*coordinates, event=event)


class WebhookConsumer:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        intake: Intake,
        dead_letters: DeadLetters,
        *,
        batch_size: int,
        retry: RetryPolicy,
    ) -> None:
        self._consumer = consumer
        self._intake = intake
        self._dead_letters = dead_letters
        self._batch_size = batch_size
        self._retry = retry
        self._committed: dict[TopicPartition, int] = {}

    async def run(self) -> None:
        """Consume until cancelled (the consumer is started and stopped by the caller)."""
        while True:
            await self.consume_once()

    async def consume_once(self, timeout_ms: int = 500) -> int:
        """One batch: write its deliveries, then commit. Returns the messages consumed."""
        batches = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=self._batch_size)
        # Before the write, while nothing moves them: every record up to these is in this batch or earlier.
        positions = {tp: await self._consumer.position(tp) for tp in self._consumer.assignment()}
        records = [record for partition in batches.values() for record in partition]
        messages: list[SourceMessage] = []
        for record in records:
            try:
                messages.append(source_message(record))
            except InvalidEventError as error:
                _log.warning(
                    "dead-lettering %s[%d]@%d: %s",
                    record.topic,
                    record.partition,
                    record.offset,
                    type(error).__name__,
                )
                await self._dead_letters.send(record.topic, record.partition, record.offset, error)
        if messages:
            await self._record(messages)
        await self._commit(positions)
        return len(records)

    async def _record(self, messages: list[SourceMessage]) -> None:
        delay = self._retry.initial_seconds
        while True:
            try:
                await self._intake.record(messages)
                return
            except Exception as error:  # not committed until written: a redelivery is safe, a skip is not
                _log.error(
                    "webhook batch of %d failed (%s); retrying in %.1fs",
                    len(messages),
                    type(error).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry.max_seconds)

    async def _commit(self, positions: dict[TopicPartition, int]) -> None:
        moved = {tp: offset for tp, offset in positions.items() if self._committed.get(tp) != offset}
        if not moved:
            return
        try:
            await self._consumer.commit(moved)
        except (CommitFailedError, IllegalStateError, KafkaError) as error:
            # A rebalance took partitions away: their new owner starts from the last commit (at least once).
            _log.warning("webhook offsets not committed (%s)", type(error).__name__)
            return
        self._committed.update(moved)
