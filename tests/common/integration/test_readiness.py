"""/readyz answers 200 only while the real broker and database answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from services.common.http import create_app
from services.common.http.testing import serve
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document, create_mongo_client, ping
from services.common.settings import CommonSettings

pytestmark = pytest.mark.integration


def app_checking(settings: CommonSettings) -> FastAPI:
    # aiokafka binds to the running loop, so the clients are made in the server's lifespan.
    publishers: list[AsyncEventPublisher] = []
    clients: list[AsyncMongoClient[Document]] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        publishers.append(AsyncEventPublisher(settings))
        clients.append(create_mongo_client(settings))
        await publishers[0].start()
        yield
        await publishers[0].stop()
        await clients[0].close()

    async def kafka() -> None:
        await publishers[0].ping()

    async def mongodb() -> None:
        await ping(clients[0])

    return create_app(
        settings,
        title="readiness test",
        readiness={"kafka": kafka, "mongodb": mongodb},
        routers=[],
        lifespan=lifespan,
    )


def test_ready_when_broker_and_database_answer(infra: CommonSettings) -> None:
    with serve(app_checking(infra)) as base_url:
        response = httpx.get(f"{base_url}/readyz", timeout=10)
    assert response.status_code == 200


def test_not_ready_when_the_database_is_unreachable(infra: CommonSettings) -> None:
    unreachable = infra.model_copy(
        update={
            "mongodb_uri": SecretStr(
                "mongodb://127.0.0.1:1/?directConnection=true&serverSelectionTimeoutMS=300"
            )
        }
    )
    with serve(app_checking(unreachable)) as base_url:
        response = httpx.get(f"{base_url}/readyz", timeout=10)
        liveness = httpx.get(f"{base_url}/healthz", timeout=10)
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["checks"]["kafka"] == "ok"
    assert response.json()["checks"]["mongodb"] in {"failed", "timeout"}
    assert liveness.status_code == 200
