"""The composition root of profile: settings → adapters → service → entrypoints."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import faust
import httpx
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI

from services.common.collector import settle_collector
from services.common.connections import ApiConnections, WorkerConnections
from services.common.http import create_app
from services.common.http.role_health import health_server
from services.common.kafka.batches import RetryPolicy, faust_send_empty
from services.common.kafka.connection import aiokafka_options
from services.common.kafka.dead_letters import KafkaDeadLetters
from services.common.kafka.faust_app import create_faust_app
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import create_mongo_client, database
from services.common.telemetry import configure_telemetry
from services.profile.adapters.inbound.card_links_rest import card_links_router
from services.profile.adapters.inbound.card_pages import card_pages_router
from services.profile.adapters.inbound.cases_rest import cases_router
from services.profile.adapters.inbound.integrations_rest import integrations_router
from services.profile.adapters.inbound.merges_rest import merges_router
from services.profile.adapters.inbound.odata_rest import odata_router
from services.profile.adapters.inbound.privacy_rest import privacy_router
from services.profile.adapters.inbound.rest import customers_router
from services.profile.adapters.inbound.webhook_consumer import WEBHOOK_TOPICS, WebhookConsumer
from services.profile.adapters.inbound.webhooks_rest import webhooks_router
from services.profile.adapters.inbound.worker import register_profile_agent, register_refresh_timer
from services.profile.adapters.outbound.customer_cache import CustomerCache
from services.profile.adapters.outbound.kafka_changes import KafkaChangeFeed
from services.profile.adapters.outbound.kafka_requests import KafkaRequestPublisher
from services.profile.adapters.outbound.kafka_tombstones import KafkaTombstones
from services.profile.adapters.outbound.mongo_integrations import MongoIntegrations
from services.profile.adapters.outbound.mongo_odata import MongoODataReader
from services.profile.adapters.outbound.mongo_privacy import MongoPrivacyStore
from services.profile.adapters.outbound.mongo_reader import MongoProfileReader
from services.profile.adapters.outbound.mongo_reviews import MongoReviews
from services.profile.adapters.outbound.mongo_store import MongoProfileStore
from services.profile.adapters.outbound.mongo_webhooks import (
    MongoWebhookDeliveries,
    MongoWebhookSubscriptions,
)
from services.profile.adapters.outbound.webhook_sender import HttpWebhookSender
from services.profile.card import CardService
from services.profile.core.value import ValueConfig
from services.profile.core.webhooks import RetrySchedule
from services.profile.integrations import IntegrationService
from services.profile.odata import ODataService
from services.profile.privacy import PrivacyService
from services.profile.queries import ProfileQueries
from services.profile.refresh import RefreshSweep
from services.profile.requests import ProfileRequests
from services.profile.service import ProfileService
from services.profile.settings import ProfileSettings
from services.profile.webhooks import WebhookAdmin, WebhookDispatcher, WebhookIntake


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class WorkerRuntime:
    """The faust app and what it opens lazily (the async Mongo client binds to the worker's loop)."""

    app: faust.App
    settings: ProfileSettings
    connections: WorkerConnections = field(init=False)

    def __post_init__(self) -> None:
        self.connections = WorkerConnections(self.settings)

    async def service(self) -> ProfileService:
        """A new one each time the agent starts (a service keeps the batch it is finishing)."""
        client, publisher = await self.connections.open()
        db = database(client, self.settings)
        service = ProfileService(
            MongoProfileStore(db, CustomerCache(self.settings.worker_customer_cache_size)),
            KafkaChangeFeed(publisher),
            MongoPrivacyStore(db),
            utc_now,
            identity=self.settings.identity_config(),
            profile=self.settings.profile_config(),
        )
        # The worker is up. With the collector's defaults, full collections of everything it holds took
        # 130-180 ms each, 3.6 s of a 20 s burst.
        settle_collector()
        return service

    async def refresh_sweep(self) -> RefreshSweep:
        client, publisher = await self.connections.open()
        return RefreshSweep(
            MongoProfileStore(database(client, self.settings)),
            KafkaRequestPublisher(publisher),
            utc_now,
            batch=self.settings.refresh_batch_size,
        )

    async def aclose(self) -> None:
        await self.connections.aclose()


def create_worker(settings: ProfileSettings, *, telemetry: bool = True) -> WorkerRuntime:
    if telemetry:
        configure_telemetry(settings)
    app = create_faust_app(settings, settings.worker_app_id)
    runtime = WorkerRuntime(app, settings)
    register_profile_agent(
        app,
        handler_factory=runtime.service,
        dead_letters=KafkaDeadLetters(settings.service_name, faust_send_empty(app)),
        batch_size=settings.worker_batch_size,
        within_seconds=settings.worker_batch_within_seconds,
        retry=RetryPolicy(settings.worker_retry_initial_seconds, settings.worker_retry_max_seconds),
    )
    register_refresh_timer(app, runtime.refresh_sweep, interval_seconds=settings.refresh_interval_seconds)
    return runtime


def create_api(settings: ProfileSettings) -> FastAPI:
    """Profiles, timelines and cases to read; case closes and consent decisions onto Kafka for the
    worker; export and erase."""
    configure_telemetry(settings)
    connections = ApiConnections()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # aiokafka and the async Mongo client bind to the running loop: build them here.
        client = connections.client = create_mongo_client(settings)
        publisher = connections.publisher = AsyncEventPublisher(settings, expire_undelivered=True)
        await publisher.start()
        db = database(client, settings)
        queries = app.state.queries = ProfileQueries(MongoProfileReader(db))
        reviews = app.state.reviews = MongoReviews(db)
        requests = ProfileRequests(queries, reviews, KafkaRequestPublisher(publisher), utc_now)
        app.state.requests = requests
        app.state.privacy = PrivacyService(MongoPrivacyStore(db), KafkaTombstones(publisher))
        app.state.webhooks = WebhookAdmin(
            MongoWebhookSubscriptions(db),
            MongoWebhookDeliveries(db),
            utc_now,
            allow_insecure_urls=settings.webhook_allow_insecure_urls,
        )
        integrations = app.state.integrations = IntegrationService(MongoIntegrations(db), utc_now)
        app.state.cards = CardService(
            queries,
            integrations,
            utc_now,
            master_secret=settings.card_link_secret.get_secret_value().encode(),
            phone_region=settings.default_phone_region,
            default_ttl=timedelta(seconds=settings.card_link_default_ttl_seconds),
            max_ttl=timedelta(seconds=settings.card_link_max_ttl_seconds),
        )
        app.state.odata = ODataService(
            MongoODataReader(
                db, wide_reads=settings.odata_wide_reads, wait_seconds=settings.odata_wide_wait_seconds
            ),
            page_size=settings.odata_page_size,
        )
        try:
            yield
        finally:
            await publisher.stop()
            await client.close()

    return create_app(
        settings,
        title="Helhet profile",
        readiness=connections.readiness(),
        routers=[
            customers_router(settings.default_phone_region),
            cases_router(),
            merges_router(),
            privacy_router(clock=utc_now),
            webhooks_router(),
            integrations_router(),
            odata_router(),
            card_links_router(),
            card_pages_router(
                default_language=settings.card_default_language,
                time_zone=settings.card_time_zone,
                currency=ValueConfig().currency,
            ),
        ],
        lifespan=lifespan,
    )


@dataclass
class WebhookDeliverer:
    """The ``webhooks`` role: the consumer of profiles.v1 and cases.v1 and the dispatcher, in one process
    (its clients bind to the loop ``run`` is awaited on)."""

    settings: ProfileSettings

    async def serve(self) -> None:
        """``run`` until SIGINT or SIGTERM, then close what it opened."""
        main = asyncio.current_task()
        assert main is not None
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, main.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await self.run()

    async def run(self) -> None:
        settings = self.settings
        client = create_mongo_client(settings)
        db = database(client, settings)
        name = f"{settings.service_name}-webhooks"
        publisher = AsyncEventPublisher(settings, client_id=name)
        consumer = AIOKafkaConsumer(
            *WEBHOOK_TOPICS,
            group_id=settings.webhook_group_id,
            enable_auto_commit=False,
            # A new group reads the history too; deliveries go only to subscriptions older than a message.
            auto_offset_reset="earliest",
            **aiokafka_options(settings),
        )
        # Redirects are not followed: a receiver could point us at any host.
        http = httpx.AsyncClient(timeout=settings.webhook_timeout_seconds, follow_redirects=False)
        subscriptions, deliveries = MongoWebhookSubscriptions(db), MongoWebhookDeliveries(db)
        lease = timedelta(seconds=settings.webhook_timeout_seconds * settings.webhook_send_attempts + 30)
        sender = HttpWebhookSender(
            http,
            attempts=settings.webhook_send_attempts,
            total_seconds=(lease - timedelta(seconds=10)).total_seconds(),  # ends before the lease
            allow_loopback=settings.webhook_allow_insecure_urls,
        )
        dispatcher = WebhookDispatcher(
            subscriptions,
            deliveries,
            sender,
            utc_now,
            schedule=RetrySchedule(
                initial=timedelta(seconds=settings.webhook_retry_initial_seconds),
                maximum=timedelta(seconds=settings.webhook_retry_max_seconds),
                give_up_after=timedelta(seconds=settings.webhook_give_up_after_seconds),
            ),
            # Longer than an attempt can take (the sender stops it 10 s before), so a lease never runs
            # out mid-send.
            lease=lease,
            batch_size=settings.webhook_dispatch_batch_size,
            concurrency=settings.webhook_concurrency,
        )

        async def send_empty(topic: str, headers: list[tuple[str, bytes]]) -> None:
            await publisher.publish_empty(topic, headers)

        port = settings.health_port
        health = None if port is None else health_server(settings, "webhooks", port)()
        try:
            if health is not None:
                await health.start()
            await publisher.start()
            await consumer.start()
            intake = WebhookConsumer(
                consumer,
                WebhookIntake(subscriptions, deliveries, MongoPrivacyStore(db), utc_now),
                KafkaDeadLetters(name, send_empty),
                batch_size=settings.webhook_consume_batch_size,
                retry=RetryPolicy(settings.worker_retry_initial_seconds, settings.worker_retry_max_seconds),
            )
            settle_collector()  # up
            async with asyncio.TaskGroup() as group:
                group.create_task(intake.run())
                group.create_task(dispatcher.run(settings.webhook_poll_seconds))
        finally:
            await consumer.stop()
            await publisher.stop()
            await http.aclose()
            await client.close()
            if health is not None:
                await health.stop()


def create_webhook_deliverer(settings: ProfileSettings, *, telemetry: bool = True) -> WebhookDeliverer:
    if telemetry:
        configure_telemetry(settings)
    return WebhookDeliverer(settings)
