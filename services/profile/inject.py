"""The composition root of profile: settings → adapters → service → entrypoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import faust
from fastapi import FastAPI

from services.common.connections import ApiConnections, WorkerConnections
from services.common.http import create_app
from services.common.kafka.batches import RetryPolicy, faust_send_empty
from services.common.kafka.dead_letters import KafkaDeadLetters
from services.common.kafka.faust_app import create_faust_app
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import create_mongo_client, database
from services.common.telemetry import configure_telemetry
from services.profile.adapters.inbound.cases_rest import cases_router
from services.profile.adapters.inbound.merges_rest import merges_router
from services.profile.adapters.inbound.privacy_rest import privacy_router
from services.profile.adapters.inbound.rest import customers_router
from services.profile.adapters.inbound.worker import register_profile_agent
from services.profile.adapters.outbound.kafka_changes import KafkaChangeFeed
from services.profile.adapters.outbound.kafka_requests import KafkaRequestPublisher
from services.profile.adapters.outbound.kafka_tombstones import KafkaTombstones
from services.profile.adapters.outbound.mongo_privacy import MongoPrivacyStore
from services.profile.adapters.outbound.mongo_reader import MongoProfileReader
from services.profile.adapters.outbound.mongo_reviews import MongoReviews
from services.profile.adapters.outbound.mongo_store import MongoProfileStore
from services.profile.core.identity import IdentityConfig
from services.profile.privacy import PrivacyService
from services.profile.queries import ProfileQueries
from services.profile.requests import ProfileRequests
from services.profile.service import ProfileService
from services.profile.settings import ProfileSettings


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
        client, publisher = await self.connections.open()
        db = database(client, self.settings)
        return ProfileService(
            MongoProfileStore(db),
            KafkaChangeFeed(publisher),
            MongoPrivacyStore(db),
            utc_now,
            identity=IdentityConfig(blocked_keys=self.settings.blocked_identifier_keys),
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
        ],
        lifespan=lifespan,
    )
