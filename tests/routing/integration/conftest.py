"""Routing's integration fixtures: a database of its own per test (agents are global to a router, so tests
must not see each other's), the real broker, and a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.common.http import set_token_verifier
from services.common.http.testing import LocalIssuer, serve
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document
from services.common.settings import CommonSettings
from services.routing.adapters.outbound.kafka_events import KafkaAssignmentFeed, KafkaStatsFeed
from services.routing.adapters.outbound.mongo_store import MongoRoutingStore
from services.routing.indexes import INDEXES
from services.routing.inject import create_api
from services.routing.service import RoutingService
from services.routing.settings import RoutingSettings
from tests.support.clock import Clock
from tests.support.databases import own_database


@pytest.fixture
async def routing_db(infra: CommonSettings) -> AsyncIterator[AsyncDatabase[Document]]:
    async with own_database(infra, "routing-test", INDEXES) as db:
        yield db


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
