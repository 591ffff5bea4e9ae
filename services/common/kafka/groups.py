"""Consumer-group offsets, for operators and tools."""

from __future__ import annotations

from collections.abc import Sequence

from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from services.common.kafka.connection import kafka_python_options
from services.common.settings import CommonSettings


def start_group_at_the_end(settings: CommonSettings, group: str, topics: Sequence[str]) -> None:
    """Commit ``group``'s offsets at the current end of ``topics``: its consumers then see only what is
    published from now on (a benchmark or a test about its own events, a consumer that must skip a
    backlog)."""
    consumer = KafkaConsumer(group_id=group, enable_auto_commit=False, **kafka_python_options(settings))
    try:
        partitions = [
            TopicPartition(topic, partition)
            for topic in topics
            for partition in consumer.partitions_for_topic(topic) or ()
        ]
        consumer.assign(partitions)
        consumer.seek_to_end(*partitions)
        consumer.commit({tp: OffsetAndMetadata(consumer.position(tp), "", -1) for tp in partitions})
    finally:
        consumer.close()
