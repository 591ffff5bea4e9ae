"""The clients an API opens when it starts (they bind to the running event loop), and the readiness
checks that ask them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pymongo import AsyncMongoClient

from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document, ping


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
