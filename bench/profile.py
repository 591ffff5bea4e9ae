"""Profile's sustained rate: a worker caught up on the topics, then a burst of mixed events (web activity,
interactions, orders) over many customers published at once; the rate is events until the last one is
on the timeline, beside the database's raw bulk-upsert rate from the same run."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pymongo.asynchronous.collection import AsyncCollection

from bench.report import Figure
from schemas.catalog import event_type_of
from schemas.commerce import OrderRecorded, OrderStatus, WebActivityKind, WebActivityRecorded
from schemas.envelope import Event
from schemas.identifiers import CustomerIdentifier, IdentifierKind, identify
from schemas.interactions import Channel, Direction, InteractionReceived
from services.common.kafka.groups import start_group_at_the_end
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document, create_mongo_client, database
from services.common.settings import CommonSettings
from services.profile.adapters.inbound.worker import PROFILE_TOPICS
from services.profile.core.observe import ProfilePayload
from services.profile.indexes import TIMELINE_COLLECTION
from services.profile.inject import create_worker
from services.profile.settings import ProfileSettings

_AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
# Event ids per timeline lookup while waiting.
_PROBE_IDS = 100


def event_of(payload: ProfilePayload) -> Event[ProfilePayload]:
    return Event[ProfilePayload](
        id=str(uuid.uuid4()),
        source="/bench/profile",
        type=event_type_of(type(payload)).name,
        time=_AT,
        key=payload.identifiers[0].key,
        data=payload,
    )


def mixed(customer: CustomerIdentifier, cookie: CustomerIdentifier, draw: float) -> ProfilePayload:
    if draw < 0.6:
        return WebActivityRecorded(
            kind=WebActivityKind.PAGE_VIEW,
            identifiers=[cookie, customer],
            session_id=f"s-{uuid.uuid4().hex[:8]}",
            url="https://shop.example.no/sko",
            occurred_at=_AT - timedelta(minutes=random.randrange(10_000)),
        )
    if draw < 0.9:
        return InteractionReceived(
            channel=Channel.EMAIL,
            direction=Direction.INBOUND,
            identifiers=[customer],
            subject="Levering",
            text="Hvor er pakken min?",
            occurred_at=_AT - timedelta(minutes=random.randrange(10_000)),
        )
    return OrderRecorded(
        order_id=f"o-{uuid.uuid4().hex[:8]}",
        status=OrderStatus.PLACED,
        identifiers=[customer],
        amount=Decimal("499.00"),
        currency="NOK",
        occurred_at=_AT - timedelta(days=random.randrange(400)),
    )


async def profile_rate(settings: CommonSettings, events: int, customers: int) -> list[Figure]:
    run = uuid.uuid4().hex[:8]
    people = [
        (
            identify(IdentifierKind.EMAIL, f"bench-{run}-{n}@example.no"),
            identify(IdentifierKind.COOKIE, f"cookie-{run}-{n}"),
        )
        for n in range(customers)
    ]
    burst = [event_of(mixed(*random.choice(people), random.random())) for _ in range(events)]
    worker_settings = ProfileSettings(
        kafka_bootstrap_servers=settings.kafka_bootstrap_servers,
        mongodb_uri=settings.mongodb_uri,
        worker_app_id=f"bench-profile-{run}",
        log_level="WARNING",
    )
    start_group_at_the_end(settings, worker_settings.worker_app_id, PROFILE_TOPICS)
    runtime = create_worker(worker_settings, telemetry=False)
    publisher = AsyncEventPublisher(settings)
    client = create_mongo_client(settings)
    timeline = database(client, settings)[TIMELINE_COLLECTION]
    await publisher.start()
    await runtime.app.start()
    try:
        # Caught up: a marker published now is processed after everything already on the topic.
        marker = event_of(mixed(*people[0], 0.95))
        await publisher.publish(event_type_of(type(marker.data)).topic, marker)
        await until_on_timeline(timeline, [marker.id], timeout_s=600)
        started = time.perf_counter()
        by_topic: dict[str, list[Event[ProfilePayload]]] = {}
        for event in burst:
            by_topic.setdefault(event_type_of(type(event.data)).topic, []).append(event)
        await asyncio.gather(*(publisher.publish_many(topic, batch) for topic, batch in by_topic.items()))
        await until_on_timeline(timeline, [event.id for event in burst], timeout_s=600)
        elapsed = time.perf_counter() - started
    finally:
        await runtime.app.stop()
        await runtime.aclose()
        await publisher.stop()
        await client.close()
    return [
        Figure(
            f"profile sustained ({events} mixed events, {customers} customers, publish to timeline)",
            events / elapsed,
            "events/s",
        )
    ]


async def until_on_timeline(timeline: AsyncCollection[Document], ids: list[str], timeout_s: float) -> None:
    """Until every id is on the timeline. Looks up the oldest ones not seen yet, a hundred at a time: an
    ``$in`` costs mongo-java-server time that grows faster than its list (≈ 5 ms for 100 ids, 150-400 ms
    for 1,000), so asking for all of them every poll would load the database the worker writes to."""
    remaining = dict.fromkeys(ids)
    deadline = time.monotonic() + timeout_s
    while remaining:
        if time.monotonic() > deadline:
            raise RuntimeError("profile did not catch up in time")
        probe = list(itertools.islice(remaining, _PROBE_IDS))
        found = {document["_id"] async for document in timeline.find({"_id": {"$in": probe}}, {"_id": 1})}
        for event_id in found:
            del remaining[event_id]
        if not found:
            await asyncio.sleep(0.5)
