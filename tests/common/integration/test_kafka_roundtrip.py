"""A CloudEvent published to the real broker comes back through a faust agent, validated into its model,
in the same trace."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from schemas.catalog import TopicSpec
from schemas.envelope import Event, Payload
from schemas.interactions import InteractionReceived
from services.common.codec import decode
from services.common.kafka.admin import provision_topics
from services.common.kafka.faust_app import create_faust_app
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.settings import CommonSettings
from services.common.telemetry import context_from_headers

pytestmark = pytest.mark.integration


def an_interaction() -> Event[InteractionReceived]:
    return Event[InteractionReceived](
        source="/tests/roundtrip",
        type="helhet.interaction.received.v1",
        time=datetime.now(UTC),
        key="phone:+4791234567",
        data=InteractionReceived.model_validate(
            {
                "channel": "sms",
                "direction": "inbound",
                "identifiers": [{"kind": "phone", "value": "+47 912 34 567"}],
                "text": "Hei, hvor er pakken min?",
                "occurred_at": datetime.now(UTC),
            }
        ),
    )


async def test_event_crosses_kafka_into_a_faust_agent_with_trace_context(infra: CommonSettings) -> None:
    topic_name = f"test.roundtrip.{uuid.uuid4().hex[:8]}"
    provision_topics(infra, [TopicSpec(topic_name, "roundtrip test", partitions=2, consumed=False)])
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())
    tracer = trace.get_tracer("tests")

    app = create_faust_app(infra, f"test-roundtrip-{uuid.uuid4().hex[:8]}")
    topic = app.topic(topic_name, key_type=bytes, value_type=bytes)
    received: asyncio.Queue[tuple[Event[Payload], int]] = asyncio.Queue()

    @app.agent(topic)
    async def consume(stream):  # type: ignore[no-untyped-def]
        async for message in stream.events():
            headers = list(message.headers.items())
            parent = trace.get_current_span(context_from_headers(headers)).get_span_context()
            await received.put((decode(message.key, message.value, headers), parent.trace_id))

    publisher = AsyncEventPublisher(infra)
    await app.start()
    await publisher.start()
    try:
        sent = an_interaction()
        with tracer.start_as_current_span("test publish") as span:
            acknowledged = await publisher.publish(topic_name, sent)
            trace_id = span.get_span_context().trace_id
        assert acknowledged.topic == topic_name
        decoded, received_trace_id = await asyncio.wait_for(received.get(), timeout=60)
    finally:
        await publisher.stop()
        await app.stop()

    assert decoded == sent
    assert isinstance(decoded.data, InteractionReceived)
    assert decoded.data.identifiers[0].value == "+4791234567"
    assert received_trace_id == trace_id != 0
