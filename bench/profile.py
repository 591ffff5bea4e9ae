"""Profile's sustained rate: a worker (a process of its own, as deployed) caught up on the topics, then a
burst of mixed events (web activity, interactions, orders) over many customers published at once; the
rate is events until the last one is on the timeline, beside the database's raw bulk-upsert rate from
the same run and the CPU of the worker, database and broker processes."""

from __future__ import annotations

import asyncio
import itertools
import random
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from aiokafka import AIOKafkaProducer
from pymongo.asynchronous.collection import AsyncCollection

from bench.cpu import cpu_shares, platform_pids
from bench.own_profile import running_role
from bench.report import Figure
from schemas.catalog import event_type_of
from schemas.commerce import OrderRecorded, OrderStatus, WebActivityKind, WebActivityRecorded
from schemas.envelope import Event
from schemas.identifiers import CustomerIdentifier, IdentifierKind, identify
from schemas.interactions import Channel, Direction, InteractionReceived
from services.common.codec import KafkaRecord, encode
from services.common.kafka.connection import aiokafka_options
from services.common.kafka.groups import start_group_at_the_end
from services.common.mongo import Document, create_mongo_client, database
from services.common.settings import CommonSettings
from services.profile.adapters.inbound.worker import PROFILE_TOPICS
from services.profile.core.observe import ProfilePayload
from services.profile.indexes import TIMELINE_COLLECTION

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
    burst = by_topic([event_of(mixed(*random.choice(people), random.random())) for _ in range(events)])
    # Encoded before the clock starts: this process publishes, the worker is a process of its own (as
    # deployed), and only the worker's work is measured.
    records = {topic: [encode(event) for event in batch] for topic, batch in burst.items()}
    producer = AIOKafkaProducer(acks="all", linger_ms=5, **aiokafka_options(settings))
    client = create_mongo_client(settings)
    timeline = database(client, settings)[TIMELINE_COLLECTION]
    await producer.start()
    try:
        with running_worker(settings, f"bench-profile-{run}") as worker:
            # Caught up: a marker published now is processed after everything already on the topic.
            marker = event_of(mixed(*people[0], 0.95))
            await send_all(producer, {event_type_of(type(marker.data)).topic: [encode(marker)]})
            await until_on_timeline(timeline, [marker.id], timeout_s=600)
            label = f"profile sustained ({events} mixed events, {customers} customers)"
            with cpu_shares(label, {"profile worker": worker.pid, **platform_pids()}) as cpu:
                started = time.perf_counter()
                await send_all(producer, records)
                await until_on_timeline(
                    timeline, [event.id for batch in burst.values() for event in batch], timeout_s=600
                )
                elapsed = time.perf_counter() - started
    finally:
        await producer.stop()
        await client.close()
    return [Figure(f"{label}, publish to timeline", events / elapsed, "events/s"), *cpu.figures()]


async def send_all(producer: AIOKafkaProducer, records: dict[str, list[KafkaRecord]]) -> None:
    """Send and wait until the broker acknowledged every record."""
    sent = [
        await producer.send(topic, record.value, key=record.key, headers=record.headers)
        for topic, batch in records.items()
        for record in batch
    ]
    await asyncio.gather(*sent)


@contextmanager
def running_worker(settings: CommonSettings, group: str) -> Iterator[subprocess.Popen[bytes]]:
    """``services.profile.main worker`` in group ``group``, which starts at the current end of the topics
    (earlier benchmarks' events are not this one's business)."""
    start_group_at_the_end(settings, group, PROFILE_TOPICS)
    with running_role(settings, "worker", HELHET_WORKER_APP_ID=group) as process:
        yield process


def by_topic(events: Sequence[Event[ProfilePayload]]) -> dict[str, list[Event[ProfilePayload]]]:
    topics: dict[str, list[Event[ProfilePayload]]] = {}
    for event in events:
        topics.setdefault(event_type_of(type(event.data)).topic, []).append(event)
    return topics


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
