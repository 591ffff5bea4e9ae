"""The composition root of notify: settings → adapters → service → entrypoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import faust
import httpx
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from schemas.interactions import Channel
from services.common.connections import ApiConnections, BuiltOnce, WorkerConnections
from services.common.http import create_app
from services.common.kafka.batches import RetryPolicy, faust_send_empty
from services.common.kafka.dead_letters import KafkaDeadLetters, SendEmpty
from services.common.kafka.faust_app import create_faust_app
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document, create_mongo_client, database
from services.common.telemetry import configure_telemetry
from services.notify.adapters.inbound.rest import notify_router
from services.notify.adapters.inbound.worker import register_notify_agents
from services.notify.adapters.outbound.kafka_events import KafkaDeadSends, KafkaNotificationFeed
from services.notify.adapters.outbound.mongo_store import MongoNotifyStore
from services.notify.adapters.outbound.senders import (
    ChannelRouter,
    ChatCallbackSender,
    MetaSendApiSender,
    RetryingSender,
    SmtpSender,
    TwilioSmsSender,
)
from services.notify.adapters.outbound.survey_links import SignedSurveyLinks
from services.notify.ports import Sender
from services.notify.service import NotifyService
from services.notify.settings import NotifySettings


def utc_now() -> datetime:
    """Whole milliseconds, as BSON stores instants: what is stored reads back equal."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def build_sender(settings: NotifySettings, client: httpx.AsyncClient) -> Sender:
    """Every channel's provider behind one sender, each refusal worth retrying retried."""
    meta = MetaSendApiSender(
        settings.meta_base_url, settings.meta_page_access_token.get_secret_value(), client
    )
    chat_token = settings.chat_callback_token
    smtp_password = settings.smtp_password
    channels: dict[Channel, Sender] = {
        Channel.EMAIL: SmtpSender(
            settings.smtp_host,
            settings.smtp_port,
            settings.mail_from,
            timeout=settings.smtp_timeout_seconds,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=smtp_password.get_secret_value() if smtp_password else None,
            ssl_cafile=settings.smtp_ssl_cafile,
        ),
        Channel.SMS: TwilioSmsSender(
            settings.sms_base_url,
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            settings.sms_from,
            client,
        ),
        Channel.MESSENGER: meta,
        Channel.INSTAGRAM: meta,
        Channel.CHAT: ChatCallbackSender(
            settings.chat_callback_url, client, chat_token.get_secret_value() if chat_token else None
        ),
    }
    return RetryingSender(
        ChannelRouter(channels),
        attempts=settings.send_attempts,
        initial_seconds=settings.send_retry_initial_seconds,
        max_seconds=settings.send_retry_max_seconds,
    )


def build_service(
    client: AsyncMongoClient[Document],
    publisher: AsyncEventPublisher,
    sender: Sender,
    send_empty: SendEmpty,
    settings: NotifySettings,
) -> NotifyService:
    return NotifyService(
        MongoNotifyStore(database(client, settings)),
        sender,
        KafkaNotificationFeed(publisher),
        KafkaDeadSends(settings.service_name, send_empty),
        utc_now,
        survey_links=SignedSurveyLinks(settings.survey_url, settings.survey_secret.get_secret_value()),
        rules=settings.rules(),
    )


@dataclass
class WorkerRuntime:
    """The faust app and the service it opens lazily, once (the async clients bind to the worker's loop)."""

    app: faust.App
    settings: NotifySettings
    connections: WorkerConnections = field(init=False)
    _http: httpx.AsyncClient | None = None
    _service: BuiltOnce[NotifyService] = field(init=False)

    def __post_init__(self) -> None:
        self.connections = WorkerConnections(self.settings)
        self._service = BuiltOnce(self._build)

    async def service(self) -> NotifyService:
        return await self._service.get()

    async def _build(self) -> NotifyService:
        client, publisher = await self.connections.open()
        self._http = httpx.AsyncClient(timeout=self.settings.http_timeout_seconds)
        sender = build_sender(self.settings, self._http)
        return build_service(client, publisher, sender, faust_send_empty(self.app), self.settings)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        await self.connections.aclose()
        self._service.forget()


def create_worker(settings: NotifySettings, *, telemetry: bool = True) -> WorkerRuntime:
    if telemetry:
        configure_telemetry(settings)
    app = create_faust_app(settings, settings.worker_app_id)
    runtime = WorkerRuntime(app, settings)
    register_notify_agents(
        app,
        service=runtime.service,
        dead_letters=KafkaDeadLetters(settings.service_name, faust_send_empty(app)),
        batch_size=settings.worker_batch_size,
        within_seconds=settings.worker_batch_within_seconds,
        retry=RetryPolicy(settings.worker_retry_initial_seconds, settings.worker_retry_max_seconds),
        tick_seconds=settings.tick_seconds,
    )
    return runtime


class _NoSends:
    """The API reads and configures; it never sends (the worker does)."""

    async def send(self, message: object) -> int:
        raise RuntimeError("the notify API does not send messages")


def create_api(settings: NotifySettings) -> FastAPI:
    """Calendars to configure; notifications, promises and templates to read."""
    configure_telemetry(settings)
    connections = ApiConnections()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # aiokafka and the async Mongo client bind to the running loop: build them here.
        client = connections.client = create_mongo_client(settings)
        publisher = connections.publisher = AsyncEventPublisher(settings)
        await publisher.start()

        async def no_dead_letters(topic: str, headers: list[tuple[str, bytes]]) -> None:
            raise RuntimeError("the notify API does not send messages")

        app.state.service = build_service(client, publisher, _NoSends(), no_dead_letters, settings)
        try:
            yield
        finally:
            await publisher.stop()
            await client.close()

    return create_app(
        settings,
        title="Helhet notify",
        readiness=connections.readiness(),
        routers=[notify_router()],
        lifespan=lifespan,
    )
