"""Declared indexes are created idempotently through the shared Mongo runtime."""

from __future__ import annotations

import uuid

import pytest
from pymongo.errors import DuplicateKeyError

from services.common.bootstrap import declared_indexes
from services.common.mongo import IndexSpec, create_mongo_client, database, ensure_indexes, ping
from services.common.settings import CommonSettings

pytestmark = pytest.mark.integration


async def test_declared_unique_and_sparse_indexes_are_enforced_and_idempotent(infra: CommonSettings) -> None:
    client = create_mongo_client(infra)
    collection_name = f"test_indexes_{uuid.uuid4().hex[:8]}"
    specs = [
        IndexSpec(collection_name, [("identifier", 1)], name="identifier_unique", unique=True),
        IndexSpec(
            collection_name, [("idempotency_key", 1)], name="idempotency_key", unique=True, sparse=True
        ),
    ]
    db = database(client, infra)
    try:
        await ping(client)
        assert await ensure_indexes(db, specs) == ["identifier_unique", "idempotency_key"]
        assert await ensure_indexes(db, specs) == ["identifier_unique", "idempotency_key"]
        collection = db[collection_name]
        await collection.insert_one({"identifier": "email:a@example.no", "idempotency_key": "k1"})
        with pytest.raises(DuplicateKeyError) as caught:
            await collection.insert_one({"identifier": "email:a@example.no"})
        assert caught.value.code == 11000
        # The sparse index only constrains documents that carry the key.
        await collection.insert_one({"identifier": "email:b@example.no"})
        await collection.insert_one({"identifier": "email:c@example.no"})
        with pytest.raises(DuplicateKeyError):
            await collection.insert_one({"identifier": "email:d@example.no", "idempotency_key": "k1"})
    finally:
        await db.drop_collection(collection_name)
        await client.close()


def test_index_declarations_are_found_by_convention() -> None:
    # No service declares indexes yet; each will add services/<name>/indexes.py with INDEXES.
    assert all(isinstance(spec, IndexSpec) for spec in declared_indexes())
