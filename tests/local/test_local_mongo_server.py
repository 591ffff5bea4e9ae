"""The local MongoDB-wire server keeps data and unique indexes across a restart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import ASCENDING, MongoClient
from pymongo.errors import DuplicateKeyError

from deploy.local import infra
from deploy.local.config import StackConfig

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
