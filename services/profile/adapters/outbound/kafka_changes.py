"""Case and profile changes and delivered orders onto Kafka (``cases.v1``, ``profiles.v1``,
``deliveries.v1``), keyed by customer id."""

from __future__ import annotations

from collections.abc import Sequence

from services.common.kafka.declared import publish_declared
from services.common.kafka.publisher import AsyncEventPublisher
from services.profile.ports import Outgoing


class KafkaChangeFeed:
    def __init__(self, publisher: AsyncEventPublisher) -> None:
        self._publisher = publisher

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        await publish_declared(self._publisher, messages)
