"""``publish_declared`` against a stub broker: sizes are checked before anything is sent, and a batch
stored in part says which of the events given were stored, across topics."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import pytest
from aiokafka.errors import KafkaTimeoutError

from schemas.commerce import OrderLine, OrderRecorded, OrderStatus
from schemas.envelope import Event
from schemas.identifiers import IdentifierKind, identify
from schemas.interactions import Channel, Direction, InteractionReceived
from services.common.codec import KafkaRecord
from services.common.kafka.declared import publish_declared
from services.common.kafka.publisher import (
    AsyncEventPublisher,
    PartlyAcknowledgedError,
    RecordTooLargeError,
    records_for,
)
from services.ingest.core.intake import IngestPayload, ingest_event

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
KARI = [identify(IdentifierKind.EMAIL, "kari@example.no")]


def interaction(text: str = "Hei") -> InteractionReceived:
    return InteractionReceived(
        channel=Channel.CHAT, direction=Direction.INBOUND, identifiers=KARI, text=text, occurred_at=NOW
    )


def order(order_id: str) -> OrderRecorded:
    return OrderRecorded(
        order_id=order_id,
        status=OrderStatus.PLACED,
        identifiers=KARI,
        amount=Decimal("10"),
        currency="NOK",
        occurred_at=NOW,
    )


def events(*payloads: IngestPayload) -> list[Event[IngestPayload]]:
    return [ingest_event(p, event_id=f"e{n}", source="/test", now=NOW) for n, p in enumerate(payloads)]


class StubBroker:
    """Encodes like the real publisher; ``refused`` topics fail the messages at these positions."""

    def __init__(self, refused: dict[str, set[int]] | None = None) -> None:
        self.refused = refused or {}
        self.sent: dict[str, list[KafkaRecord]] = {}

    def records(self, topic: str, batch: Sequence[Event[Any]]) -> list[KafkaRecord]:
        return records_for(topic, batch)

    async def send_records(self, topic: str, records: Sequence[KafkaRecord]) -> list[Any]:
        self.sent.setdefault(topic, []).extend(records)
        failing = self.refused.get(topic, set())
        if failing:
            stored = frozenset(set(range(len(records))) - failing)
            raise PartlyAcknowledgedError(stored, KafkaTimeoutError())
        return []


async def test_a_batch_stored_in_part_names_the_stored_events_in_the_order_given() -> None:
    batch = events(interaction(), order("O-1"), interaction(), order("O-2"))
    broker = StubBroker(refused={"orders.v1": {1}})  # the second order (position 3) fails
    with pytest.raises(PartlyAcknowledgedError) as failed:
        await publish_declared(cast(AsyncEventPublisher, broker), batch)
    assert failed.value.acknowledged == {0, 1, 2}
    assert isinstance(failed.value.cause, KafkaTimeoutError)


async def test_a_message_over_the_limit_stops_everything_before_sending() -> None:
    line = OrderLine(sku="S-1", name="\x01" * 300, quantity=1, unit_price=Decimal(1))
    lines = [line] * 1000
    huge = order("O-2").model_copy(update={"items": lines})  # 1000 x 300 x 6 bytes escaped
    batch = events(order("O-1"), interaction("x" * 100), huge)
    broker = StubBroker()
    with pytest.raises(RecordTooLargeError) as refused:
        await publish_declared(cast(AsyncEventPublisher, broker), batch)
    assert refused.value.position == 2
    assert broker.sent == {}
