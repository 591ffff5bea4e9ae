"""Ingest's events onto their declared topics through the shared aiokafka publisher."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka.errors import KafkaError

from schemas.envelope import Event
from schemas.feedback import FeedbackReceived
from services.common.kafka.declared import publish_declared
from services.common.kafka.publisher import AsyncEventPublisher, PartlyAcknowledgedError, RecordTooLargeError
from services.ingest.core.intake import IngestPayload
from services.ingest.ports import EventTooLargeError, PublishFailedError


class KafkaEventPublisher:
    def __init__(self, publisher: AsyncEventPublisher) -> None:
        self._publisher = publisher

    async def publish(self, events: Sequence[Event[IngestPayload]]) -> None:
        try:
            await publish_declared(self._publisher, events)
        except RecordTooLargeError as error:
            raise EventTooLargeError(error.position) from None
        except PartlyAcknowledgedError as error:
            raise PublishFailedError(type(error.cause).__name__, error.acknowledged) from None
        except KafkaError as error:
            raise PublishFailedError(type(error).__name__) from None

    async def publish_feedback(self, event: Event[FeedbackReceived]) -> None:
        try:
            await publish_declared(self._publisher, [event])
        except KafkaError as error:
            raise PublishFailedError(type(error).__name__) from None
