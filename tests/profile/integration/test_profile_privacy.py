"""Export and erase over real HTTP, on customers the real profile worker built from events on the real
broker, against the real MongoDB-wire server; tombstones read back from the compacted topic."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo.asynchronous.database import AsyncDatabase

from schemas.catalog import TOPICS
from schemas.envelope import Event
from schemas.identifiers import CustomerIdentifier
from services.common.http.testing import LocalIssuer
from services.common.kafka.connection import aiokafka_options
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document
from services.common.settings import CommonSettings
from services.profile.adapters.outbound.kafka_changes import KafkaChangeFeed
from services.profile.adapters.outbound.kafka_tombstones import PROFILES_TOPIC
from services.profile.adapters.outbound.mongo_privacy import MongoPrivacyStore
from services.profile.adapters.outbound.mongo_store import MongoProfileStore
from services.profile.core.erasure import is_suppressed, key_hash, plan_erasure
from services.profile.core.observe import ProfilePayload
from services.profile.indexes import (
    CASE_OWNERS_COLLECTION,
    CUSTOMERS_COLLECTION,
    ERASURES_COLLECTION,
    LINKS_COLLECTION,
    MERGES_COLLECTION,
    REVIEWS_COLLECTION,
    TIMELINE_COLLECTION,
)
from services.profile.ports import CustomerWrite
from services.profile.service import ProfileService
from tests.profile.integration.conftest import api_client
from tests.profile.integration.profile_flow import (
    AT,
    customers_of,
    eventually,
    fresh_email,
    fresh_phone,
    interaction,
    on_timeline,
    order,
    running_worker,
    state_hash,
    topic_of,
    worker_settings,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def api(profile_url: str, issuer: LocalIssuer) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(profile_url, issuer, ["customers:write"]) as client:
        yield client


def _recorded(db: AsyncDatabase[Document], ids: list[str]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await on_timeline(db, ids)

    return check


async def through_the_worker(
    infra: CommonSettings,
    db: AsyncDatabase[Document],
    publisher: AsyncEventPublisher,
    *rounds: list[Event[ProfilePayload]],
    app_id: str | None = None,
) -> None:
    """Publish each round on Kafka and let the real worker record it before the next round. A new
    ``app_id`` (the default) is a new consumer group: it replays every topic from offset 0."""
    async with running_worker(worker_settings(infra, app_id)):
        for events in rounds:
            for event in events:
                await publisher.publish(topic_of(event), event)
            ids = [event.id for event in events]
            await eventually(_recorded(db, ids), what="the events on the timeline")


@dataclass
class People:
    """Kari (two customers merged into one, plus an event held for review that names Ola and Per too)
    and Ola, someone else entirely."""

    kari_email: CustomerIdentifier
    kari_phone: CustomerIdentifier
    ola_email: CustomerIdentifier
    ola_phone: CustomerIdentifier
    per_email: CustomerIdentifier
    kari: str
    kari_away: str
    ola: str
    kari_events: list[str]
    ola_events: list[str]
    held_event: str

    @property
    def kari_ids(self) -> set[str]:
        return {self.kari, self.kari_away}

    @property
    def ola_keys(self) -> list[str]:
        return [self.ola_email.key, self.ola_phone.key]


async def seed(infra: CommonSettings, db: AsyncDatabase[Document], publisher: AsyncEventPublisher) -> People:
    kari_email, kari_phone, ola_email, ola_phone, per_email = (
        fresh_email(),
        fresh_phone(),
        fresh_email(),
        fresh_phone(),
        fresh_email(),
    )
    kari_first = [interaction(kari_email, at=AT - timedelta(days=10), text="Kari skriver om sko")]
    kari_second = [interaction(kari_phone, at=AT - timedelta(days=9), text="Kari ringer")]
    ola_events = [
        interaction(ola_email, ola_phone, at=AT - timedelta(days=5), text="Ola spør om jakke"),
        order(ola_email, amount="999.00"),
    ]
    per_events = [interaction(per_email, at=AT - timedelta(days=4))]
    merge = [interaction(kari_email, kari_phone, at=AT - timedelta(days=2)), order(kari_email)]
    # Three customers on one event: held for review, recorded on the first-seen one (Kari).
    held = [interaction(kari_email, ola_email, per_email, at=AT - timedelta(days=1), text="Felles tråd")]
    await through_the_worker(infra, db, publisher, kari_first + kari_second + ola_events + per_events)
    [kari] = await customers_of(db, [kari_email.key])
    [kari_away] = await customers_of(db, [kari_phone.key])
    assert kari != kari_away
    await through_the_worker(infra, db, publisher, merge, held)
    assert await customers_of(db, [kari_email.key, kari_phone.key]) == {kari}
    [ola] = await customers_of(db, [ola_email.key])
    away = await db[CUSTOMERS_COLLECTION].find_one({"_id": kari_away})
    assert away is not None
    assert away["merged_into"] == kari
    return People(
        kari_email=kari_email,
        kari_phone=kari_phone,
        ola_email=ola_email,
        ola_phone=ola_phone,
        per_email=per_email,
        kari=kari,
        kari_away=kari_away,
        ola=ola,
        kari_events=[event.id for event in kari_first + kari_second + merge + held],
        ola_events=[event.id for event in ola_events],
        held_event=held[0].id,
    )


async def counts_of(db: AsyncDatabase[Document], customer_ids: Collection[str]) -> dict[str, int]:
    ids = list(customer_ids)
    return {
        TIMELINE_COLLECTION: await db[TIMELINE_COLLECTION].count_documents({"customer_id": {"$in": ids}}),
        LINKS_COLLECTION: await db[LINKS_COLLECTION].count_documents({"customer_id": {"$in": ids}}),
        REVIEWS_COLLECTION: await db[REVIEWS_COLLECTION].count_documents({"customers": {"$in": ids}}),
        CASE_OWNERS_COLLECTION: await db[CASE_OWNERS_COLLECTION].count_documents(
            {"customer_id": {"$in": ids}}
        ),
        MERGES_COLLECTION: await db[MERGES_COLLECTION].count_documents(
            {"$or": [{"survivor_id": {"$in": ids}}, {"merged_away_id": {"$in": ids}}]}
        ),
        CUSTOMERS_COLLECTION: await db[CUSTOMERS_COLLECTION].count_documents({"_id": {"$in": ids}}),
    }


async def last_values(infra: CommonSettings, keys: Collection[str]) -> dict[str, bytes | None]:
    """The last message of each key on the profile topic, read from offset 0 to its end."""
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **aiokafka_options(infra))
    await consumer.start()
    try:
        [spec] = [topic for topic in TOPICS if topic.name == PROFILES_TOPIC]  # as provisioned
        partitions = [TopicPartition(PROFILES_TOPIC, number) for number in range(spec.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        wanted = {key.encode() for key in keys}
        last: dict[str, bytes | None] = {}
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batches = await consumer.getmany(*partitions, timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    if record.key in wanted:
                        last[record.key.decode()] = record.value
        return last
    finally:
        await consumer.stop()


async def test_export_holds_everything_about_the_person_and_nothing_about_anyone_else(
    infra: CommonSettings, db: AsyncDatabase[Document], publisher: AsyncEventPublisher, api: httpx.AsyncClient
) -> None:
    people = await seed(infra, db, publisher)

    response = await api.get(f"/v1/customers/{people.kari}/export")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    export = response.json()
    assert export["customer_id"] == people.kari
    assert export["merged_customer_ids"] == [people.kari_away]
    assert [c["customer_id"] for c in export["customers"]] == [people.kari, people.kari_away]
    survivor = export["customers"][0]
    assert {i["value"] for i in survivor["identifiers"]} == {people.kari_email.value, people.kari_phone.value}
    assert survivor["summary"]["historic_value"] == "1499.00"
    assert survivor["orders"]
    assert {link["key"] for link in export["links"]} == {people.kari_email.key, people.kari_phone.key}
    assert all(link["event_id"] and link["rule"] and link["linked_at"] for link in export["links"])
    assert sorted(entry["event_id"] for entry in export["timeline"]) == sorted(people.kari_events)
    times = [entry["occurred_at"] for entry in export["timeline"]]
    assert times == sorted(times)
    assert any(entry["contact"]["text"] == "Kari skriver om sko" for entry in export["timeline"])
    [review] = export["reviews"]
    assert review["event_id"] == people.held_event
    assert review["customers"] == [people.kari]
    assert all(case["customer_id"] in people.kari_ids for case in export["cases"])
    [merge] = export["merges"]
    assert (merge["survivor_id"], merge["merged_away_id"]) == (people.kari, people.kari_away)

    # Nothing of Ola (nor of Per, named by the held event) is in it.
    text = response.text
    for foreign in (people.ola, people.ola_email.value, people.ola_phone.value, people.per_email.value):
        assert foreign not in text
    assert "Ola spør" not in text
    assert "999.00" not in text

    # A merged-away id answers with the survivor's export.
    moved = await api.get(f"/v1/customers/{people.kari_away}/export")
    assert moved.status_code == 308
    assert moved.headers["location"] == f"/v1/customers/{people.kari}/export"
    followed = await api.get(f"/v1/customers/{people.kari_away}/export", follow_redirects=True)
    assert followed.json() == export

    ola = (await api.get(f"/v1/customers/{people.ola}/export")).json()
    assert {link["key"] for link in ola["links"]} == set(people.ola_keys)
    assert people.kari_email.value not in json.dumps(ola)
    # The held event named Ola's email, but it is on Kari's timeline, so not in Ola's export.
    assert sorted(entry["event_id"] for entry in ola["timeline"]) == sorted(people.ola_events)


@pytest.mark.usefixtures("worker")
async def test_after_an_undone_merge_each_export_holds_only_its_own_side_of_the_merge(
    db: AsyncDatabase[Document], publisher: AsyncEventPublisher, api: httpx.AsyncClient
) -> None:
    # Kari's email and Ola's phone were taken for one person (one contact named both), then split again.
    kari_email, ola_phone = fresh_email(), fresh_phone()
    kari_first = interaction(kari_email, at=AT - timedelta(days=3), text="Kari skriver om sko")
    ola_first = interaction(ola_phone, at=AT - timedelta(days=2), text="Ola spør om jakke")
    bridge = interaction(kari_email, ola_phone, at=AT - timedelta(days=1), text="Felles tråd")
    for event in (kari_first, ola_first, bridge):
        await publisher.publish(topic_of(event), event)
        await eventually(_recorded(db, [event.id]), what="the event on the timeline")
    [kari] = await customers_of(db, [kari_email.key])
    merge = await db[MERGES_COLLECTION].find_one({"survivor_id": kari})
    assert merge is not None
    ola = merge["merged_away_id"]
    undo = await api.post(f"/v1/merges/{merge['_id']}:undo")
    assert undo.status_code == 202, undo.text

    async def undone() -> bool:
        stored = await db[MERGES_COLLECTION].find_one({"_id": merge["_id"]})
        return stored is not None and stored["undone_at"] is not None

    await eventually(undone, what="the unmerge applied")
    assert await customers_of(db, [ola_phone.key]) == {ola}

    for own, own_event, other, other_identifier, other_event in (
        (kari, kari_first.id, ola, ola_phone, ola_first.id),
        (ola, ola_first.id, kari, kari_email, kari_first.id),
    ):
        response = await api.get(f"/v1/customers/{own}/export")
        assert response.status_code == 200, response.text
        [record] = response.json()["merges"]
        assert (record["merge_id"], record["undone_at"] is not None) == (merge["_id"], True)
        assert own in (record.get("survivor_id"), record.get("merged_away_id"))
        assert own_event in json.dumps(record)
        # Nothing of the other person: not their id, identifiers or events, not in kept_apart either.
        for foreign in (other, other_identifier.value, other_identifier.key, other_event):
            assert foreign not in response.text, foreign


async def test_erase_removes_the_person_everywhere_tombstones_them_and_repeats_with_the_same_receipt(
    infra: CommonSettings, db: AsyncDatabase[Document], publisher: AsyncEventPublisher, api: httpx.AsyncClient
) -> None:
    people = await seed(infra, db, publisher)
    expected = await counts_of(db, people.kari_ids)
    assert expected == {
        TIMELINE_COLLECTION: len(people.kari_events),
        LINKS_COLLECTION: 2,
        REVIEWS_COLLECTION: 1,
        CASE_OWNERS_COLLECTION: 2,  # Kari's first email and her call opened a case each, before the merge
        MERGES_COLLECTION: 1,  # the merge of her email and phone customers
        CUSTOMERS_COLLECTION: 2,
    }
    ola_before = await state_hash(db, people.ola_keys, people.ola_events)
    before_erase = datetime.now(UTC)

    response = await api.post(f"/v1/customers/{people.kari}:erase")
    assert response.status_code == 200, response.text
    receipt = response.json()
    assert receipt["customer_id"] == people.kari
    assert receipt["customer_ids"] == [people.kari, people.kari_away]
    assert receipt["deleted"] == expected
    assert receipt["tombstones"] == 2
    assert receipt["completed"] is True
    erased_at = datetime.fromisoformat(receipt["erased_at"])
    assert before_erase - timedelta(seconds=1) <= erased_at <= datetime.now(UTC)

    # Gone from every collection; Ola untouched (the case owner of Ola stays).
    assert await counts_of(db, people.kari_ids) == dict.fromkeys(expected, 0)
    assert await db[TIMELINE_COLLECTION].count_documents({"_id": {"$in": people.kari_events}}) == 0
    assert await db[LINKS_COLLECTION].count_documents({"_id": people.per_email.key}) == 1
    assert await state_hash(db, people.ola_keys, people.ola_events) == ola_before
    assert await db[CASE_OWNERS_COLLECTION].count_documents({"customer_id": people.ola}) == 1

    # The compacted topic ends in a tombstone for every erased customer id.
    last = await last_values(infra, people.kari_ids)
    assert last == {people.kari: None, people.kari_away: None}

    # Repeating the erase, by either id, answers the same receipt and changes nothing.
    again = await api.post(f"/v1/customers/{people.kari}:erase")
    assert again.status_code == 200
    assert again.json() == receipt
    by_away = await api.post(f"/v1/customers/{people.kari_away}:erase")
    assert by_away.json() == receipt
    assert (await api.get(f"/v1/customers/{people.kari}/export")).status_code == 404
    assert (await api.get(f"/v1/customers/{people.kari_away}/export")).status_code == 404

    # Only hashes are remembered; they suppress Kari's old events, not Ola's.
    stored = [document async for document in db[ERASURES_COLLECTION].find({})]
    dumped = json.dumps(stored, default=str)
    for identifier in (people.kari_email, people.kari_phone):
        assert identifier.value not in dumped
    store = MongoPrivacyStore(db)
    kari_keys = [people.kari_email.key, people.kari_phone.key]
    suppressions = await store.suppressions([key_hash(key) for key in [*kari_keys, *people.ola_keys]])
    assert suppressions == {key_hash(key): erased_at for key in kari_keys}
    assert key_hash(people.ola_email.key) not in suppressions  # named by the held event, but Ola's
    assert is_suppressed(kari_keys, AT - timedelta(days=2), suppressions)
    assert is_suppressed([people.kari_email.key], AT, suppressions)
    assert not is_suppressed([people.kari_email.key], erased_at + timedelta(seconds=1), suppressions)
    assert not is_suppressed([people.kari_email.key, people.ola_email.key], AT, suppressions)
    assert await store.suppressions([]) == {}


async def test_an_erase_interrupted_after_recording_is_finished_by_repeating_it(
    infra: CommonSettings, db: AsyncDatabase[Document], publisher: AsyncEventPublisher, api: httpx.AsyncClient
) -> None:
    email = fresh_email()
    events = [interaction(email, at=AT - timedelta(days=3)), order(email)]
    await through_the_worker(infra, db, publisher, events)
    [customer] = await customers_of(db, [email.key])
    store = MongoPrivacyStore(db)
    # The process died right after recording the erasure: nothing deleted, nothing tombstoned.
    plan = plan_erasure(customer, [customer], [email.key], datetime.now(UTC))
    await store.record_erasure(plan)
    assert await counts_of(db, [customer]) != dict.fromkeys(await counts_of(db, [customer]), 0)

    response = await api.post(f"/v1/customers/{customer}:erase")
    assert response.status_code == 200, response.text
    receipt = response.json()
    assert receipt["erasure_id"] == plan.erasure_id
    assert receipt["completed"] is True
    assert receipt["deleted"][TIMELINE_COLLECTION] == 2
    assert receipt["deleted"][CUSTOMERS_COLLECTION] == 1
    assert receipt["deleted"][LINKS_COLLECTION] == 1
    assert receipt["tombstones"] == 1
    assert sum((await counts_of(db, [customer])).values()) == 0
    assert (await last_values(infra, [customer])) == {customer: None}


async def test_a_new_contact_after_the_erase_is_a_new_person_with_a_new_receipt(
    infra: CommonSettings, db: AsyncDatabase[Document], publisher: AsyncEventPublisher, api: httpx.AsyncClient
) -> None:
    email = fresh_email()
    group = f"test-profile-privacy-{uuid.uuid4().hex[:8]}"  # one worker group: no replay between runs
    await through_the_worker(
        infra, db, publisher, [interaction(email, at=AT - timedelta(days=3))], app_id=group
    )
    [customer] = await customers_of(db, [email.key])
    first = (await api.post(f"/v1/customers/{customer}:erase")).json()

    later = interaction(email, at=datetime.now(UTC) + timedelta(seconds=5), text="Hei igjen")
    store = MongoPrivacyStore(db)
    suppressed = await store.suppressions([key_hash(email.key)])
    assert not is_suppressed([email.key], later.data.occurred_at, suppressed)  # the worker keeps it
    await through_the_worker(infra, db, publisher, [later], app_id=group)
    [again] = await customers_of(db, [email.key])
    export = (await api.get(f"/v1/customers/{again}/export")).json()
    assert [entry["event_id"] for entry in export["timeline"]] == [later.id]

    second = (await api.post(f"/v1/customers/{again}:erase")).json()
    assert second["erasure_id"] != first["erasure_id"]
    assert second["deleted"][TIMELINE_COLLECTION] == 1
    assert (await api.post(f"/v1/customers/{again}:erase")).json() == second
    renewed = await store.suppressions([key_hash(email.key)])
    assert renewed[key_hash(email.key)] == datetime.fromisoformat(second["erased_at"])
    assert renewed[key_hash(email.key)] > suppressed[key_hash(email.key)]


async def test_a_replay_from_offset_0_does_not_bring_an_erased_person_back(
    infra: CommonSettings, db: AsyncDatabase[Document], publisher: AsyncEventPublisher, api: httpx.AsyncClient
) -> None:
    email, phone = fresh_email(), fresh_phone()
    events = [interaction(email, phone, at=AT - timedelta(days=3)), order(email)]
    await through_the_worker(infra, db, publisher, events)
    [customer] = await customers_of(db, [email.key])
    assert (await api.post(f"/v1/customers/{customer}:erase")).status_code == 200

    replayed = interaction(fresh_email())  # a new consumer group replays every topic from offset 0
    await through_the_worker(infra, db, publisher, [replayed])
    assert await customers_of(db, [email.key, phone.key]) == set()
    assert await db[TIMELINE_COLLECTION].count_documents({"_id": {"$in": [e.id for e in events]}}) == 0
    assert await db[CUSTOMERS_COLLECTION].count_documents({"_id": customer}) == 0


@pytest.mark.parametrize(
    "customer_id",
    [
        "x" * 201,
        "%00",
        "abc%0Adef",
        "%7B%22%24ne%22%3A1%7D",  # {"$ne":1}
        "..%2F..%2Fetc",
        "ø" * 50,
        "%F0%9F%98%80",
        "a%ED%A0%80",
        "$where",
    ],
)
async def test_hostile_ids_are_404_or_422_never_500(api: httpx.AsyncClient, customer_id: str) -> None:
    for method, path in (
        ("GET", f"/v1/customers/{customer_id}/export"),
        ("POST", f"/v1/customers/{customer_id}:erase"),
    ):
        response = await api.request(method, path)
        assert response.status_code in {404, 422}, (method, customer_id, response.status_code)
        assert response.headers["content-type"] == "application/problem+json"


async def test_export_and_erase_need_the_customers_write_scope(
    infra: CommonSettings,
    db: AsyncDatabase[Document],
    publisher: AsyncEventPublisher,
    profile_url: str,
    issuer: LocalIssuer,
) -> None:
    email = fresh_email()
    await through_the_worker(infra, db, publisher, [interaction(email)])
    [customer] = await customers_of(db, [email.key])
    for scopes in (["customers:read"], ["interactions:write"]):
        async with api_client(profile_url, issuer, scopes) as client:
            export = await client.get(f"/v1/customers/{customer}/export")
            erase = await client.post(f"/v1/customers/{customer}:erase")
            assert (export.status_code, erase.status_code) == (403, 403)
            assert email.value not in export.text + erase.text
    async with httpx.AsyncClient(base_url=profile_url) as anonymous:
        assert (await anonymous.post(f"/v1/customers/{customer}:erase")).status_code == 401
    assert await db[CUSTOMERS_COLLECTION].count_documents({"_id": customer}) == 1


def _where(value: object, needle: str, path: str = "") -> list[str]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _where(v, needle, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for n, v in enumerate(value) for p in _where(v, needle, f"{path}[{n}]")]
    return [path] if needle in str(value) else []


class EraseDuringTheWrite(MongoProfileStore):
    """The store of a worker batch that read the person just before an operator erased them: the erase
    lands between the batch's reads and its customer write."""

    def __init__(self, db: AsyncDatabase[Document], erase: Callable[[], Awaitable[object]]) -> None:
        super().__init__(db)
        self._erase: Callable[[], Awaitable[object]] | None = erase

    async def save_customers(self, writes: Sequence[CustomerWrite], write_id: str) -> set[str]:
        if self._erase is not None:
            erase, self._erase = self._erase, None
            await erase()
        return await super().save_customers(writes, write_id)


async def test_a_batch_racing_an_erase_does_not_write_the_person_back(
    infra: CommonSettings, db: AsyncDatabase[Document], publisher: AsyncEventPublisher, api: httpx.AsyncClient
) -> None:
    email = fresh_email()
    await through_the_worker(infra, db, publisher, [interaction(email, at=AT - timedelta(days=3))])
    [customer] = await customers_of(db, [email.key])

    async def erase() -> None:
        assert (await api.post(f"/v1/customers/{customer}:erase")).status_code == 200

    late = order(email)  # occurred before the erase, processed while it happens
    service = ProfileService(
        EraseDuringTheWrite(db, erase),
        KafkaChangeFeed(publisher),
        MongoPrivacyStore(db),
        lambda: datetime.now(UTC),
    )
    outcome = await service.handle_batch([late])

    assert outcome.customers_written == 0
    assert sum((await counts_of(db, [customer])).values()) == 0
    assert await customers_of(db, [email.key]) == set()
    assert await db[TIMELINE_COLLECTION].find_one({"_id": late.id}) is None
