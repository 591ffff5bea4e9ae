"""Events onto the topics ``schemas.catalog`` declares for their types."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from schemas.catalog import event_type
from schemas.envelope import Event
from services.common.kafka.publisher import AsyncEventPublisher


async def publish_declared(publisher: AsyncEventPublisher, events: Sequence[Event[Any]]) -> None:
    """Publish each event on its type's topic, in order per topic; return once every one is acknowledged
    (aiokafka's ``KafkaError`` when one is not)."""
    by_topic: dict[str, list[Event[Any]]] = {}
    for event in events:
        by_topic.setdefault(event_type(event.type).topic, []).append(event)
    await asyncio.gather(*(publisher.publish_many(topic, batch) for topic, batch in by_topic.items()))
