"""The composition root of routing: settings → adapters → service → entrypoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from math import ceil

import faust
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from services.common.connections import ApiConnections, BuiltOnce, WorkerConnections
from services.common.http import create_app
from services.common.kafka.batches import RetryPolicy, faust_send_empty
from services.common.kafka.dead_letters import KafkaDeadLetters
from services.common.kafka.faust_app import create_faust_app
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document, create_mongo_client, database
from services.common.telemetry import configure_telemetry
from services.routing.adapters.inbound.agents_rest import agents_router
from services.routing.adapters.inbound.dashboard_rest import dashboard_router
from services.routing.adapters.inbound.queues_rest import queues_router
from services.routing.adapters.inbound.worker import register_routing_agents
from services.routing.adapters.outbound.kafka_events import KafkaAssignmentFeed, KafkaStatsFeed
from services.routing.adapters.outbound.mongo_store import MongoRoutingStore
from services.routing.dashboard import Dashboard
from services.routing.queries import RoutingQueries
from services.routing.service import RoutingService
from services.routing.settings import RoutingSettings


def utc_now() -> datetime:
    """Whole milliseconds, as BSON stores instants: an answer and its retry then show the same times."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@dataclass
class WorkerRuntime:
    """The faust app and the service it opens lazily, once (the async clients bind to the worker's loop)."""

    app: faust.App
    settings: RoutingSettings
    connections: WorkerConnections = field(init=False)
    _service: BuiltOnce[RoutingService] = field(init=False)

    def __post_init__(self) -> None:
        self.connections = WorkerConnections(self.settings)
        self._service = BuiltOnce(self._build)

    async def service(self) -> RoutingService:
        return await self._service.get()

    async def _build(self) -> RoutingService:
        client, publisher = await self.connections.open()
        return build_service(client, publisher, self.settings)

    async def aclose(self) -> None:
        await self.connections.aclose()
        self._service.forget()


def build_service(
    client: AsyncMongoClient[Document], publisher: AsyncEventPublisher, settings: RoutingSettings
) -> RoutingService:
    store = MongoRoutingStore(database(client, settings))
    return RoutingService(
        store,
        KafkaAssignmentFeed(publisher),
        KafkaStatsFeed(publisher),
        utc_now,
        rules=settings.rules(),
        agents_fresh_for=settings.agents_fresh_for_seconds,
    )


def create_worker(settings: RoutingSettings, *, telemetry: bool = True) -> WorkerRuntime:
    if telemetry:
        configure_telemetry(settings)
    app = create_faust_app(settings, settings.worker_app_id)
    runtime = WorkerRuntime(app, settings)
    register_routing_agents(
        app,
        service=runtime.service,
        dead_letters=KafkaDeadLetters(settings.service_name, faust_send_empty(app)),
        batch_size=settings.worker_batch_size,
        within_seconds=settings.worker_batch_within_seconds,
        retry=RetryPolicy(settings.worker_retry_initial_seconds, settings.worker_retry_max_seconds),
        tick_seconds=settings.tick_seconds,
        stats_every_ticks=max(1, ceil(settings.stats_every_seconds / settings.tick_seconds)),
    )
    return runtime


def create_api(settings: RoutingSettings) -> FastAPI:
    """Agents, presence and answers to offers (each followed by a matching round), queues, decisions and
    staffing to read."""
    configure_telemetry(settings)
    connections = ApiConnections()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # aiokafka and the async Mongo client bind to the running loop: build them here.
        client = connections.client = create_mongo_client(settings)
        publisher = connections.publisher = AsyncEventPublisher(settings)
        await publisher.start()
        app.state.service = build_service(client, publisher, settings)
        store = MongoRoutingStore(database(client, settings))
        app.state.queries = RoutingQueries(store, utc_now, settings.rules())
        app.state.dashboard = Dashboard(store, utc_now, settings.rules())
        try:
            yield
        finally:
            await publisher.stop()
            await client.close()

    return create_app(
        settings,
        title="Helhet routing",
        readiness=connections.readiness(),
        routers=[agents_router(), queues_router(), dashboard_router()],
        lifespan=lifespan,
    )
