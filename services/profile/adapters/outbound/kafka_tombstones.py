"""Tombstones on the compacted profile topic: one per erased customer id (key = customer id, value null),
so compaction removes every profile message about the person."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from services.common.kafka.publisher import AsyncEventPublisher

PROFILES_TOPIC = "profiles.v1"


class KafkaTombstones:
    def __init__(self, publisher: AsyncEventPublisher, topic: str = PROFILES_TOPIC) -> None:
        self._publisher = publisher
        self._topic = topic

    async def publish(self, customer_ids: Sequence[str]) -> int:
        """Returns once every tombstone is acknowledged (raises when any is not)."""
        acknowledged = await asyncio.gather(
            *(self._publisher.publish_tombstone(self._topic, customer_id) for customer_id in customer_ids)
        )
        return len(acknowledged)
