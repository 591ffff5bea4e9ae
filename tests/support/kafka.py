"""Reading what landed on a topic, and what a group committed, for tests."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from kafka import KafkaAdminClient

from schemas.catalog import DLQ_SUFFIX
from schemas.envelope import Event, Payload
from services.common.codec import InvalidEventError, decode
from services.common.kafka.connection import aiokafka_options, kafka_python_options
from services.common.settings import CommonSettings


async def events_on(
    settings: CommonSettings, topic: str, *, wanted: int, timeout_s: float = 20.0
) -> list[Event[Payload]]:
    """Every event on ``topic`` (from the beginning), read until ``wanted`` match or the time is up."""
    consumer = AIOKafkaConsumer(
        topic,
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **aiokafka_options(settings),
    )
    await consumer.start()
    events: list[Event[Payload]] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    # Other tests' poison messages share the topics: they are not events to read.
                    with contextlib.suppress(InvalidEventError):
                        events.append(decode(record.key, record.value, record.headers))
            if len(events) >= wanted and not batches:
                break
    finally:
        await consumer.stop()
    return events


async def dead_letter_of(
    infra: CommonSettings, topic: str, partition: int, offset: int
) -> ConsumerRecord[bytes, bytes]:
    """The dead letter of the message at ``topic[partition]@offset`` (fails when none arrives)."""
    consumer = AIOKafkaConsumer(
        topic + DLQ_SUFFIX,
        group_id=f"test-dlq-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **aiokafka_options(infra),
    )
    await consumer.start()
    try:
        for _ in range(60):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    headers = dict(record.headers)
                    if (
                        headers.get("dlq_original_partition") == str(partition).encode()
                        and headers.get("dlq_original_offset") == str(offset).encode()
                    ):
                        return record
    finally:
        await consumer.stop()
    raise AssertionError("no dead letter for the poison message")


def committed(settings: CommonSettings, group: str, topic: str) -> int:
    """The sum of the offsets ``group`` committed on ``topic``'s partitions."""
    admin = KafkaAdminClient(**kafka_python_options(settings))
    try:
        offsets = admin.list_group_offsets({group: None})[group]
    finally:
        admin.close()
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic)
