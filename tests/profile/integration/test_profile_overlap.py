"""A batch applied while the one before it is still finishing (the worker overlaps them), against the
real database: finishes publish and record in the order the batches were applied, a merge waits for
the batch before it to be on the timeline, so its record lists that batch's events, and a batch given
up after a failure holds up none after it; a person erased before the finish is left out of it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document
from services.profile.adapters.outbound.kafka_tombstones import KafkaTombstones
from services.profile.adapters.outbound.mongo_privacy import MongoPrivacyStore
from services.profile.adapters.outbound.mongo_store import MongoProfileStore
from services.profile.indexes import MERGES_COLLECTION, TIMELINE_COLLECTION
from services.profile.ports import Outgoing
from services.profile.privacy import PrivacyService
from services.profile.service import ProfileService
from tests.profile.integration.profile_flow import AT, customers_of, fresh_email, fresh_phone, interaction

pytestmark = pytest.mark.integration

# Long enough for a waiting task to have gone as far as it can on this machine.
SETTLE_S = 0.5


def clock() -> datetime:
    return datetime.now(UTC)


class RecordingFeed:
    """Keeps what is published, in order (the order is what these tests are about)."""

    def __init__(self) -> None:
        self.keys: list[str | None] = []

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        self.keys.extend(message.key for message in messages)


def service_on(db: AsyncDatabase[Document], feed: RecordingFeed) -> ProfileService:
    return ProfileService(MongoProfileStore(db), feed, MongoPrivacyStore(db), clock)


async def test_finishes_run_in_the_order_their_batches_were_applied(db: AsyncDatabase[Document]) -> None:
    feed = RecordingFeed()
    service = service_on(db, feed)
    first_email, second_email = fresh_email(), fresh_email()
    first, second = interaction(first_email), interaction(second_email)
    finish_first = await service.apply_batch([first])
    finish_second = await service.apply_batch([second])
    [first_customer] = await customers_of(db, [first_email.key])
    [second_customer] = await customers_of(db, [second_email.key])
    assert feed.keys == []  # applied: written, nothing published yet

    second_finishing = asyncio.create_task(finish_second())
    await asyncio.sleep(SETTLE_S)
    assert not second_finishing.done()  # waits for the batch before it
    assert await db[TIMELINE_COLLECTION].count_documents({"_id": {"$in": [first.id, second.id]}}) == 0

    first_outcome = await finish_first()
    second_outcome = await second_finishing

    assert first_outcome.published > 0
    assert second_outcome.published > 0
    assert feed.keys == [first_customer] * first_outcome.published + [second_customer] * (
        second_outcome.published
    )
    assert await db[TIMELINE_COLLECTION].count_documents({"_id": {"$in": [first.id, second.id]}}) == 2


async def test_a_merge_waits_for_the_batch_before_it_to_be_on_the_timeline(
    db: AsyncDatabase[Document],
) -> None:
    service = service_on(db, RecordingFeed())
    email, phone = fresh_email(), fresh_phone()
    await service.handle_batch([interaction(email, at=AT - timedelta(days=2))])
    by_phone = interaction(phone, at=AT - timedelta(days=1))
    finish_by_phone = await service.apply_batch([by_phone])  # written, not yet on the timeline

    both = interaction(email, phone)
    merging = asyncio.create_task(service.apply_batch([both]))
    await asyncio.sleep(SETTLE_S)
    assert not merging.done()
    assert await db[MERGES_COLLECTION].count_documents({"cause_event_id": both.id}) == 0

    await finish_by_phone()
    await (await merging)()

    [record] = await db[MERGES_COLLECTION].find({"cause_event_id": both.id}).to_list()
    listed = set(record["survivor_event_ids"]) | set(record["merged_away_event_ids"])
    assert by_phone.id in listed
    assert len(await customers_of(db, [email.key, phone.key])) == 1


class DownOnce(RecordingFeed):
    """The broker is unreachable for the first publish only."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        if not self.failed:
            self.failed = True
            raise ConnectionError("broker unreachable")
        await super().publish(messages)


async def test_a_batch_given_up_holds_up_no_later_batch(db: AsyncDatabase[Document]) -> None:
    service = service_on(db, DownOnce())
    with pytest.raises(ConnectionError):
        await service.handle_batch([interaction(fresh_email())])

    email, phone = fresh_email(), fresh_phone()
    await asyncio.wait_for(service.handle_batch([interaction(email)]), timeout=30)
    await asyncio.wait_for(service.handle_batch([interaction(phone)]), timeout=30)
    merged = await asyncio.wait_for(service.handle_batch([interaction(email, phone)]), timeout=30)

    assert merged.applied == 1
    assert len(await customers_of(db, [email.key, phone.key])) == 1


async def test_a_person_erased_while_the_batch_finishes_is_neither_published_nor_recorded(
    db: AsyncDatabase[Document], publisher: AsyncEventPublisher
) -> None:
    feed = RecordingFeed()
    service = service_on(db, feed)
    email, other_email = fresh_email(), fresh_email()
    event, other = interaction(email), interaction(other_email)
    finish = await service.apply_batch([event, other])
    [customer_id] = await customers_of(db, [email.key])
    [other_customer] = await customers_of(db, [other_email.key])

    erasing = PrivacyService(MongoPrivacyStore(db), KafkaTombstones(publisher))
    assert await erasing.erase(customer_id, clock()) is not None
    outcome = await finish()

    assert customer_id not in feed.keys
    assert set(feed.keys) == {other_customer}
    assert outcome.published == len(feed.keys)
    assert await db[TIMELINE_COLLECTION].count_documents({"_id": event.id}) == 0
    assert await db[TIMELINE_COLLECTION].count_documents({"_id": other.id}) == 1
