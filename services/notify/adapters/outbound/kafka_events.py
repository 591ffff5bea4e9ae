"""What notify tells onto Kafka: each message sent or failed on ``notifications.v1`` (keyed by customer
id), and each message no provider would take on ``notifications.v1.dlq`` (its key and the refusal code,
never its text or address)."""

from __future__ import annotations

from collections.abc import Sequence

from schemas.catalog import DLQ_SUFFIX
from schemas.envelope import Event
from schemas.notifications import NotificationChanged
from services.common.kafka.dead_letters import SendEmpty
from services.common.kafka.declared import publish_declared
from services.common.kafka.publisher import AsyncEventPublisher
from services.notify.ports import SendError

NOTIFICATIONS = "notifications.v1"


class KafkaNotificationFeed:
    def __init__(self, publisher: AsyncEventPublisher) -> None:
        self._publisher = publisher

    async def publish(self, events: Sequence[Event[NotificationChanged]]) -> None:
        await publish_declared(self._publisher, events)


class KafkaDeadSends:
    def __init__(self, consumer: str, send_empty: SendEmpty) -> None:
        self._consumer = consumer
        self._send_empty = send_empty

    async def send(self, send_key: str, error: SendError) -> None:
        headers = [
            ("dlq_consumer", self._consumer.encode()),
            # The send key names events and cases by id only: no address, no text.
            ("dlq_send_key", send_key.encode()),
            ("dlq_error_class", type(error).__name__.encode()),
            ("dlq_error_reason", error.code.encode()),
        ]
        await self._send_empty(NOTIFICATIONS + DLQ_SUFFIX, headers)
