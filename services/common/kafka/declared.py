"""Events onto the topics ``schemas.catalog`` declares for their types."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from schemas.catalog import event_type
from schemas.envelope import Event
from services.common.kafka.publisher import AsyncEventPublisher, PartlyAcknowledgedError, RecordTooLargeError


async def publish_declared(publisher: AsyncEventPublisher, events: Sequence[Event[Any]]) -> None:
    """Publish each event on its type's topic, in order per topic; return once every one is acknowledged.

    Every message is encoded and size-checked before any is sent (``RecordTooLargeError``). When
    one is not acknowledged: ``PartlyAcknowledgedError`` (a ``KafkaError``) with the positions in
    ``events`` of those that were."""
    positions: dict[str, list[int]] = {}
    for position, event in enumerate(events):
        positions.setdefault(event_type(event.type).topic, []).append(position)
    records = {}
    for topic, at in positions.items():
        try:
            records[topic] = publisher.records(topic, [events[p] for p in at])
        except RecordTooLargeError as error:
            raise RecordTooLargeError(at[error.position], error.size) from None
    results = await asyncio.gather(
        *(publisher.send_records(topic, batch) for topic, batch in records.items()), return_exceptions=True
    )
    failures = [result for result in results if isinstance(result, BaseException)]
    if not failures:
        return
    acknowledged: set[int] = set()
    for at, result in zip(positions.values(), results, strict=True):
        if not isinstance(result, BaseException):
            acknowledged.update(at)
        elif isinstance(result, PartlyAcknowledgedError):
            acknowledged.update(at[i] for i in result.acknowledged)
    first = failures[0]
    raise PartlyAcknowledgedError(
        frozenset(acknowledged), first.cause if isinstance(first, PartlyAcknowledgedError) else first
    ) from first
