"""The notify worker on the real broker, database and a real SMTP server: a case published on
``cases.v1`` (twice) is acknowledged by exactly one mail, with the queue figures it read from
``queue-stats.v1``; a poison message goes to the dead letters and the next case is still answered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from email.message import EmailMessage

import pytest
from aiokafka import AIOKafkaProducer
from pymongo.asynchronous.database import AsyncDatabase

from schemas.catalog import event_type_of
from schemas.envelope import Event
from schemas.routing import QueueStats
from services.common.kafka.connection import aiokafka_options
from services.common.kafka.groups import start_group_at_the_end
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document
from services.common.settings import CommonSettings
from services.notify.adapters.inbound.worker import NOTIFY_TOPICS
from services.notify.adapters.outbound.mongo_store import MongoNotifyStore
from services.notify.inject import WorkerRuntime, create_worker
from services.notify.settings import NotifySettings
from tests.notify.integration.conftest import MailServer, ProviderSink, notify_settings
from tests.notify.integration.notify_flow import ALWAYS_OPEN, as_event, case_opened, stats
from tests.support.clock import Clock
from tests.support.kafka import dead_letter_of

pytestmark = pytest.mark.integration


@asynccontextmanager
async def running_worker(settings: NotifySettings) -> AsyncIterator[WorkerRuntime]:
    start_group_at_the_end(settings, settings.worker_app_id, NOTIFY_TOPICS)
    runtime = create_worker(settings, telemetry=False)
    await runtime.app.start()
    try:
        yield runtime
    finally:
        await runtime.app.stop()
        await runtime.aclose()


async def until(check: Callable[[], Awaitable[bool]], timeout_s: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.2)


async def test_a_published_case_is_acknowledged_once_and_poison_is_dead_lettered(  # noqa: PLR0917 - fixtures
    infra: CommonSettings,
    notify_db: AsyncDatabase[Document],
    publisher: AsyncEventPublisher,
    mail_server: MailServer,
    provider_sink: ProviderSink,
    clock: Clock,
) -> None:
    store = MongoNotifyStore(notify_db)
    await store.save_calendar_spec("email", ALWAYS_OPEN)
    settings = notify_settings(
        infra,
        mail_server,
        provider_sink,
        mongodb_database=notify_db.name,
        worker_app_id=f"test-notify-{notify_db.name}",
        tick_seconds=0.3,
    )
    opened = case_opened(clock.now, language="en")
    assert opened.contact is not None
    address = opened.contact.identifiers[0].value

    def ours() -> list[EmailMessage]:
        # Other tests' cases on the shared cases.v1 are acknowledged to this server too.
        return [mail for mail in mail_server.accepted if mail["To"] == address]

    figures = stats("email", clock.now, backlog=8, per_hour=4)

    async with running_worker(settings):
        await publisher.publish(
            "queue-stats.v1",
            Event[QueueStats](
                source="/tests/notify",
                type=event_type_of(QueueStats).name,
                time=clock.now,
                key="email",
                data=figures,
            ),
        )
        await until(lambda: _has_stats(store, figures))
        producer = AIOKafkaProducer(acks="all", **aiokafka_options(infra))
        await producer.start()
        try:
            poison = await producer.send_and_wait(
                "cases.v1",
                b'{"case_id": "x", "note": "mail me at kari@example.no"}',
                key=opened.customer_id.encode(),
                headers=[("ce_specversion", b"1.0"), ("ce_type", b"helhet.case.changed.v1")],
            )
        finally:
            await producer.stop()
        await publisher.publish("cases.v1", as_event(opened))
        await publisher.publish("cases.v1", as_event(opened))  # redelivered: sends nothing new

        async def acknowledged() -> bool:
            return len(ours()) >= 1

        await until(acknowledged)
        await asyncio.sleep(1.0)  # time for the duplicate to have been handled

    [mail] = ours()
    assert "received" in f"{mail['Subject']} {mail.get_content()}".lower()
    [send] = await store.sends(opened.case_id)
    assert send.expected_answer is not None
    assert send.expected_answer.said in mail.get_content()  # from the figures the worker consumed
    dead = await dead_letter_of(infra, "cases.v1", poison.partition, poison.offset)
    headers = dict(dead.headers)
    assert headers["dlq_consumer"] == b"notify"
    assert headers["dlq_error_class"] == b"InvalidEventError"
    assert not any(b"kari@example.no" in value for value in headers.values())


async def _has_stats(store: MongoNotifyStore, figures: QueueStats) -> bool:
    return await store.stats(figures.queue) == figures
