"""What profile publishes, against the real broker and database: a contact that needs an answer opens a
case on ``cases.v1`` (a follow-up joins it) with the customer's snapshot; profile changes go to
``profiles.v1`` naming the fields that moved; a merge moves the merged-away customer's open cases; and a
crash between the database write and the publish loses no message."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from schemas.cases import CaseChange, CaseChanged, CaseStatus
from schemas.customers import LifecycleStage, ProfileChanged, Tier
from schemas.envelope import Event, Payload
from schemas.identifiers import IdentifierKind
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document
from services.common.settings import CommonSettings
from services.profile.adapters.outbound.documents import outbox_from_document
from services.profile.adapters.outbound.kafka_changes import KafkaChangeFeed
from services.profile.adapters.outbound.mongo_privacy import MongoPrivacyStore
from services.profile.adapters.outbound.mongo_store import MongoProfileStore
from services.profile.core.observe import ProfilePayload
from services.profile.indexes import CUSTOMERS_COLLECTION, TIMELINE_COLLECTION
from services.profile.ports import Outgoing
from services.profile.service import ProfileService
from tests.profile.integration.profile_flow import (
    customers_of,
    fresh,
    fresh_email,
    fresh_phone,
    interaction,
    order,
    page_view,
    published,
)

pytestmark = pytest.mark.integration


def clock() -> datetime:
    return datetime.now(UTC)


class BrokerDown:
    """A feed whose broker is unreachable: the write has landed, the publish fails (a crash in between)."""

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        raise ConnectionError("broker unreachable")


def cases_in(events: list[Event[Payload]]) -> list[CaseChanged]:
    return [event.data for event in events if isinstance(event.data, CaseChanged)]


def profiles_in(events: list[Event[Payload]]) -> list[ProfileChanged]:
    return [event.data for event in events if isinstance(event.data, ProfileChanged)]


async def test_a_contact_opens_a_case_a_follow_up_joins_it_and_profile_changes_name_their_fields(
    infra: CommonSettings, db: AsyncDatabase[Document], publisher: AsyncEventPublisher
) -> None:
    service = ProfileService(MongoProfileStore(db), KafkaChangeFeed(publisher), MongoPrivacyStore(db), clock)
    email, cookie = fresh_email(), fresh(IdentifierKind.COOKIE)
    first = interaction(email)
    await service.handle_batch([first])
    [customer_id] = await customers_of(db, [email.key])
    await service.handle_batch([interaction(email, text="Pakken har ikke kommet ennå")])
    await service.handle_batch([page_view(cookie, email)])
    outcome = await service.handle_batch([page_view(cookie)])

    assert outcome.published == 0  # nothing anyone publishes changed
    opened, joined = cases_in(await published(infra, "cases.v1", customer_id, at_least=2))
    assert (opened.change, joined.change) == (CaseChange.OPENED, CaseChange.JOINED)
    assert opened.case_id == joined.case_id
    assert (joined.status, joined.interactions, joined.customer_id) == (CaseStatus.OPEN, 2, customer_id)
    assert opened.contact is not None
    assert opened.contact.event_id == first.id
    assert [i.key for i in opened.contact.identifiers] == [email.key]
    assert (opened.customer.tier, opened.customer.lifecycle) == (Tier.STANDARD, LifecycleStage.PROSPECT)
    assert (opened.customer.language, opened.customer.preferred_channel) == ("nb", "email")
    created, cookie_linked = profiles_in(await published(infra, "profiles.v1", customer_id, at_least=2))
    assert {"tier", "lifecycle", "identifiers", "language"} <= set(created.changed)
    assert cookie_linked.changed == ["identifiers"]
    assert {i.key for i in cookie_linked.identifiers} == {email.key, cookie.key}
    stored = await db[CUSTOMERS_COLLECTION].find_one({"_id": customer_id})
    assert stored is not None
    assert stored["link_counts"] == {"cookie": 1, "email": 1}
    assert [case["case_id"] for case in stored["cases"]] == [opened.case_id]


async def test_a_crash_between_the_write_and_the_publish_loses_no_message(
    infra: CommonSettings, db: AsyncDatabase[Document], publisher: AsyncEventPublisher
) -> None:
    store = MongoProfileStore(db)
    email = fresh_email()
    event = interaction(email)
    with pytest.raises(ConnectionError):
        await ProfileService(store, BrokerDown(), MongoPrivacyStore(db), clock).handle_batch([event])
    [customer_id] = await customers_of(db, [email.key])
    assert await db[TIMELINE_COLLECTION].find_one({"_id": event.id}) is None  # not processed yet
    stored = await db[CUSTOMERS_COLLECTION].find_one({"_id": customer_id})
    assert stored is not None
    [kept] = stored["outbox"]
    # Read for other events, an outbox comes without its messages; for its own events, with them.
    [unrelated] = (await store.customers([customer_id], ["another-event"]))[customer_id].outbox
    with pytest.raises(ValueError, match="without its messages"):
        unrelated.messages()
    [related] = (await store.customers([customer_id], [event.id]))[customer_id].outbox
    assert len(related.messages()) == 2
    service = ProfileService(store, KafkaChangeFeed(publisher), MongoPrivacyStore(db), clock)

    redelivered = await service.handle_batch([event])
    replayed = await service.handle_batch([event])

    assert (redelivered.customers_written, redelivered.published) == (0, 2)
    assert (replayed.applied, replayed.published) == (0, 0)
    ids = {message.model_dump_json() for message in outbox_from_document(kept).messages()}
    on_cases = await published(infra, "cases.v1", customer_id, at_least=1)
    on_profiles = await published(infra, "profiles.v1", customer_id, at_least=1)
    assert len(on_cases) == len(on_profiles) == 1
    assert {event.model_dump_json() for event in on_cases + on_profiles} == ids
    assert await db[TIMELINE_COLLECTION].find_one({"_id": event.id}) is not None


async def crashed_after_the_write(
    db: AsyncDatabase[Document], event: Event[ProfilePayload]
) -> tuple[str, set[str]]:
    """Apply ``event`` with the broker down (a crash between the write and the publish); returns its
    customer and the messages its outbox kept, as JSON."""
    store = MongoProfileStore(db)
    with pytest.raises(ConnectionError):
        await ProfileService(store, BrokerDown(), MongoPrivacyStore(db), clock).handle_batch([event])
    [customer_id] = await customers_of(db, [event.data.identifiers[0].key])
    stored = await db[CUSTOMERS_COLLECTION].find_one({"_id": customer_id})
    assert stored is not None
    [kept] = stored["outbox"]
    return customer_id, {message.model_dump_json() for message in outbox_from_document(kept).messages()}


async def test_a_redelivery_with_new_events_beside_the_old_publishes_the_old_messages_too(
    infra: CommonSettings, db: AsyncDatabase[Document], publisher: AsyncEventPublisher
) -> None:
    email = fresh_email()
    first = interaction(email, at=datetime(2026, 11, 3, 9, tzinfo=UTC))
    customer_id, unpublished = await crashed_after_the_write(db, first)
    service = ProfileService(MongoProfileStore(db), KafkaChangeFeed(publisher), MongoPrivacyStore(db), clock)

    # Delivered again with a follow-up the first delivery never reached: the customer changes again.
    follow_up = interaction(email, text="Har dere sendt den?", at=datetime(2026, 11, 3, 10, tzinfo=UTC))
    redelivered = await service.handle_batch([first, follow_up])

    assert (redelivered.applied, redelivered.customers_written) == (2, 1)
    on_cases = await published(infra, "cases.v1", customer_id, at_least=2)
    on_profiles = await published(infra, "profiles.v1", customer_id, at_least=1)
    assert unpublished <= {event.model_dump_json() for event in on_cases + on_profiles}


async def test_a_redelivery_after_many_other_writes_of_the_customer_still_publishes_its_messages(
    infra: CommonSettings, db: AsyncDatabase[Document], publisher: AsyncEventPublisher
) -> None:
    """Other replicas go on writing a customer (its events come on other partitions) until the crashed
    worker's partition has a consumer again."""
    email = fresh_email()
    first = interaction(email, at=datetime(2026, 11, 3, 9, tzinfo=UTC))
    customer_id, unpublished = await crashed_after_the_write(db, first)
    service = ProfileService(MongoProfileStore(db), KafkaChangeFeed(publisher), MongoPrivacyStore(db), clock)
    for hour in range(10, 18):
        follow_up = interaction(email, text=f"Hei igjen {hour}", at=datetime(2026, 11, 3, hour, tzinfo=UTC))
        await service.handle_batch([follow_up])
    stored = await db[CUSTOMERS_COLLECTION].find_one({"_id": customer_id})
    assert stored is not None
    assert len(stored["outbox"]) == 9  # every write of the last hour

    redelivered = await service.handle_batch([first])

    assert redelivered.published == len(unpublished)
    on_cases = await published(infra, "cases.v1", customer_id, at_least=9)
    on_profiles = await published(infra, "profiles.v1", customer_id, at_least=1)
    assert unpublished <= {event.model_dump_json() for event in on_cases + on_profiles}


async def test_outbox_entries_older_than_an_hour_go_once_newer_writes_are_kept(
    db: AsyncDatabase[Document], publisher: AsyncEventPublisher
) -> None:
    now = [datetime(2026, 11, 3, 9, tzinfo=UTC)]
    service = ProfileService(
        MongoProfileStore(db), KafkaChangeFeed(publisher), MongoPrivacyStore(db), lambda: now[0]
    )
    email = fresh_email()
    for minute in range(6):
        now[0] += timedelta(minutes=1)
        await service.handle_batch([interaction(email, text=f"Hei {minute}", at=now[0])])
    [customer_id] = await customers_of(db, [email.key])

    async def outbox_times() -> list[datetime]:
        stored = await db[CUSTOMERS_COLLECTION].find_one({"_id": customer_id})
        assert stored is not None
        return [entry["written_at"].replace(tzinfo=UTC) for entry in stored["outbox"]]

    written = await outbox_times()
    assert len(written) == 6
    now[0] += timedelta(hours=2)
    await service.handle_batch([interaction(email, text="Hei igjen", at=now[0])])

    assert await outbox_times() == [*written[-3:], now[0]]


async def test_a_merge_moves_the_merged_away_customers_open_case_to_the_survivor(
    infra: CommonSettings, db: AsyncDatabase[Document], publisher: AsyncEventPublisher
) -> None:
    service = ProfileService(MongoProfileStore(db), KafkaChangeFeed(publisher), MongoPrivacyStore(db), clock)
    email, phone = fresh_email(), fresh_phone()
    await service.handle_batch([interaction(email, at=datetime(2026, 11, 1, 9, tzinfo=UTC))])
    await service.handle_batch(
        [interaction(phone, text="Jeg vil bytte skoene", at=datetime(2026, 11, 2, tzinfo=UTC))]
    )
    [survivor] = await customers_of(db, [email.key])
    [merged_away] = await customers_of(db, [phone.key])
    [phone_case] = cases_in(await published(infra, "cases.v1", merged_away, at_least=1))

    await service.handle_batch([interaction(email, phone, text="Hei igjen")])

    moves = [
        c
        for c in cases_in(await published(infra, "cases.v1", survivor, at_least=2))
        if c.change is CaseChange.MOVED
    ]
    assert [(c.case_id, c.customer_id) for c in moves] == [(phone_case.case_id, survivor)]
    goodbye = profiles_in(await published(infra, "profiles.v1", merged_away, at_least=2))[-1]
    assert (goodbye.merged_into, "merged_into" in goodbye.changed) == (survivor, True)
    stored = await db[CUSTOMERS_COLLECTION].find_one({"_id": survivor})
    assert stored is not None
    assert phone_case.case_id in {case["case_id"] for case in stored["cases"]}


async def test_an_open_case_is_told_when_its_customers_snapshot_moves_and_only_then(
    infra: CommonSettings, db: AsyncDatabase[Document], publisher: AsyncEventPublisher
) -> None:
    """A big order makes the customer gold while the case waits: routing must rank it anew. A page view
    moves nothing routing uses, and tells the case nothing."""
    service = ProfileService(MongoProfileStore(db), KafkaChangeFeed(publisher), MongoPrivacyStore(db), clock)
    email, cookie = fresh_email(), fresh(IdentifierKind.COOKIE)
    await service.handle_batch([interaction(email)])
    [customer_id] = await customers_of(db, [email.key])
    await service.handle_batch([page_view(cookie, email)])
    await service.handle_batch([order(email, amount="25000.00")])
    await service.handle_batch([order(email, amount="10.00")])  # gold already: nothing new for the case

    changes = cases_in(await published(infra, "cases.v1", customer_id, at_least=2))
    assert [c.change for c in changes] == [CaseChange.OPENED, CaseChange.CUSTOMER_CHANGED]
    opened, told = changes
    assert told.case_id == opened.case_id
    assert (opened.customer.tier, told.customer.tier) == (Tier.STANDARD, Tier.GOLD)
    assert told.contact is None
    assert told.last_activity_at == opened.last_activity_at
