"""Requests of profile's API onto ``profile-requests.v1``, keyed by customer id."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka.errors import KafkaError

from schemas.envelope import Event
from services.common.kafka.declared import publish_declared
from services.common.kafka.publisher import AsyncEventPublisher
from services.profile.core.observe import ProfileRequest
from services.profile.requests import RequestNotAcceptedError


class KafkaRequestPublisher:
    def __init__(self, publisher: AsyncEventPublisher) -> None:
        self._publisher = publisher

    async def publish(self, event: Event[ProfileRequest]) -> None:
        await self.request([event])

    async def request(self, events: Sequence[Event[ProfileRequest]]) -> None:
        try:
            await publish_declared(self._publisher, events)
        except KafkaError as error:
            raise RequestNotAcceptedError(type(error).__name__) from None
