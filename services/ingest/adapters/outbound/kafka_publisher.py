"""Ingest's events onto their declared topics through the shared aiokafka publisher."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka.errors import KafkaError

from schemas.catalog import event_type
from schemas.envelope import Event
from services.common.kafka.publisher import AsyncEventPublisher
from services.ingest.core.intake import IngestPayload
from services.ingest.ports import PublishFailedError


class KafkaEventPublisher:
    def __init__(self, publisher: AsyncEventPublisher) -> None:
        self._publisher = publisher

    async def publish(self, events: Sequence[Event[IngestPayload]]) -> None:
        by_topic: dict[str, list[Event[IngestPayload]]] = {}
        for event in events:
            by_topic.setdefault(event_type(event.type).topic, []).append(event)
        try:
            await asyncio.gather(
                *(self._publisher.publish_many(topic, batch) for topic, batch in by_topic.items())
            )
        except KafkaError as error:
            raise PublishFailedError(type(error).__name__) from None
