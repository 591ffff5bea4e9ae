"""The dedupe store against the real MongoDB-wire server: atomic claims across processes, receipts,
release, stale takeover by exactly one process, and a memory that answers redeliveries."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.common.mongo import Document
from services.ingest.adapters.outbound.mongo_dedupe import MongoDedupeStore
from services.ingest.indexes import DEDUPE_COLLECTION, RECEIPTS_COLLECTION
from services.ingest.ports import ClaimState

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
STALE = timedelta(seconds=30)


def store(db: AsyncDatabase[Document], remembered: int = 0) -> MongoDedupeStore:
    """A fresh process's store: nothing remembered unless asked."""
    return MongoDedupeStore(db, stale_after=STALE, remembered=remembered)


def a_key() -> str:
    return f"test-{uuid.uuid4().hex}"


async def test_first_claim_wins_and_later_ones_see_it_in_flight_then_published(
    db: AsyncDatabase[Document],
) -> None:
    key = a_key()
    first, second = store(db), store(db)
    assert [c.state for c in await first.claim_many(f"{key}-c1", [(key, "e1")], NOW)] == [ClaimState.NEW]
    in_flight = await second.claim_many(f"{key}-c2", [(key, "e2")], NOW)
    assert (in_flight[0].state, in_flight[0].event_id) == (ClaimState.IN_FLIGHT, "e1")
    await first.confirm(f"{key}-c1", [(key, "e1")], NOW)
    await first.settle()
    published = await second.claim_many(f"{key}-c3", [(key, "e3")], NOW + timedelta(hours=1))
    assert (published[0].state, published[0].event_id) == (ClaimState.PUBLISHED, "e1")


async def test_concurrent_claims_of_one_key_from_many_processes_give_exactly_one_new(
    db: AsyncDatabase[Document],
) -> None:
    key = a_key()
    stores = [store(db) for _ in range(8)]
    claims = await asyncio.gather(
        *(s.claim_many(f"{key}-c{n}", [(key, f"e{n}")], NOW) for n, s in enumerate(stores))
    )
    states = [claim[0].state for claim in claims]
    assert states.count(ClaimState.NEW) == 1
    assert states.count(ClaimState.IN_FLIGHT) == 7
    assert len({claim[0].event_id for claim in claims}) == 1


async def test_concurrent_requests_in_one_process_share_round_trips_and_keep_their_answers(
    db: AsyncDatabase[Document],
) -> None:
    one = store(db)
    keys = [a_key() for _ in range(50)]
    claims = await asyncio.gather(
        *(one.claim_many(f"{k}-c{n}", [(k, f"e{n}")], NOW) for n, k in enumerate(keys))
    )
    assert [(c[0].state, c[0].event_id) for c in claims] == [(ClaimState.NEW, f"e{n}") for n in range(50)]
    stored = {d["_id"]: d["event_id"] async for d in db[DEDUPE_COLLECTION].find({"_id": {"$in": keys}})}
    assert stored == {k: f"e{n}" for n, k in enumerate(keys)}


async def test_a_released_claim_is_claimable_at_once_with_its_first_event_id(
    db: AsyncDatabase[Document],
) -> None:
    key = a_key()
    first = store(db)
    await first.claim_many(f"{key}-c1", [(key, "e1")], NOW)
    await first.release(f"{key}-c1", [key], NOW)
    retry = await store(db).claim_many(f"{key}-c2", [(key, "e2")], NOW + timedelta(seconds=1))
    assert (retry[0].state, retry[0].event_id) == (ClaimState.NEW, "e1")


async def test_a_stale_claim_without_receipt_is_taken_over_by_exactly_one_process(
    db: AsyncDatabase[Document],
) -> None:
    key = a_key()
    await store(db).claim_many(f"{key}-crashed", [(key, "e1")], NOW)  # its process died before the receipt
    later = NOW + STALE + timedelta(seconds=1)
    claims = await asyncio.gather(
        *(store(db).claim_many(f"{key}-c{n}", [(key, "new")], later) for n in range(4))
    )
    states = sorted(claim[0].state for claim in claims)
    assert states == [ClaimState.IN_FLIGHT] * 3 + [ClaimState.NEW]
    assert {claim[0].event_id for claim in claims} == {"e1"}  # the republish keeps the first event id


async def test_a_stale_claim_with_a_receipt_is_published_not_taken_over(db: AsyncDatabase[Document]) -> None:
    key = a_key()
    first = store(db)
    await first.claim_many(f"{key}-c1", [(key, "e1")], NOW)
    await first.confirm(f"{key}-c1", [(key, "e1")], NOW)
    await first.settle()
    claim = await store(db).claim_many(f"{key}-c2", [(key, "e2")], NOW + timedelta(days=1))
    assert (claim[0].state, claim[0].event_id) == (ClaimState.PUBLISHED, "e1")


async def test_remembered_keys_are_answered_without_the_database(db: AsyncDatabase[Document]) -> None:
    key = a_key()
    remembering = store(db, remembered=10)
    await remembering.claim_many(f"{key}-c1", [(key, "e1")], NOW)
    await remembering.confirm(f"{key}-c1", [(key, "e1")], NOW)
    await remembering.settle()
    await db[DEDUPE_COLLECTION].delete_one({"_id": key})  # only the memory can still know it
    claim = await remembering.claim_many(f"{key}-c2", [(key, "e2")], NOW)
    assert (claim[0].state, claim[0].event_id) == (ClaimState.PUBLISHED, "e1")


async def test_a_receipt_stored_twice_is_one_receipt_and_no_failure(
    db: AsyncDatabase[Document], caplog: pytest.LogCaptureFixture
) -> None:
    """What a retry after a lost answer does: the second insert finds the receipt and counts it stored."""
    key = a_key()
    one = store(db)
    await one.claim_many(f"{key}-c1", [(key, "e1")], NOW)
    await one.confirm(f"{key}-c1", [(key, "e1")], NOW)
    await one.settle()
    await one.confirm(f"{key}-c1", [(key, "e1")], NOW + timedelta(seconds=1))
    await one.settle()
    assert await db[RECEIPTS_COLLECTION].count_documents({"_id": f"{key}-c1"}) == 1
    assert "not stored" not in caplog.text


async def test_a_receipt_the_database_refuses_leaves_the_answer_alone_and_is_logged_without_keys(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The delivery was acknowledged by the broker: a receipt that cannot be stored does not fail it.
    Its claim goes stale, and a redelivery then publishes the same event id again."""
    unreachable: AsyncMongoClient[Document] = AsyncMongoClient(
        "mongodb://127.0.0.1:1/?directConnection=true", serverSelectionTimeoutMS=50
    )
    try:
        down = store(unreachable["helhet"], remembered=10)
        key = f"email:{a_key()}@example.no"
        await down.confirm("claim-1", [(key, "e1")], NOW)  # returns: nothing is awaited on the database
        claim = await down.claim_many("claim-2", [(key, "e2")], NOW)  # the memory knows it meanwhile
        assert (claim[0].state, claim[0].event_id) == (ClaimState.PUBLISHED, "e1")
        await down.settle()
    finally:
        await unreachable.close()
    assert "receipt of claim claim-1 not stored after 5 attempts" in caplog.text
    assert key not in caplog.text


async def test_released_keys_of_a_claim_stay_claimable_after_the_rest_of_it_is_confirmed(
    db: AsyncDatabase[Document],
) -> None:
    """A batch the broker stored in part: its receipt covers the stored keys, not the released ones."""
    stored, failed = a_key(), a_key()
    first = store(db)
    await first.claim_many(f"{stored}-c1", [(stored, "e1"), (failed, "e2")], NOW)
    await first.release(f"{stored}-c1", [failed], NOW)
    await first.confirm(f"{stored}-c1", [(stored, "e1")], NOW)
    await first.settle()
    later = NOW + timedelta(seconds=1)
    retry = await store(db).claim_many(f"{stored}-c2", [(stored, "x"), (failed, "y")], later)
    assert [(c.state, c.event_id) for c in retry] == [(ClaimState.PUBLISHED, "e1"), (ClaimState.NEW, "e2")]
