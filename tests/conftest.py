"""Shared fixtures. Integration tests use the real local broker and MongoDB-wire server that
``make test`` starts (or ``make infra-up``); their addresses come from the same HELHET_* variables the
services read."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document, create_mongo_client, database
from services.common.settings import CommonSettings

# A real browser for page tests: the chromium and browser fixtures.
pytest_plugins = ("tests.support.browser",)


@pytest.fixture(scope="session")
def settings() -> CommonSettings:
    return CommonSettings(service_name="helhet-tests")


def _reachable(host_port: str) -> bool:
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def infra(settings: CommonSettings) -> CommonSettings:
    """The local platform must be up; fail loudly (never skip) when it is not."""
    kafka = settings.kafka_bootstrap_servers.split(",")[0]
    mongo = urlsplit(settings.mongodb_uri.get_secret_value()).netloc.split(",")[0]
    missing = [address for address in (kafka, mongo) if not _reachable(address)]
    if missing:
        pytest.fail(f"local platform not reachable at {missing}: run `make test` or `make infra-up` first")
    return settings


@pytest.fixture
async def db(infra: CommonSettings) -> AsyncIterator[AsyncDatabase[Document]]:
    """The real database the services use."""
    client = create_mongo_client(infra)
    try:
        yield database(client, infra)
    finally:
        await client.close()


@pytest.fixture
async def publisher(infra: CommonSettings) -> AsyncIterator[AsyncEventPublisher]:
    publisher = AsyncEventPublisher(infra)
    await publisher.start()
    try:
        yield publisher
    finally:
        await publisher.stop()
