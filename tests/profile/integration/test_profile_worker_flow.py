"""The profile worker against the real broker and database: events published on Kafka appear in the
profile, a replay from offset 0 changes nothing, and a poison message is dead-lettered while the next
good message is still processed."""

from __future__ import annotations

import gc
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaProducer
from pymongo.asynchronous.database import AsyncDatabase

from schemas.customers import CustomerView, LifecycleStage, ProfileChanged, Tier
from schemas.envelope import Event
from schemas.identifiers import IdentifierKind
from services.common.kafka.connection import aiokafka_options
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document
from services.common.settings import CommonSettings
from services.profile.core.observe import ProfilePayload
from services.profile.indexes import CUSTOMERS_COLLECTION, LINKS_COLLECTION, TIMELINE_COLLECTION
from tests.profile.integration.profile_flow import (
    customers_of,
    eventually,
    fresh,
    fresh_email,
    fresh_phone,
    interaction,
    on_timeline,
    order,
    page_view,
    running_worker,
    state_hash,
    topic_of,
    worker_settings,
)
from tests.support.kafka import dead_letter_of

pytestmark = pytest.mark.integration


async def publish(publisher: AsyncEventPublisher, events: list[Event[ProfilePayload]]) -> None:
    for event in events:
        await publisher.publish(topic_of(event), event)


async def test_a_worker_whose_service_is_up_settles_the_collector(infra: CommonSettings) -> None:
    """With the collector's defaults, full collections of what a worker holds took 130-180 ms each."""
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        async with running_worker(worker_settings(infra, "test-profile-collector")) as runtime:
            await runtime.service()
            assert gc.get_threshold()[0] >= 10_000
    finally:
        gc.set_threshold(*before)


async def test_events_on_kafka_appear_in_the_profile_and_a_replay_from_offset_0_changes_nothing(
    infra: CommonSettings, db: AsyncDatabase[Document], publisher: AsyncEventPublisher
) -> None:
    email, phone, cookie = fresh_email(), fresh_phone(), fresh(IdentifierKind.COOKIE)
    events = [
        interaction(email, phone),
        order(email, amount="1499.00"),
        page_view(cookie, email),
        interaction(phone, text="Takk for hjelpen"),
    ]
    keys = [email.key, phone.key, cookie.key]
    ids = [event.id for event in events]
    await publish(publisher, events)

    async with running_worker(worker_settings(infra)):
        await eventually(lambda: on_timeline(db, ids), what="the events on the timeline")

    [customer_id] = await customers_of(db, keys)
    customer = await db[CUSTOMERS_COLLECTION].find_one({"_id": customer_id})
    assert customer is not None
    assert customer["summary"]["historic_value"] == "1499.00"
    assert customer["summary"]["preferred_channel"] == "email"
    assert customer["summary"]["language"] == "nb"
    assert {i["value"] for i in customer["identifiers"]} == {email.value, phone.value, cookie.value}
    assert await db[TIMELINE_COLLECTION].count_documents({"customer_id": customer_id}) == len(events)
    link = await db[LINKS_COLLECTION].find_one({"_id": email.key})
    assert link is not None
    # Provenance: the events travel on three topics, so any of those carrying the email may link it first.
    linking = {
        event.id: channel for event, channel in zip(events, ["email", "order", "web", "email"], strict=True)
    }
    assert linking[link["event_id"]] == link["channel"]
    assert link["event_id"] != events[3].id  # that one carries no email
    before = await state_hash(db, keys, ids)

    # The same events again (a producer retry), then a new consumer group reading every topic from 0.
    await publish(publisher, events)
    # Markers behind them on the same partitions (same Kafka keys): once these are in, so is the replay.
    markers = [interaction(fresh_email(), key=event.key) for event in events]
    for marker, event in zip(markers, events, strict=True):
        await publisher.publish(topic_of(event), marker)
    async with running_worker(worker_settings(infra)):
        await eventually(lambda: on_timeline(db, [m.id for m in markers]), what="the markers")

    assert await state_hash(db, keys, ids) == before


async def test_a_poison_message_is_dead_lettered_and_the_next_good_one_is_processed(
    infra: CommonSettings, db: AsyncDatabase[Document], publisher: AsyncEventPublisher
) -> None:
    email = fresh_email()
    producer = AIOKafkaProducer(acks="all", **aiokafka_options(infra))
    await producer.start()
    try:
        # Personal data in a message that is not a CloudEvent: it must not travel to the dead letters.
        poison = await producer.send_and_wait(
            "interactions.v1",
            b'{"text": "ring meg p\xc3\xa5 +4791234567"}',
            key=email.key.encode(),
            headers=[("ce_specversion", b"1.0"), ("ce_type", b"helhet.interaction.received.v1")],
        )
    finally:
        await producer.stop()
    good = interaction(email)
    await publisher.publish("interactions.v1", good)

    async with running_worker(worker_settings(infra)):
        await eventually(lambda: on_timeline(db, [good.id]), what="the good message")

    dead = await dead_letter_of(infra, "interactions.v1", poison.partition, poison.offset)
    headers = dict(dead.headers)
    assert headers["dlq_original_topic"] == b"interactions.v1"
    assert headers["dlq_error_class"] == b"InvalidEventError"
    assert dead.value in (None, b"")
    assert dead.key is None
    assert not any(b"4791234567" in value or email.value.encode() in value for value in headers.values())


async def test_an_event_profile_does_not_consume_is_dead_lettered_not_applied(
    infra: CommonSettings, db: AsyncDatabase[Document], publisher: AsyncEventPublisher
) -> None:
    """A valid CloudEvent of another type on a consumed topic (a producer's mistake) is refused whole."""
    view = CustomerView(
        customer_id="someone",
        tier=Tier.STANDARD,
        historic_value=Decimal(0),
        predicted_lifetime_value=Decimal(0),
        lifecycle=LifecycleStage.PROSPECT,
        needs_recovery=False,
        as_of=datetime.now(UTC),
    )
    stray = Event[ProfileChanged](
        source="/tests/stray",
        type="helhet.profile.changed.v1",
        time=datetime.now(UTC),
        key="someone",
        data=ProfileChanged(customer=view),
    )
    placed = await publisher.publish("interactions.v1", stray)
    good = interaction(fresh_email())
    await publisher.publish("interactions.v1", good)

    async with running_worker(worker_settings(infra)):
        await eventually(lambda: on_timeline(db, [good.id]), what="the good message")

    dead = await dead_letter_of(infra, "interactions.v1", placed.partition, placed.offset)
    headers = dict(dead.headers)
    assert headers["dlq_error_class"] == b"InvalidEventError"
    assert headers["dlq_error_reason"] == b"helhet.profile.changed.v1 is not an event this consumer takes"
    assert await db[TIMELINE_COLLECTION].find_one({"_id": stray.id}) is None
