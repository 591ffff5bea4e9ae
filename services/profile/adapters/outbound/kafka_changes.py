"""Case and profile changes onto Kafka (``cases.v1``, ``profiles.v1``), keyed by customer id."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from schemas.envelope import Event
from services.common.kafka.publisher import AsyncEventPublisher
from services.profile.ports import Outgoing


class KafkaChangeFeed:
    def __init__(self, publisher: AsyncEventPublisher) -> None:
        self._publisher = publisher

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        by_topic: dict[str, list[Event[Any]]] = {}
        for message in messages:
            by_topic.setdefault(message.topic, []).append(message.event)
        await asyncio.gather(*(self._publisher.publish_many(t, events) for t, events in by_topic.items()))
