"""A database of a test's own on the local MongoDB-wire server, with a service's indexes, dropped after."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from pymongo.asynchronous.database import AsyncDatabase

from services.common.mongo import Document, IndexSpec, create_mongo_client, ensure_indexes
from services.common.settings import CommonSettings


@asynccontextmanager
async def own_database(
    infra: CommonSettings, prefix: str, indexes: Iterable[IndexSpec]
) -> AsyncIterator[AsyncDatabase[Document]]:
    client = create_mongo_client(infra)
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    db = client[name]
    await ensure_indexes(db, indexes)
    try:
        yield db
    finally:
        await client.drop_database(name)
        await client.close()
