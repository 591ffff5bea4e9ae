"""Interactions onto ``interactions.v1`` through the shared aiokafka publisher."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka.errors import KafkaError

from schemas.envelope import Event
from schemas.interactions import InteractionReceived
from services.common.kafka.publisher import AsyncEventPublisher
from services.ingest.core.intake import INTERACTIONS_TOPIC
from services.ingest.ports import PublishFailedError


class KafkaInteractionPublisher:
    def __init__(self, publisher: AsyncEventPublisher) -> None:
        self._publisher = publisher

    async def publish_interactions(self, events: Sequence[Event[InteractionReceived]]) -> None:
        if not events:
            return
        try:
            await self._publisher.publish_many(INTERACTIONS_TOPIC, events)
        except KafkaError as error:
            raise PublishFailedError(type(error).__name__) from None
