"""Event publishers: idempotent, ``acks=all``, keyed by customer, returning only after the broker acked.

``AsyncEventPublisher`` (aiokafka) serves the services' hot paths; ``SyncEventPublisher`` (kafka-python)
serves tools and synchronous code. ``make bench`` prints both rates on this machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, KafkaTimeoutError, MessageSizeTooLargeError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from kafka import KafkaProducer
from opentelemetry import trace

from schemas.envelope import DataT, Event
from services.common.codec import KafkaRecord, encode
from services.common.kafka.connection import aiokafka_options, kafka_python_options
from services.common.settings import CommonSettings
from services.common.telemetry import trace_headers

_tracer = trace.get_tracer(__name__)
_LINGER_MS = 0
# aiokafka's default request limit, stated so the check before sending uses the same number. The broker
# refuses larger messages too (message.max.bytes defaults to about 1 MiB).
MAX_RECORD_BYTES = 1_048_576
# A record batch fills up to this (a larger message gets one of its own): half the broker's message
# limit, so a full batch is always accepted. aiokafka's 16 KiB default meant a request per 16 messages.
_MAX_BATCH_BYTES = 524_288
# The partitioner ``send`` uses: a batch handed over whole goes where its messages would have gone.
_PARTITIONER = DefaultPartitioner()


class RecordTooLargeError(MessageSizeTooLargeError):  # type: ignore[misc]  # aiokafka's errors are untyped
    """The message at ``position`` (in the events given) would be over ``MAX_RECORD_BYTES``."""

    def __init__(self, position: int, size: int) -> None:
        super().__init__(f"message {position} is {size} bytes, over {MAX_RECORD_BYTES}")
        self.position = position
        self.size = size


class PartlyAcknowledgedError(KafkaError):  # type: ignore[misc]  # aiokafka's errors are untyped
    """Some messages of a batch were not acknowledged. ``acknowledged``: the positions (in the events
    given) of those that were, which are on the topic now."""

    def __init__(self, acknowledged: frozenset[int], cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}; {len(acknowledged)} acknowledged")
        self.acknowledged = acknowledged
        self.cause = cause


@dataclass(frozen=True)
class Acknowledged:
    """Where the broker stored a message."""

    topic: str
    partition: int
    offset: int


def records_for(topic: str, events: Sequence[Event[DataT]]) -> list[KafkaRecord]:
    """One producer span per batch (OTel messaging conventions allow it): a span per message cost more
    CPU than encoding the message itself. Every message carries the span's trace context.

    Raises ``RecordTooLargeError`` before anything is sent when one message would be over
    ``MAX_RECORD_BYTES``: aiokafka checks each as it sends, after the ones before it have left."""
    with _tracer.start_as_current_span(
        f"send {topic}",
        kind=trace.SpanKind.PRODUCER,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": topic,
            "messaging.batch.message_count": len(events),
            "cloudevents.type": sorted({event.type for event in events}),
        },
    ):
        headers = trace_headers()
        records = [encode(event, headers) for event in events]
    for position, record in enumerate(records):
        size = DefaultRecordBatchBuilder.estimate_size_in_bytes(record.key, record.value, record.headers)
        if size > MAX_RECORD_BYTES:
            raise RecordTooLargeError(position, size)
    return records


def _stored(sent: list[tuple[list[int], int, Any]], answered: list[Any]) -> frozenset[int]:
    """The positions of the records whose batch the broker acknowledged."""
    return frozenset(
        position
        for (positions, _, _), result in zip(sent, answered, strict=True)
        if not isinstance(result, BaseException)
        for position in positions
    )


class AsyncEventPublisher:
    """aiokafka publisher.

    ``expire_undelivered`` serves request/response paths that answer "not accepted" when the broker does
    not acknowledge in time: aiokafka's idempotent producer retries a batch forever, so a message already
    refused to the caller could still surface later. With it set, the producer is not idempotent and a
    batch that is not acknowledged within ``kafka_publish_timeout_ms`` is dropped; a retry after a lost
    acknowledgement may then write a message twice, with the same CloudEvent id, which consumers dedupe.
    """

    def __init__(
        self, settings: CommonSettings, *, client_id: str | None = None, expire_undelivered: bool = False
    ) -> None:
        self._timeout_s = settings.kafka_publish_timeout_ms / 1000
        self._producer = AIOKafkaProducer(
            client_id=client_id or settings.service_name,
            acks="all",
            enable_idempotence=not expire_undelivered,
            linger_ms=_LINGER_MS,
            request_timeout_ms=settings.kafka_publish_timeout_ms,
            max_request_size=MAX_RECORD_BYTES,
            max_batch_size=_MAX_BATCH_BYTES,
            **aiokafka_options(settings),
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish(self, topic: str, event: Event[DataT]) -> Acknowledged:
        [record] = records_for(topic, [event])
        metadata = await self._producer.send_and_wait(
            topic, record.value, key=record.key, headers=record.headers
        )
        return Acknowledged(metadata.topic, metadata.partition, metadata.offset)

    async def publish_many(self, topic: str, events: Sequence[Event[DataT]]) -> list[Acknowledged]:
        """Publish a batch; returns once every message is acknowledged. Raises ``PartlyAcknowledgedError``
        (a ``KafkaError``) when one was not, once every send has an answer."""
        return await self.send_records(topic, self.records(topic, events))

    def records(self, topic: str, events: Sequence[Event[DataT]]) -> list[KafkaRecord]:
        """The messages ``events`` become, checked against the size limit (nothing is sent)."""
        return records_for(topic, events)

    async def send_records(self, topic: str, records: Sequence[KafkaRecord]) -> list[Acknowledged]:
        """``publish_many`` for messages encoded by ``records``.

        The records are grouped into one record batch per partition (the partition ``send`` would pick
        for the key) and handed over whole: per message, ``send`` cost as much CPU as encoding the
        message. A batch is acknowledged or not as a unit."""
        sent: list[tuple[list[int], int, asyncio.Future[Any]]] = []
        try:
            partitions = sorted(await self._producer.partitions_for(topic))
            by_partition: dict[int, list[int]] = {}
            for position, record in enumerate(records):
                partition = _PARTITIONER(record.key, partitions, partitions)
                by_partition.setdefault(partition, []).append(position)
            deadline = asyncio.get_running_loop().time() + self._timeout_s
            for partition, positions in by_partition.items():
                for batch_positions, batch in self._batches(records, positions):
                    future = await self._hand_over(batch, topic, partition, deadline)
                    sent.append((batch_positions, partition, future))
        except KafkaError as error:  # refused before sending (e.g. no metadata): the rest are not sent
            answered = await asyncio.gather(*(future for _, _, future in sent), return_exceptions=True)
            raise PartlyAcknowledgedError(_stored(sent, answered), error) from error
        results: list[Any] = await asyncio.gather(*(future for _, _, future in sent), return_exceptions=True)
        failures = [result for result in results if isinstance(result, BaseException)]
        if failures:
            raise PartlyAcknowledgedError(_stored(sent, results), failures[0]) from failures[0]
        acknowledged: dict[int, Acknowledged] = {}
        for (positions, partition, _), batch in zip(sent, results, strict=True):
            for index, position in enumerate(positions):  # a batch's messages have consecutive offsets
                acknowledged[position] = Acknowledged(topic, partition, batch.offset + index)
        return [acknowledged[position] for position in range(len(records))]

    async def _hand_over(
        self, batch: Any, topic: str, partition: int, deadline: float
    ) -> asyncio.Future[Any]:
        """``send_batch``, given until ``deadline``. aiokafka queues one batch per partition and, waiting
        behind several, takes the time since it started waiting off its timeout again at every wait:
        behind a few dozen it gave up within a second of a 5 s timeout. It had queued nothing then, so
        handing the batch over again is safe. (Not tenacity: a retrying object per batch is a reference
        cycle per batch for the collector.)"""
        while True:
            try:
                future: asyncio.Future[Any] = await self._producer.send_batch(
                    batch, topic, partition=partition
                )
                return future
            except KafkaTimeoutError:
                if asyncio.get_running_loop().time() >= deadline:
                    raise

    def _batches(
        self, records: Sequence[KafkaRecord], positions: list[int]
    ) -> Iterator[tuple[list[int], Any]]:
        """Closed record batches holding ``records[positions]`` in order, each as full as
        ``_MAX_BATCH_BYTES`` allows (a message larger than that has a batch of its own)."""
        batch, held = self._producer.create_batch(), list[int]()
        for position in positions:
            record = records[position]
            # Full: the record starts the next batch (an empty batch takes any message).
            while (
                batch.append(key=record.key, value=record.value, timestamp=None, headers=record.headers)
                is None
            ):
                batch.close()
                yield held, batch
                batch, held = self._producer.create_batch(), list[int]()
            held.append(position)
        batch.close()
        yield held, batch

    async def publish_tombstone(self, topic: str, key: str) -> Acknowledged:
        """Publish a tombstone (``key``, null value, no headers) on a compacted topic: compaction then
        drops every earlier message with that key. Returns once the broker acknowledged it."""
        with _tracer.start_as_current_span(
            f"send {topic}",
            kind=trace.SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": topic,
                "messaging.kafka.message.tombstone": True,
            },
        ):
            metadata = await self._producer.send_and_wait(topic, None, key=key.encode())
        return Acknowledged(metadata.topic, metadata.partition, metadata.offset)

    async def publish_empty(self, topic: str, headers: list[tuple[str, bytes]]) -> Acknowledged:
        """An empty message with only headers (a dead letter); returns once the broker acknowledged it."""
        metadata = await self._producer.send_and_wait(topic, b"", headers=headers)
        return Acknowledged(metadata.topic, metadata.partition, metadata.offset)

    async def ping(self) -> None:
        """Readiness: the broker answers a metadata request."""
        await self._producer.client.fetch_all_metadata()


class SyncEventPublisher:
    def __init__(self, settings: CommonSettings, *, client_id: str | None = None) -> None:
        self._producer = KafkaProducer(
            client_id=client_id or settings.service_name,
            acks="all",
            enable_idempotence=True,
            linger_ms=_LINGER_MS,
            **kafka_python_options(settings),
        )

    def publish(self, topic: str, event: Event[DataT], timeout_s: float = 30.0) -> Acknowledged:
        [record] = records_for(topic, [event])
        metadata = self._producer.send(topic, record.value, key=record.key, headers=record.headers).get(
            timeout=timeout_s
        )
        return Acknowledged(metadata.topic, metadata.partition, metadata.offset)

    def close(self) -> None:
        self._producer.close()
