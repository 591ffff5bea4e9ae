"""Physical limits of the database: bulk upserts in batches of 500 into a collection with a unique
secondary index, and find_one by that key."""

from __future__ import annotations

import random
import time
import uuid

from pymongo import ASCENDING, MongoClient, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from bench.report import Figure
from services.common.mongo import Document, create_mongo_client, database
from services.common.settings import CommonSettings

BATCH = 500


async def mongo_rates(settings: CommonSettings, documents: int, lookups: int) -> list[Figure]:
    client = create_mongo_client(settings)
    collection = database(client, settings)[f"bench_raw_{uuid.uuid4().hex[:8]}"]
    try:
        await collection.create_index([("key", ASCENDING)], unique=True, name="key_unique")
        # First pass inserts every document, the second updates them: projections see both.
        insert_s = await _upsert_all(collection, documents, generation=1)
        update_s = await _upsert_all(collection, documents, generation=2)
        keys = [f"customer-{random.randrange(documents)}" for _ in range(lookups)]
        started = time.perf_counter()
        for key in keys:
            if await collection.find_one({"key": key}) is None:
                raise RuntimeError("benchmark document missing")
        lookup_s = time.perf_counter() - started
    finally:
        await collection.drop()
        await client.close()
    label = f"({BATCH}/batch, unique index, {documents} docs)"
    return [
        Figure(f"async client: bulk upsert, new documents {label}", documents / insert_s, "docs/s"),
        Figure(f"async client: bulk upsert, existing documents {label}", documents / update_s, "docs/s"),
        Figure("async client: find_one by unique key", lookups / lookup_s, "lookups/s"),
    ]


def sync_client_rates(settings: CommonSettings, documents: int, lookups: int) -> list[Figure]:
    """The same work through pymongo's synchronous client, to show what the async client costs."""
    client: MongoClient[Document] = MongoClient(settings.mongodb_uri.get_secret_value(), tz_aware=True)
    collection = client[settings.mongodb_database][f"bench_sync_{uuid.uuid4().hex[:8]}"]
    try:
        collection.create_index([("key", ASCENDING)], unique=True, name="key_unique")
        timings = []
        for generation in (1, 2):
            started = time.perf_counter()
            for first in range(0, documents, BATCH):
                collection.bulk_write(_upserts(first, min(first + BATCH, documents), generation))
            timings.append(time.perf_counter() - started)
        keys = [f"customer-{random.randrange(documents)}" for _ in range(lookups)]
        started = time.perf_counter()
        for key in keys:
            if collection.find_one({"key": key}) is None:
                raise RuntimeError("benchmark document missing")
        lookup_s = time.perf_counter() - started
    finally:
        collection.drop()
        client.close()
    return [
        Figure("sync client: bulk upsert, new documents", documents / timings[0], "docs/s"),
        Figure("sync client: bulk upsert, existing documents", documents / timings[1], "docs/s"),
        Figure("sync client: find_one by unique key", lookups / lookup_s, "lookups/s"),
    ]


def _upserts(first: int, end: int, generation: int) -> list[UpdateOne]:
    return [
        UpdateOne(
            {"key": f"customer-{index}"},
            {"$set": {"tier": index % 4, "generation": generation}, "$setOnInsert": {"created": index}},
            upsert=True,
        )
        for index in range(first, end)
    ]


async def _upsert_all(collection: AsyncCollection[Document], documents: int, generation: int) -> float:
    started = time.perf_counter()
    for first in range(0, documents, BATCH):
        await collection.bulk_write(
            [
                UpdateOne(
                    {"key": f"customer-{index}"},
                    {
                        "$set": {"tier": index % 4, "generation": generation},
                        "$setOnInsert": {"created": index},
                    },
                    upsert=True,
                )
                for index in range(first, min(first + BATCH, documents))
            ]
        )
    return time.perf_counter() - started
