"""Assignment changes onto ``assignments.v1`` (keyed by customer id) and queue figures onto
``queue-stats.v1`` (keyed by queue)."""

from __future__ import annotations

from collections.abc import Sequence

from schemas.catalog import event_type_of
from schemas.envelope import Event
from schemas.routing import AssignmentChanged, QueueStats
from services.common.kafka.declared import publish_declared
from services.common.kafka.publisher import AsyncEventPublisher


class KafkaAssignmentFeed:
    def __init__(self, publisher: AsyncEventPublisher) -> None:
        self._publisher = publisher

    async def publish(self, events: Sequence[Event[AssignmentChanged]]) -> None:
        await publish_declared(self._publisher, events)


class KafkaStatsFeed:
    def __init__(self, publisher: AsyncEventPublisher) -> None:
        self._publisher = publisher

    async def publish_stats(self, stats: Sequence[QueueStats]) -> None:
        kind = event_type_of(QueueStats).name
        await publish_declared(
            self._publisher,
            [
                Event[QueueStats](
                    source="/routing",
                    type=kind,
                    subject=each.queue,
                    time=each.as_of,
                    key=each.queue,
                    data=each,
                )
                for each in stats
            ],
        )
