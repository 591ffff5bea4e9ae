"""Routing's integration fixtures: a database of its own per test (agents are global to a router, so tests
must not see each other's), the real broker, and a clock the test moves."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.common.http import set_token_verifier
from services.common.http.testing import LocalIssuer, serve
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document, create_mongo_client, ensure_indexes
from services.common.settings import CommonSettings
from services.routing.adapters.outbound.kafka_events import KafkaAssignmentFeed, KafkaStatsFeed
from services.routing.adapters.outbound.mongo_store import MongoRoutingStore
from services.routing.indexes import INDEXES
from services.routing.inject import create_api
from services.routing.service import RoutingService
from services.routing.settings import RoutingSettings


class Clock:
    """The test's ``now``: starts at the real time (agents' heartbeats are compared with it) and moves
    only when told. Whole milliseconds, as BSON stores instants."""

    def __init__(self) -> None:
        now = datetime.now(UTC)
        self.now = now.replace(microsecond=now.microsecond // 1000 * 1000)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
async def routing_db(infra: CommonSettings) -> AsyncIterator[AsyncDatabase[Document]]:
    client = create_mongo_client(infra)
    name = f"routing-test-{uuid.uuid4().hex[:10]}"
    db = client[name]
    await ensure_indexes(db, INDEXES)
    try:
        yield db
    finally:
        await client.drop_database(name)
        await client.close()


@pytest.fixture
async def publisher(infra: CommonSettings) -> AsyncIterator[AsyncEventPublisher]:
    publisher = AsyncEventPublisher(infra)
    await publisher.start()
    try:
        yield publisher
    finally:
        await publisher.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def routing_service(
    db: AsyncDatabase[Document], publisher: AsyncEventPublisher, clock: Clock
) -> RoutingService:
    return RoutingService(
        MongoRoutingStore(db), KafkaAssignmentFeed(publisher), KafkaStatsFeed(publisher), clock
    )


@pytest.fixture
def service(
    routing_db: AsyncDatabase[Document], publisher: AsyncEventPublisher, clock: Clock
) -> RoutingService:
    return routing_service(routing_db, publisher, clock)


@pytest.fixture
def store(routing_db: AsyncDatabase[Document]) -> MongoRoutingStore:
    """The same database, read the way the service reads it."""
    return MongoRoutingStore(routing_db)


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer()


@pytest.fixture
def routing_url(
    infra: CommonSettings, routing_db: AsyncDatabase[Document], issuer: LocalIssuer
) -> Iterator[str]:
    """Routing's whole API over real HTTP, on the test's own database."""
    settings = RoutingSettings(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        mongodb_uri=infra.mongodb_uri,
        mongodb_database=routing_db.name,
    )
    app = create_api(settings)
    set_token_verifier(app, issuer.verifier())
    with serve(app) as url:
        yield url
