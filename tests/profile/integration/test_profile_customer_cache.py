"""The worker's customer cache holds customers exactly as the store does, and a copy that another writer
has since changed, or an erasure deleted and a new write re-created, only costs a lost race: the write
planned from it is refused and made again from the stored customer."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from schemas.envelope import Event
from schemas.identifiers import CustomerIdentifier
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document, ensure_indexes
from services.profile.adapters.outbound.customer_cache import CustomerCache
from services.profile.adapters.outbound.kafka_changes import KafkaChangeFeed
from services.profile.adapters.outbound.mongo_privacy import MongoPrivacyStore
from services.profile.adapters.outbound.mongo_store import MongoProfileStore
from services.profile.core.observe import ProfilePayload
from services.profile.indexes import CUSTOMERS_COLLECTION, INDEXES
from services.profile.ports import StoredCustomer
from services.profile.service import ProfileService
from tests.profile.integration.profile_flow import (
    customers_of,
    fresh_email,
    fresh_phone,
    interaction,
    order,
    page_view,
)

pytestmark = pytest.mark.integration


def clock() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def cached_store(db: AsyncDatabase[Document]) -> MongoProfileStore:
    return MongoProfileStore(db, CustomerCache(1000))


@pytest.fixture
def cached(
    cached_store: MongoProfileStore, db: AsyncDatabase[Document], publisher: AsyncEventPublisher
) -> ProfileService:
    """A service as the worker builds it: its store keeps the customers it read and wrote."""
    return ProfileService(cached_store, KafkaChangeFeed(publisher), MongoPrivacyStore(db), clock)


def uncached(db: AsyncDatabase[Document], publisher: AsyncEventPublisher) -> ProfileService:
    return ProfileService(MongoProfileStore(db), KafkaChangeFeed(publisher), MongoPrivacyStore(db), clock)


def comparable(customer: StoredCustomer) -> dict[str, Any]:
    """Every field; of the outbox, what a read without messages returns."""
    entries = [(entry.event_ids, entry.written_at) for entry in customer.outbox]
    return {**vars(replace(customer, outbox=())), "outbox": entries}


async def the_customer(db: AsyncDatabase[Document], event: Event[ProfilePayload]) -> str:
    [customer_id] = await customers_of(db, {i.key for i in event.data.identifiers})
    return customer_id


async def the_customer_of(db: AsyncDatabase[Document], email: CustomerIdentifier) -> str:
    [customer_id] = await customers_of(db, {email.key})
    return customer_id


async def a_customer_with_an_order(
    db: AsyncDatabase[Document], service: ProfileService
) -> tuple[CustomerIdentifier, str]:
    """A new customer's email and id, after one order of 100.00 applied through ``service``."""
    email = fresh_email()
    first = order(email, amount="100.00")
    await service.handle_batch([first])
    return email, await the_customer(db, first)


async def test_cached_customers_equal_the_stored_ones_after_every_kind_of_write(
    db: AsyncDatabase[Document], cached: ProfileService, cached_store: MongoProfileStore
) -> None:
    email, phone, other = fresh_email(), fresh_phone(), fresh_email()
    now = datetime.now(UTC)
    batches = [
        [interaction(email, at=now - timedelta(days=2))],  # a new customer with a case
        [order(email, phone), page_view(email)],  # a second identifier, an order, web activity
        [interaction(email, text="Jeg vil klage, varen var ødelagt", at=now), order(email, amount="499.00")],
        [interaction(other)],
        [order(other, phone)],  # the phone links both: one merges into the other
    ]
    for batch in batches:
        await cached.handle_batch(batch)
    [survivor] = await customers_of(db, {email.key, phone.key, other.key})
    merged_away = [d["_id"] async for d in db[CUSTOMERS_COLLECTION].find({"merged_into": survivor})]
    ids = [survivor, *merged_away]
    assert len(ids) == 2

    from_cache = await cached_store.customers(ids)
    from_store = await MongoProfileStore(db).customers(ids)
    assert {i: comparable(c) for i, c in from_cache.items()} == {
        i: comparable(c) for i, c in from_store.items()
    }
    assert all(customer.version > 1 for customer in from_store.values())


async def test_writes_from_cached_copies_store_what_whole_writes_store(
    db: AsyncDatabase[Document], publisher: AsyncEventPublisher
) -> None:
    """A write planned from a copy this worker wrote sends only the parts that changed; the same events
    through a store without a cache (every write whole, in a database of its own) leave equal customers."""
    email, phone, other = fresh_email(), fresh_phone(), fresh_email()
    now = datetime.now(UTC)
    batches = [
        [interaction(email, at=now - timedelta(days=2))],  # a new customer with a case
        [page_view(email, at=now - timedelta(days=1))],  # only a date moves
        [order(email, phone), page_view(email, at=now)],  # a second identifier, an order
        [interaction(email, text="Jeg vil klage, varen var ødelagt", at=now)],  # the case, an experience
        [order(email, amount="499.00", at=now)],
        [interaction(other, at=now)],
        [order(other, phone, at=now)],  # the phone links both: one merges into the other
        [page_view(email, at=now + timedelta(hours=2))],  # only a date moves, after a merge
    ]
    whole_db = db.client[f"{db.name}-whole-{uuid.uuid4().hex[:8]}"]
    await ensure_indexes(whole_db, INDEXES)
    try:
        at = [now]
        store = MongoProfileStore(db, CustomerCache(1000))
        cached = ProfileService(store, KafkaChangeFeed(publisher), MongoPrivacyStore(db), lambda: at[0])
        whole = ProfileService(
            MongoProfileStore(whole_db),
            KafkaChangeFeed(publisher),
            MongoPrivacyStore(whole_db),
            lambda: at[0],
        )
        for batch in batches:
            outcome = await cached.handle_batch(batch)
            assert outcome.customers_written > 0  # every batch writes: each is a case to compare
            await whole.handle_batch(batch)
            at[0] += timedelta(minutes=1)
        ids = await customers_of(db, {email.key, phone.key, other.key})
        ids |= {d["_id"] async for d in db[CUSTOMERS_COLLECTION].find({"merged_into": {"$in": list(ids)}})}

        def stored(document: Document) -> Document:
            # Writer ids and outbox messages carry ids of their own in each run.
            return {name: value for name, value in document.items() if name not in ("write_ids", "outbox")}

        partial = {
            d["_id"]: stored(d) async for d in db[CUSTOMERS_COLLECTION].find({"_id": {"$in": list(ids)}})
        }
        whole_written = {
            d["_id"]: stored(d)
            async for d in whole_db[CUSTOMERS_COLLECTION].find({"_id": {"$in": list(ids)}})
        }
        assert len(partial) == 2
        assert partial == whole_written
    finally:
        await db.client.drop_database(whole_db.name)


async def test_a_write_planned_from_a_copy_another_writer_changed_is_made_again_from_the_stored_one(
    db: AsyncDatabase[Document], publisher: AsyncEventPublisher, cached: ProfileService
) -> None:
    email, customer_id = await a_customer_with_an_order(db, cached)

    await uncached(db, publisher).handle_batch([order(email, amount="200.00")])  # the cache never sees it
    outcome = await cached.handle_batch([order(email, amount="300.00")])

    assert outcome.attempts == 2  # the first attempt, from the cached copy, lost its compare-and-set
    stored = await db[CUSTOMERS_COLLECTION].find_one({"_id": customer_id})
    assert stored is not None
    assert stored["summary"]["historic_value"] == "600.00"
    assert stored["version"] == 3


async def test_a_customer_erased_and_written_anew_to_the_same_version_is_not_overwritten_from_the_cache(
    db: AsyncDatabase[Document], publisher: AsyncEventPublisher, cached: ProfileService
) -> None:
    """The version alone would match: the document now holds another write."""
    email, customer_id = await a_customer_with_an_order(db, cached)
    document = await db[CUSTOMERS_COLLECTION].find_one({"_id": customer_id})
    assert document is not None
    assert document["version"] == 1
    await db[CUSTOMERS_COLLECTION].replace_one(
        {"_id": customer_id}, {**document, "write_ids": ["written-anew"], "orders": []}
    )

    outcome = await cached.handle_batch([order(email, amount="300.00")])

    assert outcome.attempts == 2
    stored = await db[CUSTOMERS_COLLECTION].find_one({"_id": customer_id})
    assert stored is not None
    assert stored["summary"]["historic_value"] == "300.00"  # planned from the new document, not the copy


async def test_a_cached_outbox_drops_the_entries_the_stored_one_drops(
    db: AsyncDatabase[Document], publisher: AsyncEventPublisher, cached_store: MongoProfileStore
) -> None:
    """Entries older than the retention go once newer ones are kept beside them (``entries_kept``). The
    batches are applied and never finished, as when every publish failed: none of them is over."""
    now = [datetime.now(UTC)]
    service = ProfileService(cached_store, KafkaChangeFeed(publisher), MongoPrivacyStore(db), lambda: now[0])
    email = fresh_email()
    for n in range(7):
        await service.apply_batch([order(email, amount=f"{n + 1}00.00")])
        now[0] += timedelta(hours=2)
    customer_id = await the_customer_of(db, email)

    from_cache = await cached_store.customers([customer_id])
    from_store = await MongoProfileStore(db).customers([customer_id])
    assert comparable(from_cache[customer_id]) == comparable(from_store[customer_id])
    assert 1 < len(from_store[customer_id].outbox) < 7


async def test_the_entries_of_finished_batches_go_with_the_next_write(
    db: AsyncDatabase[Document], cached: ProfileService, cached_store: MongoProfileStore
) -> None:
    """Published and on the timeline, they are over: a customer written often keeps only the entries of
    batches not finished yet, and a write without messages of its own drops the rest."""
    email = fresh_email()
    for n in range(4):
        await cached.handle_batch([order(email, amount=f"{n + 1}00.00")])
    customer_id = await the_customer_of(db, email)

    async def stored_outbox() -> int:
        stored = (await MongoProfileStore(db).customers([customer_id]))[customer_id]
        assert comparable((await cached_store.customers([customer_id]))[customer_id]) == comparable(stored)
        assert not any(entry.settled for entry in stored.outbox)  # a read knows nothing of it
        return len(stored.outbox)

    assert await stored_outbox() == 1  # the fourth batch's: each write dropped the finished ones before
    finish_fifth = await cached.apply_batch([order(email, amount="500.00")])
    finish_sixth = await cached.apply_batch([order(email, amount="600.00")])
    assert await stored_outbox() == 2  # the fifth and sixth batches are not finished
    await finish_fifth()
    await finish_sixth()
    await cached.handle_batch([page_view(email, at=datetime.now(UTC) + timedelta(minutes=1))])
    assert await stored_outbox() == 0
