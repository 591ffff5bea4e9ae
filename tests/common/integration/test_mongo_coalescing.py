"""``coalescing_finder`` on the real database: concurrent reads share one command, and nothing is kept
from one read to the next."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.collection import AsyncCollection

from services.common.mongo import Document, coalescing_finder
from services.common.settings import CommonSettings

pytestmark = pytest.mark.integration


class _Finds(monitoring.CommandListener):
    """The ``find`` commands sent, with the collection each names."""

    def __init__(self) -> None:
        self.collections: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find":
            self.collections.append(str(event.command["find"]))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def counted(infra: CommonSettings) -> AsyncIterator[tuple[AsyncCollection[Document], _Finds]]:
    finds = _Finds()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        infra.mongodb_uri.get_secret_value(), event_listeners=[finds]
    )
    collection = client[infra.mongodb_database][f"test_coalescing_{uuid.uuid4().hex[:8]}"]
    try:
        yield collection, finds
    finally:
        await collection.drop()
        await client.close()


async def test_concurrent_reads_share_one_command_and_each_gets_its_own_document(
    counted: tuple[AsyncCollection[Document], _Finds],
) -> None:
    collection, finds = counted
    await collection.insert_many([{"_id": f"c{n}", "n": n, "secret": "x"} for n in range(25)])
    finder = coalescing_finder(collection, {"n": 1})
    wanted = [f"c{n}" for n in range(25)] + ["c3", "c7"] + [f"missing{n}" for n in range(5)]

    answers = [answer for [answer] in await asyncio.gather(*(finder.submit([i]) for i in wanted))]

    assert finds.collections == [collection.name]
    for document_id, answer in zip(wanted, answers, strict=True):
        if document_id.startswith("missing"):
            assert answer is None
        else:
            assert answer == {"_id": document_id, "n": int(document_id[1:])}  # projected: no "secret"


async def test_a_later_read_reads_again(counted: tuple[AsyncCollection[Document], _Finds]) -> None:
    collection, finds = counted
    await collection.insert_one({"_id": "c", "n": 1})
    finder = coalescing_finder(collection)

    [first] = await finder.submit(["c"])
    await collection.update_one({"_id": "c"}, {"$set": {"n": 2}})
    [second] = await finder.submit(["c"])

    assert first == {"_id": "c", "n": 1}
    assert second == {"_id": "c", "n": 2}
    assert finds.collections == [collection.name, collection.name]
