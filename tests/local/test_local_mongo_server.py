"""The local MongoDB-wire server keeps data and unique indexes across a restart."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from bson import Binary, CodecOptions, Decimal128, Int64, ObjectId
from pymongo import ASCENDING, MongoClient
from pymongo.errors import DuplicateKeyError

from deploy.local import infra
from deploy.local.config import StackConfig
from deploy.local.procs import StackError

pytestmark = pytest.mark.integration

Client = MongoClient[dict[str, Any]]


def _start(cfg: StackConfig) -> None:
    running = infra.start_component(cfg, infra.MONGO_COMPONENT)
    infra.wait_healthy(cfg, infra.MONGO_COMPONENT, running.pid, time.monotonic() + cfg.health_timeout_s)


@pytest.fixture
def mongo(fetched: None, isolated_cfg: StackConfig) -> Iterator[StackConfig]:
    _start(isolated_cfg)
    yield isolated_cfg
    infra.stop_component(isolated_cfg, infra.MONGO_COMPONENT)


def _client(cfg: StackConfig) -> Client:
    return MongoClient(cfg.mongodb_uri, serverSelectionTimeoutMS=5000)


def test_unique_index_rejects_duplicate_and_survives_restart(mongo: StackConfig) -> None:
    with _client(mongo) as client:
        coll = client.helhet_test.customers
        coll.create_index([("email", ASCENDING)], unique=True, name="email_unique")
        coll.insert_one({"_id": "c1", "email": "one@example.test", "tier": "gold"})
        with pytest.raises(DuplicateKeyError) as dup:
            coll.insert_one({"_id": "c2", "email": "one@example.test"})
        assert dup.value.code == 11000

    assert infra.stop_component(mongo, infra.MONGO_COMPONENT)
    assert mongo.mongo_file.stat().st_size > 0
    _start(mongo)

    with _client(mongo) as client:
        coll = client.helhet_test.customers
        assert coll.find_one({"_id": "c1"}) == {"_id": "c1", "email": "one@example.test", "tier": "gold"}
        assert coll.index_information()["email_unique"]["unique"] is True
        with pytest.raises(DuplicateKeyError):
            coll.insert_one({"_id": "c3", "email": "one@example.test"})


def test_announces_a_wire_version_pymongo_accepts(mongo: StackConfig) -> None:
    with _client(mongo) as client:
        assert client.server_info()["version"] == "6.0.0"
        # The server has no `hello` command; pymongo's handshake (isMaster) carries the wire version.
        servers = client.topology_description.server_descriptions().values()
        assert [server.max_wire_version for server in servers] == [17]


def test_every_bson_type_and_many_keys_survive_a_restart(mongo: StackConfig) -> None:
    """The launcher stores documents as BSON and orders B-tree keys by MongoDB's value order (not H2's
    defaults): values come back as they went in, and thousands of keys of mixed types (enough to split
    pages) stay findable by ``_id`` and by a unique index, before and after a restart."""
    varied = {
        "_id": {"customer": "c-1", "seq": 2},
        "text": "blåbær",
        "int": 7,
        "long": Int64(2**40),
        "double": 2.5,
        "decimal": Decimal128("19.99"),
        "flag": True,
        "nothing": None,
        "at": datetime(2026, 11, 24, 6, 0, 0, 123000, tzinfo=UTC),
        "oid": ObjectId("6564a0c2f1e4b5a1c2d3e4f5"),
        "uuid": Binary(uuid.UUID(int=5).bytes, 4),
        "bytes": b"\x00\x01",
        "list": [1, "two", {"three": 3.0}],
        "nested": {"deeper": {"deepest": [True]}},
    }
    keys: list[Any] = (
        [f"key-{n:05d}" for n in range(3000)]
        + list(range(1000))
        + [{"customer": f"c-{n}", "seq": n} for n in range(1000)]
    )

    def check(client: Client) -> None:
        coll = client.get_database("helhet_test", codec_options=CodecOptions(tz_aware=True)).mixed
        assert coll.find_one({"_id": varied["_id"]}) == varied
        # Field order is part of an embedded document's identity, as in MongoDB.
        assert coll.find_one({"_id": {"seq": 2, "customer": "c-1"}}) is None
        for key in (keys[0], keys[2999], keys[3000], keys[3999], keys[4000], keys[-1]):
            assert coll.find_one({"_id": key}) == {"_id": key, "unique": repr(key)}
            assert coll.find_one({"unique": repr(key)}) == {"_id": key, "unique": repr(key)}
        assert coll.count_documents({}) == len(keys) + 1
        with pytest.raises(DuplicateKeyError):
            coll.insert_one({"_id": "another", "unique": repr(keys[1234])})
        with pytest.raises(DuplicateKeyError):
            coll.insert_one({"_id": keys[4321]})

    with _client(mongo) as client:
        coll = client.helhet_test.mixed
        coll.create_index([("unique", ASCENDING)], unique=True, name="unique_field")
        coll.insert_one(varied)
        shuffled = list(keys)
        random.Random(7).shuffle(shuffled)  # noqa: S311 - a reproducible order, not a secret
        coll.insert_many([{"_id": key, "unique": repr(key)} for key in shuffled])
        check(client)

    assert infra.stop_component(mongo, infra.MONGO_COMPONENT)
    _start(mongo)
    with _client(mongo) as client:
        check(client)


def test_a_database_file_h2_cannot_read_fails_start_up_with_what_to_do(
    fetched: None, isolated_cfg: StackConfig
) -> None:
    isolated_cfg.mongo_file.parent.mkdir(parents=True, exist_ok=True)
    isolated_cfg.mongo_file.write_bytes(bytes(range(256)) * 256)  # no H2 header anywhere
    try:
        with pytest.raises(StackError) as failed:
            _start(isolated_cfg)
    finally:
        infra.stop_component(isolated_cfg, infra.MONGO_COMPONENT)
    message = str(failed.value)
    assert "MVStoreException" in message
    assert f"The database file {isolated_cfg.mongo_file} cannot be read" in message
    assert "\tat org.h2" not in message  # the exception, not its stack frames


def test_documents_are_kept_in_the_order_written_across_restarts(mongo: StackConfig) -> None:
    """The launcher stores a collection's documents under the order they were inserted in (random
    ``_id``s made every insert rewrite a page of older documents). Inserts after a restart continue
    after the last stored position, whatever was deleted: nothing is overwritten, everything stays
    findable by ``_id`` and by a unique index, and natural order is insertion order, as on MongoDB."""
    ids = [uuid.UUID(int=random.Random(n).getrandbits(128)).hex for n in range(1500)]  # noqa: S311
    before, after = ids[:1000], ids[1000:]
    deleted = {before[0], before[500], before[-1]}  # the last one too: its position is the highest

    def stored(client: Client) -> list[str]:
        return [document["_id"] for document in client.helhet_test.ordered.find({}, {"_id": 1})]

    with _client(mongo) as client:
        coll = client.helhet_test.ordered
        coll.create_index([("unique", ASCENDING)], unique=True, name="unique_field")
        coll.insert_many([{"_id": key, "unique": f"u-{key}"} for key in before])
        coll.delete_many({"_id": {"$in": sorted(deleted)}})
        coll.update_one({"_id": before[1]}, {"$set": {"grown": "x" * 5000}})

    assert infra.stop_component(mongo, infra.MONGO_COMPONENT)
    _start(mongo)
    with _client(mongo) as client:
        coll = client.helhet_test.ordered
        coll.insert_many([{"_id": key, "unique": f"u-{key}"} for key in after])
        kept = [key for key in ids if key not in deleted]
        assert stored(client) == kept
        assert [d["_id"] for d in coll.find({}, {"_id": 1}).sort("$natural", -1)] == kept[::-1]
        for key in (before[1], before[2], before[-2], after[0], after[-1]):
            assert coll.find_one({"_id": key}, {"_id": 1, "unique": 1}) == {"_id": key, "unique": f"u-{key}"}
            assert coll.find_one({"unique": f"u-{key}"}, {"_id": 1}) == {"_id": key}
        grown = coll.find_one({"_id": before[1]}, {"grown": 1})
        assert grown is not None
        assert len(grown["grown"]) == 5000
        with pytest.raises(DuplicateKeyError):
            coll.insert_one({"_id": after[3]})


def test_a_query_naming_a_unique_index_s_fields_and_others_matches_all_of_them(mongo: StackConfig) -> None:
    """The server narrows such a query by the index (see NarrowingIndex); the other fields still decide."""
    with _client(mongo) as client:
        coll = client.helhet_test.claims
        coll.create_index([("order", ASCENDING), ("line", ASCENDING)], unique=True, name="order_line")
        coll.insert_many(
            [
                {"_id": f"k{n}", "claim": "a" if n % 2 else "b", "order": n // 3, "line": n % 3}
                for n in range(30)
            ]
        )

        assert coll.find_one({"_id": "k3", "claim": "a"}) == {
            "_id": "k3",
            "claim": "a",
            "order": 1,
            "line": 0,
        }
        assert coll.find_one({"_id": "k3", "claim": "b"}) is None
        assert coll.find_one({"_id": "k99", "claim": "a"}) is None
        in_query = {"_id": {"$in": ["k1", "k2", "k3", "k4", "k99"]}, "claim": "a"}
        assert sorted(d["_id"] for d in coll.find(in_query)) == ["k1", "k3"]
        assert [d["_id"] for d in coll.find({"order": 2, "line": 1, "claim": "a"})] == ["k7"]
        assert list(coll.find({"order": 2, "line": 1, "claim": "b"})) == []
        # Conditions the index cannot answer are still matched, by a scan.
        scanned = coll.find({"_id": {"$gte": "k27"}, "claim": "b"})  # strings: "k4" comes after "k27"
        assert sorted(d["_id"] for d in scanned) == ["k28", "k4", "k6", "k8"]
        assert sorted(d["_id"] for d in coll.find({"_id": "k5", "$or": [{"claim": "a"}, {"line": 0}]})) == [
            "k5"
        ]

        released = coll.update_many(in_query, {"$set": {"claim": "released"}})
        assert released.modified_count == 2
        cas = coll.update_one({"_id": "k1", "claim": "a"}, {"$set": {"claim": "c"}})
        assert cas.matched_count == 0  # released above: the compare-and-set finds nothing to set
        assert coll.count_documents({"claim": "released"}) == 2
        assert coll.delete_many({"_id": {"$in": ["k1", "k2"]}, "claim": "released"}).deleted_count == 1
        assert coll.find_one({"_id": "k2"}) == {"_id": "k2", "claim": "b", "order": 0, "line": 2}
