"""Notify's integration fixtures: a database of its own per test, the real broker, a real SMTP server
(aiosmtpd) that keeps what it accepts and can be told to refuse, the local provider sink for SMS, Meta
and chat, and a clock the test moves."""

from __future__ import annotations

import email
import email.policy
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from pymongo.asynchronous.database import AsyncDatabase

from deploy.local.provider_sink import create_app as create_provider_sink
from services.common.http.testing import serve
from services.common.kafka.dead_letters import SendEmpty
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document
from services.common.settings import CommonSettings
from services.notify.adapters.outbound.kafka_events import KafkaDeadSends, KafkaNotificationFeed
from services.notify.adapters.outbound.mongo_store import MongoNotifyStore
from services.notify.adapters.outbound.survey_links import SignedSurveyLinks
from services.notify.indexes import INDEXES
from services.notify.inject import build_sender
from services.notify.service import NotifyService
from services.notify.settings import NotifySettings
from tests.support.clock import Clock
from tests.support.databases import own_database
from tests.support.network import free_port


@dataclass
class MailServer:
    """A real SMTP server: keeps each accepted message; answers the next DATA commands with the codes in
    ``refusals`` first (``451`` try later, ``550`` no such mailbox)."""

    port: int = 0
    accepted: list[EmailMessage] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    data_commands: int = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.data_commands += 1
        if self.refusals:
            return self.refusals.pop(0)
        content = envelope.original_content or b""
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.accepted.append(parsed)
        return "250 OK"


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    server = MailServer(port=free_port())
    controller = Controller(server, hostname="127.0.0.1", port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@dataclass(frozen=True)
class ProviderSink:
    url: str
    out_dir: Path

    def requests(self, channel: str) -> list[Path]:
        folder = self.out_dir / channel
        return sorted(folder.glob("*.json")) if folder.is_dir() else []


@pytest.fixture
def provider_sink(tmp_path: Path) -> Iterator[ProviderSink]:
    out_dir = tmp_path / "outbox"
    with serve(create_provider_sink(out_dir)) as url:
        yield ProviderSink(url, out_dir)


@pytest.fixture
async def notify_db(infra: CommonSettings) -> AsyncIterator[AsyncDatabase[Document]]:
    async with own_database(infra, "notify-test", INDEXES) as db:
        yield db


@pytest.fixture
def clock() -> Clock:
    return Clock()


def notify_settings(
    infra: CommonSettings, mail_server: MailServer, provider_sink: ProviderSink, **changes: object
) -> NotifySettings:
    values: dict[str, object] = {
        "kafka_bootstrap_servers": infra.kafka_bootstrap_servers,
        "mongodb_uri": infra.mongodb_uri,
        "smtp_port": mail_server.port,
        "sms_base_url": provider_sink.url,
        "meta_base_url": provider_sink.url,
        "chat_callback_url": provider_sink.url,
        "twilio_auth_token": "test-token",
        "meta_page_access_token": "test-page-token",
        "send_attempts": 3,
        "send_retry_initial_seconds": 0.01,
        "send_retry_max_seconds": 0.05,
    }
    return NotifySettings.model_validate(values | changes)


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
def send_empty(publisher: AsyncEventPublisher) -> SendEmpty:
    async def send(topic: str, headers: list[tuple[str, bytes]]) -> None:
        await publisher.publish_empty(topic, headers)

    return send


@dataclass(frozen=True)
class NotifyParts:
    """What a notify service is built from in a test; ``service`` builds one with changed settings."""

    infra: CommonSettings
    db: AsyncDatabase[Document]
    publisher: AsyncEventPublisher
    mail_server: MailServer
    provider_sink: ProviderSink
    http_client: httpx.AsyncClient
    send_empty: SendEmpty
    clock: Clock

    def service(self, **changes: object) -> NotifyService:
        settings = notify_settings(self.infra, self.mail_server, self.provider_sink, **changes)
        return NotifyService(
            MongoNotifyStore(self.db),
            build_sender(settings, self.http_client),
            KafkaNotificationFeed(self.publisher),
            KafkaDeadSends("notify-test", self.send_empty),
            self.clock,
            survey_links=SignedSurveyLinks(settings.survey_url, settings.survey_secret.get_secret_value()),
            rules=settings.rules(),
        )


@pytest.fixture
def notify_parts(  # noqa: PLR0917 - fixtures
    infra: CommonSettings,
    notify_db: AsyncDatabase[Document],
    publisher: AsyncEventPublisher,
    mail_server: MailServer,
    provider_sink: ProviderSink,
    http_client: httpx.AsyncClient,
    send_empty: SendEmpty,
    clock: Clock,
) -> NotifyParts:
    return NotifyParts(
        infra, notify_db, publisher, mail_server, provider_sink, http_client, send_empty, clock
    )


@pytest.fixture
def service(notify_parts: NotifyParts) -> NotifyService:
    return notify_parts.service()
