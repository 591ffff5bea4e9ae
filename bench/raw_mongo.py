"""Physical limits of the database: bulk upserts in batches of 500 into a collection with a unique
secondary index, and find_one by that key."""

from __future__ import annotations

import random
import time
import uuid

from pymongo import ASCENDING, UpdateOne

from bench.report import Figure
from services.common.mongo import create_mongo_client, database
from services.common.settings import CommonSettings

BATCH = 500


async def mongo_rates(settings: CommonSettings, documents: int, lookups: int) -> list[Figure]:
    client = create_mongo_client(settings)
    collection = database(client, settings)[f"bench_raw_{uuid.uuid4().hex[:8]}"]
    try:
        await collection.create_index([("key", ASCENDING)], unique=True, name="key_unique")
        started = time.perf_counter()
        for first in range(0, documents, BATCH):
            await collection.bulk_write(
                [
                    UpdateOne(
                        {"key": f"customer-{index}"},
                        {"$set": {"tier": index % 4, "seen": index}, "$setOnInsert": {"created": index}},
                        upsert=True,
                    )
                    for index in range(first, min(first + BATCH, documents))
                ],
                ordered=False,
            )
        upsert_s = time.perf_counter() - started
        keys = [f"customer-{random.randrange(documents)}" for _ in range(lookups)]
        started = time.perf_counter()
        for key in keys:
            if await collection.find_one({"key": key}) is None:
                raise RuntimeError("benchmark document missing")
        lookup_s = time.perf_counter() - started
    finally:
        await collection.drop()
        await client.close()
    return [
        Figure(
            f"database bulk upsert ({BATCH}/batch, unique index, {documents} docs)",
            documents / upsert_s,
            "docs/s",
        ),
        Figure("database find_one by unique key", lookups / lookup_s, "lookups/s"),
    ]
