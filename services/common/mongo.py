"""MongoDB access shared by the services: one async client, and indexes declared per collection and
created once by the bootstrap step (never by every process at start-up: concurrent index builds crash
the local mongo-java-server, bwaldvogel/mongo-java-server#195)."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.common.coalescer import Coalescer
from services.common.settings import CommonSettings

Document = dict[str, Any]


@dataclass(frozen=True)
class IndexSpec:
    collection: str
    keys: Sequence[tuple[str, int]]
    name: str
    unique: bool = False
    # Sparse, not partial: mongo-java-server 1.47 accepts partialFilterExpression but ignores it
    # (a partial unique index behaves as a full one there), so code must not depend on it.
    sparse: bool = False
    # A TTL index: MongoDB deletes a document this long after the date in its (single) key field.
    expire_after_seconds: int | None = None

    def model(self) -> IndexModel:
        options: dict[str, object] = {"name": self.name, "unique": self.unique, "sparse": self.sparse}
        if self.expire_after_seconds is not None:
            options["expireAfterSeconds"] = self.expire_after_seconds
        return IndexModel(list(self.keys), **options)


def create_mongo_client(settings: CommonSettings) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(
        settings.mongodb_uri.get_secret_value(),
        tz_aware=True,
        uuidRepresentation="standard",
        appname=settings.service_name,
    )


def database(client: AsyncMongoClient[Document], settings: CommonSettings) -> AsyncDatabase[Document]:
    return client[settings.mongodb_database]


async def ensure_indexes(db: AsyncDatabase[Document], specs: Iterable[IndexSpec]) -> list[str]:
    """Create the declared indexes (idempotent); returns their names."""
    by_collection: dict[str, list[IndexSpec]] = {}
    for spec in specs:
        by_collection.setdefault(spec.collection, []).append(spec)
    created: list[str] = []
    for collection, declared in by_collection.items():
        created += await db[collection].create_indexes([spec.model() for spec in declared])
    return created


async def ping(client: AsyncMongoClient[Document]) -> None:
    """Readiness: the server answers ``ping``."""
    await client.admin.command("ping")


# The ids of one ``$in`` by ``_id``: mongo-java-server answers several short lists faster than one long
# one (1,000 ids: 158 ms at once, 66 ms as ten concurrent lists of 100, measured here).
_IDS_PER_QUERY = 100


async def find_by_ids(
    collection: AsyncCollection[Document],
    ids: Collection[Any],
    projection: Mapping[str, Any] | None = None,
    where: Mapping[str, Any] | None = None,
) -> list[Document]:
    """The documents with these ``_id`` values (in no particular order); with ``where``, only those that
    also match it."""
    unique = list(dict.fromkeys(ids))
    also = dict(where or {})

    async def part(chunk: list[Any]) -> list[Document]:
        return [document async for document in collection.find({**also, "_id": {"$in": chunk}}, projection)]

    parts = await asyncio.gather(
        *(part(unique[start : start + _IDS_PER_QUERY]) for start in range(0, len(unique), _IDS_PER_QUERY))
    )
    return [document for found in parts for document in found]


def coalescing_finder(
    collection: AsyncCollection[Document], projection: Mapping[str, Any] | None = None
) -> Coalescer[Any, Document | None]:
    """Documents by ``_id`` (None: no such document); concurrent callers share one ``find_by_ids``
    (a ``Coalescer``): the async client costs 150-200 µs of CPU per command here, more than the rest of
    a lookup. Nothing is kept between reads. Callers must not change the documents (one may answer
    several of them)."""

    async def find(ids: list[Any]) -> list[Document | None]:
        found = {document["_id"]: document for document in await find_by_ids(collection, ids, projection)}
        return [found.get(document_id) for document_id in ids]

    return Coalescer(find, max_items=_IDS_PER_QUERY)
