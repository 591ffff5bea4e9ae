"""The clients an API or a worker opens when it starts (they bind to the running event loop), the
readiness checks that ask an API's, and the closing of a worker's."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pymongo import AsyncMongoClient

from services.common.collector import settle_collector
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document, create_mongo_client, ping
from services.common.settings import CommonSettings

T = TypeVar("T")


class BuiltOnce(Generic[T]):
    """A worker's service, built on first use and once, however many agents and timers ask for it as the
    worker starts (each would otherwise open clients of its own)."""

    def __init__(self, build: Callable[[], Awaitable[T]]) -> None:
        self._build = build
        self._value: T | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> T:
        async with self._lock:
            if self._value is None:
                self._value = await self._build()
                settle_collector()  # the worker is up
            return self._value

    def forget(self) -> None:
        self._value = None


@dataclass
class ApiConnections:
    publisher: AsyncEventPublisher | None = None
    client: AsyncMongoClient[Document] | None = None

    def readiness(self) -> dict[str, Callable[[], Awaitable[None]]]:
        """Ready when the broker and the database answer (an API not started yet is not ready)."""

        async def kafka() -> None:
            if self.publisher is None:
                raise RuntimeError("not started")
            await self.publisher.ping()

        async def mongodb() -> None:
            if self.client is None:
                raise RuntimeError("not started")
            await ping(self.client)

        return {"kafka": kafka, "mongodb": mongodb}


@dataclass
class WorkerConnections:
    """What a worker's agents open when they start, closed together when the worker stops."""

    settings: CommonSettings
    clients: list[AsyncMongoClient[Document]] = field(default_factory=list)
    publishers: list[AsyncEventPublisher] = field(default_factory=list)

    async def open(self) -> tuple[AsyncMongoClient[Document], AsyncEventPublisher]:
        client = create_mongo_client(self.settings)
        self.clients.append(client)
        publisher = AsyncEventPublisher(self.settings, client_id=f"{self.settings.service_name}-worker")
        await publisher.start()
        self.publishers.append(publisher)
        return client, publisher

    async def aclose(self) -> None:
        for publisher in self.publishers:
            await publisher.stop()
        for client in self.clients:
            await client.close()
        self.publishers.clear()
        self.clients.clear()
