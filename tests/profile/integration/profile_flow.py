"""Helpers for profile's integration tests: events with fresh identifiers (and routing's assignment
changes, notify's notifications and customers' survey answers), a running worker, and a hash of everything
stored about a set of customers."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo.asynchronous.database import AsyncDatabase

from schemas.cases import CaseCategory
from schemas.catalog import TOPICS, event_type_of
from schemas.commerce import OrderRecorded, OrderStatus, WebActivityKind, WebActivityRecorded
from schemas.customers import Tier
from schemas.envelope import Event, Payload
from schemas.feedback import FeedbackReceived
from schemas.identifiers import CustomerIdentifier, IdentifierKind, identify
from schemas.interactions import Channel, Direction, InteractionReceived
from schemas.notifications import (
    ExpectedAnswer,
    ExpectedAnswerKind,
    MessageKind,
    NotificationChanged,
    NotificationStatus,
)
from schemas.routing import AssignmentChange, AssignmentChanged
from services.common.codec import decode
from services.common.kafka.connection import aiokafka_options
from services.common.mongo import Document
from services.common.settings import CommonSettings
from services.profile.core.observe import ProfilePayload
from services.profile.indexes import CUSTOMERS_COLLECTION, LINKS_COLLECTION, TIMELINE_COLLECTION
from services.profile.inject import WorkerRuntime, create_worker
from services.profile.settings import ProfileSettings

AT = datetime(2026, 11, 2, 9, 30, 15, 123456, tzinfo=UTC)


def fresh_email() -> CustomerIdentifier:
    return identify(IdentifierKind.EMAIL, f"kunde-{uuid.uuid4().hex[:12]}@example.no")


def fresh_phone() -> CustomerIdentifier:
    # Norwegian mobile numbers: 4 or 9 then seven digits.
    return identify(IdentifierKind.PHONE, f"+479{uuid.uuid4().int % 10_000_000:07d}")


def fresh(kind: IdentifierKind) -> CustomerIdentifier:
    return identify(kind, f"{kind.value}-{uuid.uuid4().hex[:12]}")


def envelope(
    payload: ProfilePayload, *, key: str | None = None, event_id: str | None = None
) -> Event[ProfilePayload]:
    return Event[ProfilePayload](
        id=event_id or str(uuid.uuid4()),
        source="/tests/profile",
        type=event_type_of(type(payload)).name,
        time=AT,
        key=key or payload.identifiers[0].key,
        data=payload,
    )


def interaction(
    *identifiers: CustomerIdentifier,
    text: str = "Hei, hvor er pakken min?",
    at: datetime = AT,
    key: str | None = None,
) -> Event[ProfilePayload]:
    payload = InteractionReceived(
        channel=Channel.EMAIL,
        direction=Direction.INBOUND,
        identifiers=list(identifiers),
        subject="Pakke",
        text=text,
        language_hint="nb",
        occurred_at=at,
    )
    return envelope(payload, key=key)


def order(
    *identifiers: CustomerIdentifier, amount: str = "1499.00", at: datetime = AT, currency: str = "NOK"
) -> Event[ProfilePayload]:
    payload = OrderRecorded(
        order_id=f"order-{uuid.uuid4().hex[:8]}",
        status=OrderStatus.PLACED,
        identifiers=list(identifiers),
        amount=Decimal(amount),
        currency=currency,
        occurred_at=at - timedelta(days=3),
    )
    return envelope(payload)


def page_view(
    *identifiers: CustomerIdentifier, at: datetime = AT, session: str | None = None
) -> Event[ProfilePayload]:
    payload = WebActivityRecorded(
        kind=WebActivityKind.PAGE_VIEW,
        identifiers=list(identifiers),
        session_id=session or f"session-{uuid.uuid4().hex[:8]}",
        url="https://shop.example.no/sko",
        occurred_at=at - timedelta(hours=1),
    )
    return envelope(payload)


def assigned(
    customer_id: str,
    case_id: str,
    change: AssignmentChange,
    agent_id: str | None,
    at: datetime,
    *,
    event_id: str | None = None,
) -> Event[AssignmentChanged]:
    """Routing's change of a case, as it travels on ``assignments.v1`` (keyed by customer id)."""
    payload = AssignmentChanged(
        change=change,
        case_id=case_id,
        customer_id=customer_id,
        queue="email",
        channel=Channel.EMAIL,
        category=CaseCategory.SHIPPING,
        tier=Tier.STANDARD,
        offer_id=None if agent_id is None else f"offer-{case_id}-{agent_id}",
        agent_id=agent_id,
        waiting_since=at - timedelta(minutes=10),
        occurred_at=at,
    )
    return Event[AssignmentChanged](
        id=event_id or f"{case_id}:{change.value}:{uuid.uuid4().hex[:8]}",
        source="/routing",
        type=event_type_of(AssignmentChanged).name,
        time=at,
        key=customer_id,
        data=payload,
    )


def notified(
    customer_id: str,
    case_id: str | None,
    at: datetime,
    *,
    notification_id: str | None = None,
    kind: MessageKind = MessageKind.ACKNOWLEDGEMENT,
    status: NotificationStatus = NotificationStatus.SENT,
    reason: str | None = None,
    promised: bool = True,
    attempts: int = 1,
    event_id: str | None = None,
) -> Event[NotificationChanged]:
    """Notify's message to a customer, as it travels on ``notifications.v1`` (keyed by customer id)."""
    sent_id = notification_id or f"{kind.value}:{case_id}:{uuid.uuid4().hex[:8]}"
    payload = NotificationChanged(
        notification_id=sent_id,
        case_id=case_id,
        customer_id=customer_id,
        kind=kind,
        channel=Channel.EMAIL,
        language="nb",
        status=status,
        reason=reason,
        subject="Vi har mottatt henvendelsen din",
        text="Hei! Takk for henvendelsen. Du får svar innen cirka 2-4 timer.",
        expected_answer=ExpectedAnswer(
            kind=ExpectedAnswerKind.WITHIN,
            earliest=at + timedelta(hours=2),
            latest=at + timedelta(hours=4),
            said="innen cirka 2-4 timer",
        )
        if promised
        else None,
        promise_id=f"promise-{sent_id}" if promised else None,
        attempts=attempts,
        occurred_at=at,
    )
    return Event[NotificationChanged](
        id=event_id or f"{sent_id}:{status.value}:{uuid.uuid4().hex[:8]}",
        source="/notify",
        type=event_type_of(NotificationChanged).name,
        time=at,
        key=customer_id,
        data=payload,
    )


def answered(
    customer_id: str,
    case_id: str | None,
    rating: int,
    at: datetime,
    *,
    comment: str | None = "Pakken har fortsatt ikke kommet",
    survey_id: str | None = None,
    order_id: str | None = None,
) -> Event[FeedbackReceived]:
    """A customer's survey answer about a case (or, with ``order_id``, a delivery), as ingest publishes it
    on ``feedback.v1`` (keyed by customer id)."""
    survey = survey_id or f"survey-{case_id or order_id}-{uuid.uuid4().hex[:8]}"
    payload = FeedbackReceived(
        survey_id=survey,
        case_id=case_id,
        order_id=order_id,
        customer_id=customer_id,
        rating=rating,
        comment=comment,
        occurred_at=at,
    )
    return Event[FeedbackReceived](
        id=f"answer:{survey}",
        source="/ingest/feedback",
        type=event_type_of(FeedbackReceived).name,
        time=at,
        key=customer_id,
        data=payload,
    )


def topic_of(event: Event[ProfilePayload]) -> str:
    return event_type_of(type(event.data)).topic


def worker_settings(infra: CommonSettings, app_id: str | None = None) -> ProfileSettings:
    return ProfileSettings(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        mongodb_uri=infra.mongodb_uri,
        worker_app_id=app_id or f"test-profile-{uuid.uuid4().hex[:8]}",
        worker_batch_size=200,
        worker_batch_within_seconds=0.2,
    )


@asynccontextmanager
async def running_worker(settings: ProfileSettings) -> AsyncIterator[WorkerRuntime]:
    runtime = create_worker(settings, telemetry=False)
    await runtime.app.start()
    try:
        yield runtime
    finally:
        await runtime.app.stop()
        await runtime.aclose()


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout_s: float = 60.0, what: str = ""
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or 'the condition'}")
        await asyncio.sleep(0.2)


async def on_timeline(db: AsyncDatabase[Document], event_ids: Collection[str]) -> bool:
    found = await db[TIMELINE_COLLECTION].count_documents({"_id": {"$in": list(event_ids)}})
    return found == len(set(event_ids))


async def customers_of(db: AsyncDatabase[Document], keys: Collection[str]) -> set[str]:
    cursor = db[LINKS_COLLECTION].find({"_id": {"$in": list(keys)}}, {"customer_id": 1})
    return {link["customer_id"] async for link in cursor}


async def state_hash(db: AsyncDatabase[Document], keys: Collection[str], event_ids: Collection[str]) -> str:
    """Every stored document about these identifiers' customers and these events, hashed."""
    customer_ids = await customers_of(db, keys)
    parts: dict[str, list[Any]] = {}
    queries = {
        LINKS_COLLECTION: {"customer_id": {"$in": list(customer_ids)}},
        CUSTOMERS_COLLECTION: {"_id": {"$in": list(customer_ids)}},
        TIMELINE_COLLECTION: {
            "$or": [{"_id": {"$in": list(event_ids)}}, {"customer_id": {"$in": list(customer_ids)}}]
        },
    }
    for collection, query in queries.items():
        parts[collection] = [document async for document in db[collection].find(query).sort("_id", 1)]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


async def published(
    settings: CommonSettings, topic: str, key: str, *, at_least: int = 0
) -> list[Event[Payload]]:
    """Every message on ``topic`` keyed ``key``, from the beginning to the current end (waiting a little
    when fewer than ``at_least`` are there yet)."""
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **aiokafka_options(settings))
    await consumer.start()
    try:
        [spec] = [spec for spec in TOPICS if spec.name == topic]
        partitions = [TopicPartition(topic, partition) for partition in range(spec.partitions)]
        consumer.assign(partitions)
        found: list[Event[Payload]] = []
        for _ in range(20):
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            found = []
            while [p for p in partitions if await consumer.position(p) < ends[p]]:
                for records in (await consumer.getmany(*partitions, timeout_ms=500)).values():
                    found += [decode(r.key, r.value, r.headers) for r in records if r.key == key.encode()]
            if len(found) >= at_least:
                return found
            await asyncio.sleep(0.5)
        return found
    finally:
        await consumer.stop()


def just_now() -> datetime:
    """Now at the store's precision (milliseconds), so it compares exactly with what is read back; never
    after the worker's clock when it applies it (an experience from the future would not count yet)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
