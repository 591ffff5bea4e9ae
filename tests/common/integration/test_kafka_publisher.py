"""``AsyncEventPublisher.publish_many`` against the real broker: every message lands where a single
``send`` would have put it (same key, same partition), in order, at the offset it reports; batches
larger than a record batch are split; a topic the broker does not know acknowledges nothing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.catalog import TopicSpec
from schemas.envelope import Event
from schemas.interactions import InteractionReceived
from services.common.codec import decode
from services.common.kafka.admin import provision_topics
from services.common.kafka.connection import aiokafka_options
from services.common.kafka.publisher import AsyncEventPublisher, PartlyAcknowledgedError
from services.common.settings import CommonSettings

pytestmark = pytest.mark.integration

KEYS = [f"customer_number:C{n}" for n in range(12)]


def interaction(key: str, text: str) -> Event[InteractionReceived]:
    return Event[InteractionReceived](
        source="/tests/publisher",
        type="helhet.interaction.received.v1",
        time=datetime.now(UTC),
        key=key,
        data=InteractionReceived.model_validate(
            {
                "channel": "web_form",
                "direction": "inbound",
                "identifiers": [{"kind": "customer_number", "value": key.split(":")[1]}],
                "text": text,
                "occurred_at": datetime.now(UTC),
            }
        ),
    )


async def partition_of_single_send(infra: CommonSettings, topic: str, key: str) -> int:
    producer = AIOKafkaProducer(**aiokafka_options(infra))
    await producer.start()
    try:
        return int((await producer.send_and_wait(topic, b"probe", key=key.encode())).partition)
    finally:
        await producer.stop()


async def test_a_batch_lands_per_key_where_send_would_put_it_in_order_at_the_reported_offsets(
    infra: CommonSettings,
) -> None:
    topic = f"test.publisher.{uuid.uuid4().hex[:8]}"
    provision_topics(infra, [TopicSpec(topic, "publisher test", partitions=3, consumed=False)])
    # 360 messages of ~6 KB: about 2 MB, several record batches per partition.
    events = [interaction(KEYS[n % len(KEYS)], f"melding {n} " + "x" * 6000) for n in range(360)]
    publisher = AsyncEventPublisher(infra)
    await publisher.start()
    try:
        acknowledged = await publisher.publish_many(topic, events)
    finally:
        await publisher.stop()

    assert len(acknowledged) == len(events)
    assert len({(ack.partition, ack.offset) for ack in acknowledged}) == len(events)
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **aiokafka_options(infra))
    await consumer.start()
    try:
        for event, ack in zip(events, acknowledged, strict=True):
            partition = TopicPartition(topic, ack.partition)
            consumer.assign([partition])
            consumer.seek(partition, ack.offset)
            record = (await consumer.getmany(partition, timeout_ms=10_000, max_records=1))[partition][0]
            assert decode(record.key, record.value, record.headers).id == event.id
    finally:
        await consumer.stop()
    for key in KEYS:
        placed = [ack for event, ack in zip(events, acknowledged, strict=True) if event.key == key]
        assert {ack.partition for ack in placed} == {await partition_of_single_send(infra, topic, key)}
        offsets = [ack.offset for ack in placed]
        assert offsets == sorted(offsets)  # one customer's events keep their order


async def test_a_topic_the_broker_does_not_know_acknowledges_nothing(infra: CommonSettings) -> None:
    publisher = AsyncEventPublisher(infra)
    await publisher.start()
    try:
        with pytest.raises(PartlyAcknowledgedError) as refused:
            await publisher.publish_many(f"test.absent.{uuid.uuid4().hex[:8]}", [interaction(KEYS[0], "hei")])
    finally:
        await publisher.stop()
    assert refused.value.acknowledged == frozenset()


async def test_many_batches_queued_on_one_partition_are_all_sent_within_the_timeout(
    infra: CommonSettings,
) -> None:
    """aiokafka takes one batch per partition at a time and, waiting behind several, counts its timeout
    from the start again at every wait: 48 requests of 1 MB for one partition gave up in about a second."""
    topic = f"test.publisher.{uuid.uuid4().hex[:8]}"
    provision_topics(infra, [TopicSpec(topic, "publisher test", partitions=1, consumed=False)])
    requests = [[interaction(KEYS[0], f"{r}-{n} " + "x" * 6000) for n in range(170)] for r in range(48)]
    publisher = AsyncEventPublisher(infra, expire_undelivered=True)
    await publisher.start()
    try:
        acknowledged = await asyncio.gather(*(publisher.publish_many(topic, events) for events in requests))
    finally:
        await publisher.stop()
    offsets = [ack.offset for acks in acknowledged for ack in acks]
    assert len(set(offsets)) == 48 * 170
