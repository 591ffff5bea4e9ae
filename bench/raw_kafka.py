"""Physical limits of Kafka on this machine: raw produce and consume of 1 KB CloudEvents with kafka-python
and aiokafka (acks=all, idempotent). Records are encoded up front so only the client is measured."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from bench.report import Figure
from schemas.catalog import TopicSpec
from schemas.envelope import Event
from schemas.interactions import InteractionReceived
from services.common.codec import KafkaRecord, encode
from services.common.kafka.admin import provision_topics
from services.common.kafka.connection import aiokafka_options, kafka_python_options
from services.common.settings import CommonSettings

VALUE_BYTES = 1024
PARTITIONS = 6


def cloud_events(count: int) -> list[KafkaRecord]:
    """``count`` encoded InteractionReceived events whose JSON body is ~1 KB."""
    template = Event[InteractionReceived](
        source="/bench",
        type="helhet.interaction.received.v1",
        time=datetime.now(UTC),
        key="email:bench@example.no",
        data=InteractionReceived.model_validate(
            {
                "channel": "email",
                "direction": "inbound",
                "identifiers": [{"kind": "email", "value": "bench@example.no"}],
                "text": "",
                "occurred_at": datetime.now(UTC),
            }
        ),
    )
    padding = VALUE_BYTES - len(encode(template).value)
    body = template.data.model_copy(update={"text": "x" * max(padding, 0)})
    records = []
    for index in range(count):
        event = template.model_copy(
            update={"id": str(uuid.uuid4()), "key": f"customer-{index % 5000}", "data": body}
        )
        records.append(encode(event))
    return records


def _topic(settings: CommonSettings, client: str) -> str:
    name = f"bench.raw.{client}.{uuid.uuid4().hex[:8]}"
    provision_topics(settings, [TopicSpec(name, "benchmark", partitions=PARTITIONS, consumed=False)])
    return name


def _drop(settings: CommonSettings, topic: str) -> None:
    admin = KafkaAdminClient(**kafka_python_options(settings))
    try:
        admin.delete_topics([topic])
    finally:
        admin.close()


def kafka_python_rates(settings: CommonSettings, records: list[KafkaRecord]) -> list[Figure]:
    topic = _topic(settings, "kafka-python")
    producer = KafkaProducer(
        acks="all", enable_idempotence=True, linger_ms=5, **kafka_python_options(settings)
    )
    started = time.perf_counter()
    for record in records:
        producer.send(topic, record.value, key=record.key, headers=record.headers)
    producer.flush()
    produce_s = time.perf_counter() - started
    producer.close()

    consumer = KafkaConsumer(
        topic, auto_offset_reset="earliest", enable_auto_commit=False, **kafka_python_options(settings)
    )
    consumed = 0
    started = time.perf_counter()
    while consumed < len(records):
        for batch in consumer.poll(timeout_ms=1000, max_records=5000).values():
            consumed += len(batch)
    consume_s = time.perf_counter() - started
    consumer.close()
    _drop(settings, topic)
    return [
        Figure("kafka-python produce (acks=all, idempotent)", len(records) / produce_s, "msg/s"),
        Figure("kafka-python consume", consumed / consume_s, "msg/s"),
    ]


async def aiokafka_rates(settings: CommonSettings, records: list[KafkaRecord]) -> list[Figure]:
    topic = _topic(settings, "aiokafka")
    producer = AIOKafkaProducer(
        acks="all", enable_idempotence=True, linger_ms=5, **aiokafka_options(settings)
    )
    await producer.start()
    started = time.perf_counter()
    futures = [await producer.send(topic, r.value, key=r.key, headers=r.headers) for r in records]
    await asyncio.gather(*futures)
    produce_s = time.perf_counter() - started
    await producer.stop()

    consumer = AIOKafkaConsumer(
        topic, auto_offset_reset="earliest", enable_auto_commit=False, **aiokafka_options(settings)
    )
    await consumer.start()
    consumed = 0
    started = time.perf_counter()
    while consumed < len(records):
        for batch in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
            consumed += len(batch)
    consume_s = time.perf_counter() - started
    await consumer.stop()
    _drop(settings, topic)
    return [
        Figure("aiokafka produce (acks=all, idempotent)", len(records) / produce_s, "msg/s"),
        Figure("aiokafka consume", consumed / consume_s, "msg/s"),
    ]
