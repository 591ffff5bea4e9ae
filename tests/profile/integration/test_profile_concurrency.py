"""Two consumers seeing the same new customer at once create one customer: links are inserted on their
unique identifier key and customers are written with compare-and-set, so the loser re-plans."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from schemas.identifiers import IdentifierKind
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document, create_mongo_client, database
from services.common.settings import CommonSettings
from services.profile.adapters.outbound.kafka_changes import KafkaChangeFeed
from services.profile.adapters.outbound.mongo_privacy import MongoPrivacyStore
from services.profile.adapters.outbound.mongo_store import MongoProfileStore
from services.profile.indexes import CUSTOMERS_COLLECTION, TIMELINE_COLLECTION
from services.profile.service import ProfileService
from tests.profile.integration.profile_flow import (
    customers_of,
    eventually,
    fresh,
    fresh_email,
    fresh_phone,
    interaction,
    on_timeline,
    order,
    running_worker,
    topic_of,
    worker_settings,
)

pytestmark = pytest.mark.integration

ROUNDS = 15


def clock() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def two_consumers(
    infra: CommonSettings, publisher: AsyncEventPublisher
) -> AsyncIterator[tuple[ProfileService, ProfileService]]:
    """Two services with their own connections, as two worker processes would have."""
    first, second = create_mongo_client(infra), create_mongo_client(infra)
    feed = KafkaChangeFeed(publisher)
    try:
        yield (
            ProfileService(
                MongoProfileStore(database(first, infra)),
                feed,
                MongoPrivacyStore(database(first, infra)),
                clock,
            ),
            ProfileService(
                MongoProfileStore(database(second, infra)),
                feed,
                MongoPrivacyStore(database(second, infra)),
                clock,
            ),
        )
    finally:
        await first.close()
        await second.close()


async def surviving(db: AsyncDatabase[Document], customer_ids: set[str]) -> list[str]:
    cursor = db[CUSTOMERS_COLLECTION].find({"_id": {"$in": list(customer_ids)}, "merged_into": None})
    return [document["_id"] async for document in cursor]


async def test_two_consumers_racing_on_one_new_customer_create_one_customer(
    db: AsyncDatabase[Document], two_consumers: tuple[ProfileService, ProfileService]
) -> None:
    one, other = two_consumers
    for _ in range(ROUNDS):
        email = fresh_email()
        first, second = interaction(email, fresh_phone()), order(email, fresh_phone())
        await asyncio.gather(one.handle_batch([first]), other.handle_batch([second]))

        keys = {i.key for event in (first, second) for i in event.data.identifiers}
        [customer_id] = await customers_of(db, keys)
        assert await surviving(db, {customer_id}) == [customer_id]
        assert await db[TIMELINE_COLLECTION].count_documents({"customer_id": customer_id}) == 2
        customer = await db[CUSTOMERS_COLLECTION].find_one({"_id": customer_id})
        assert customer is not None
        assert len(customer["identifiers"]) == 3
        assert customer["summary"]["historic_value"] == "1499.00"


async def test_racing_consumers_that_name_the_customer_differently_converge_on_one_survivor(
    db: AsyncDatabase[Document], two_consumers: tuple[ProfileService, ProfileService]
) -> None:
    """One event names the customer by customer number, the other only by email: each consumer derives
    another id, so whichever loses the race on the email merges into the other."""
    one, other = two_consumers
    for _ in range(ROUNDS):
        email, number = fresh_email(), fresh(IdentifierKind.CUSTOMER_NUMBER)
        first, second = order(number, email), interaction(email)
        await asyncio.gather(one.handle_batch([first]), other.handle_batch([second]))

        customer_ids = await customers_of(db, {email.key, number.key})
        assert len(customer_ids) == 1
        [customer_id] = customer_ids
        assert await surviving(db, customer_ids) == [customer_id]
        timeline = db[TIMELINE_COLLECTION].find({"_id": {"$in": [first.id, second.id]}})
        assert {entry["customer_id"] async for entry in timeline} == {customer_id}


async def test_two_workers_in_one_group_consuming_one_new_customer_create_one_customer(
    infra: CommonSettings, db: AsyncDatabase[Document], publisher: AsyncEventPublisher
) -> None:
    """Events of one new customer under different Kafka keys land on different partitions, consumed by
    two workers of one consumer group."""
    group = f"test-profile-pair-{uuid.uuid4().hex[:8]}"
    email = fresh_email()
    events = [interaction(email, fresh_phone(), key=f"spread-{n}") for n in range(24)]
    async with running_worker(worker_settings(infra, group)), running_worker(worker_settings(infra, group)):
        for event in events:
            await publisher.publish(topic_of(event), event)
        await eventually(lambda: on_timeline(db, [e.id for e in events]), what="every event")

    keys = {i.key for event in events for i in event.data.identifiers}
    customer_ids = await customers_of(db, keys)
    assert len(customer_ids) == 1
    assert await surviving(db, customer_ids) == list(customer_ids)


async def test_after_a_batch_only_the_customers_merged_away_are_named(db: AsyncDatabase[Document]) -> None:
    """What a finished batch asks to follow a merge another consumer made meanwhile: the survivor of each
    customer merged away, and nothing for one not merged, one stored without the field, or none at all."""
    away, survivor, plain, older, missing = (f"c-{uuid.uuid4().hex}" for _ in range(5))
    await db[CUSTOMERS_COLLECTION].insert_many(
        [
            {"_id": away, "version": 2, "merged_into": survivor},
            {"_id": survivor, "version": 3, "merged_into": None},
            {"_id": plain, "version": 1, "merged_into": None},
            {"_id": older, "version": 1},
        ]
    )

    assert await MongoProfileStore(db).merged_into([away, survivor, plain, older, missing]) == {
        away: survivor
    }
