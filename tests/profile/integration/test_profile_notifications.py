"""Notify's ``notifications.v1`` in the profile, against the real broker and database: every notification
lands on the customer's timeline as kind ``notification`` (filterable by case and kind, in the export too),
a later status of the same notification is an entry of its own, the profile itself (first and last seen,
value, lifecycle, experience) does not move, and a notification for a customer nobody holds (never seen,
or erased) is recorded but creates nobody."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from schemas.envelope import Event
from schemas.notifications import MessageKind, NotificationChanged, NotificationStatus
from services.common.http.testing import LocalIssuer
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document
from services.common.settings import CommonSettings
from services.profile.adapters.outbound.kafka_changes import KafkaChangeFeed
from services.profile.adapters.outbound.mongo_privacy import MongoPrivacyStore
from services.profile.adapters.outbound.mongo_store import MongoProfileStore
from services.profile.indexes import CUSTOMERS_COLLECTION, TIMELINE_COLLECTION
from services.profile.service import ProfileService
from tests.profile.integration.conftest import api_client
from tests.profile.integration.profile_flow import (
    AT,
    customers_of,
    eventually,
    fresh_email,
    fresh_phone,
    interaction,
    notified,
    on_timeline,
    published,
    state_hash,
    topic_of,
)

pytestmark = pytest.mark.integration

NOTIFICATIONS = "notifications.v1"
START = AT.replace(microsecond=0)  # the store keeps milliseconds: whole seconds compare exactly
MINUTE = timedelta(minutes=1)


@pytest.fixture
async def api(profile_url: str, issuer: LocalIssuer) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(profile_url, issuer, ["customers:read", "customers:write"]) as client:
        yield client


@pytest.fixture
def service(db: AsyncDatabase[Document], publisher: AsyncEventPublisher) -> ProfileService:
    return ProfileService(
        MongoProfileStore(db), KafkaChangeFeed(publisher), MongoPrivacyStore(db), lambda: datetime.now(UTC)
    )


async def publish(publisher: AsyncEventPublisher, *events: Event[NotificationChanged]) -> None:
    for event in events:
        await publisher.publish(NOTIFICATIONS, event)


async def timeline(api: httpx.AsyncClient, customer_id: str, **params: str) -> list[dict[str, Any]]:
    response = await api.get(f"/v1/customers/{customer_id}/timeline", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def profile_of(api: httpx.AsyncClient, customer_id: str) -> dict[str, Any]:
    response = await api.get(f"/v1/customers/{customer_id}")
    assert response.status_code == 200, response.text
    profile: dict[str, Any] = response.json()
    return profile


def as_told(event: Event[NotificationChanged]) -> dict[str, Any]:
    """The timeline note a notification should become, with its instants as the API returns them."""
    sent = event.data
    expected = sent.expected_answer
    return {
        "notification_id": sent.notification_id,
        "case_id": sent.case_id,
        "kind": sent.kind.value,
        "channel": sent.channel.value,
        "language": sent.language,
        "status": sent.status.value,
        "reason": sent.reason,
        "subject": sent.subject,
        "text": sent.text,
        "expected_answer": None
        if expected is None
        else {
            "kind": expected.kind.value,
            "earliest": expected.earliest,
            "latest": expected.latest,
            "said": expected.said,
        },
        "promise_id": sent.promise_id,
        "attempts": sent.attempts,
    }


def with_instants(note: dict[str, Any]) -> dict[str, Any]:
    """A note from the API with the promised instants parsed again."""
    expected = note["expected_answer"]
    if expected is None:
        return note
    parse = datetime.fromisoformat
    return note | {
        "expected_answer": expected
        | {"earliest": parse(expected["earliest"]), "latest": parse(expected["latest"])}
    }


@pytest.mark.usefixtures("worker")
async def test_notifications_reach_the_timeline_and_leave_the_profile_alone(
    infra: CommonSettings, db: AsyncDatabase[Document], publisher: AsyncEventPublisher, api: httpx.AsyncClient
) -> None:
    email = fresh_email()
    contact = interaction(email)
    await publisher.publish(topic_of(contact), contact)
    await eventually(lambda: on_timeline(db, [contact.id]), what="the contact on the timeline")
    [customer_id] = await customers_of(db, [email.key])
    [case] = (await api.get(f"/v1/customers/{customer_id}/cases")).json()["cases"]
    case_id = case["case_id"]
    before = await profile_of(api, customer_id)
    stored = await db[CUSTOMERS_COLLECTION].find_one({"_id": customer_id}, {"version": 1})
    assert stored is not None
    told_before = await published(infra, "profiles.v1", customer_id, at_least=1)

    acknowledged = notified(customer_id, case_id, START + MINUTE)
    update = notified(customer_id, case_id, START + 10 * MINUTE, kind=MessageKind.STATUS_UPDATE)
    bounced = notified(
        customer_id,
        case_id,
        START + 12 * MINUTE,
        notification_id=update.data.notification_id,
        kind=MessageKind.STATUS_UPDATE,
        status=NotificationStatus.FAILED,
        reason="smtp_5xx",
        attempts=3,
    )
    survey = notified(
        customer_id, None, START + 60 * MINUTE, kind=MessageKind.SATISFACTION_SURVEY, promised=False
    )

    await publish(publisher, acknowledged, update, bounced, survey)
    ids = [acknowledged.id, update.id, bounced.id, survey.id]
    await eventually(lambda: on_timeline(db, ids), what="the notifications on the timeline")

    of_case = await timeline(api, customer_id, case=case_id)
    assert [item["event_id"] for item in of_case] == [bounced.id, update.id, acknowledged.id, contact.id]
    note = of_case[2]
    assert (note["kind"], note["type"], note["channel"], note["source"], note["case_id"]) == (
        "notification",
        "helhet.notification.changed.v1",
        "notify",
        "/notify",
        case_id,
    )
    assert list(note["details"]) == ["notification"]
    assert with_instants(note["details"]["notification"]) == as_told(acknowledged)
    # The same notification's later status is an entry of its own, next to the first.
    assert [with_instants(item["details"]["notification"]) for item in of_case[:2]] == [
        as_told(bounced),
        as_told(update),
    ]
    assert of_case[0]["details"]["notification"]["notification_id"] == update.data.notification_id
    told = await timeline(api, customer_id, kind="notification")
    assert [item["event_id"] for item in told] == [survey.id, bounced.id, update.id, acknowledged.id]
    assert (told[0]["case_id"], with_instants(told[0]["details"]["notification"])) == (None, as_told(survey))
    assert [item["event_id"] for item in await timeline(api, customer_id, channel="notify")] == [
        survey.id,
        bounced.id,
        update.id,
        acknowledged.id,
    ]

    # Telling the customer something is not the customer doing something: the profile does not move.
    assert await profile_of(api, customer_id) == before
    after = await db[CUSTOMERS_COLLECTION].find_one({"_id": customer_id}, {"version": 1})
    assert after == stored
    assert len(await published(infra, "profiles.v1", customer_id)) == len(told_before)

    # The export holds what the person was told.
    response = await api.get(f"/v1/customers/{customer_id}/export")
    assert response.status_code == 200, response.text
    exported = {entry["event_id"]: entry for entry in response.json()["timeline"]}
    assert set(ids) <= exported.keys()
    entry = exported[acknowledged.id]
    assert (entry["kind"], entry["case_id"]) == ("notification", case_id)
    assert with_instants(entry["notification"]) == as_told(acknowledged)


@pytest.mark.usefixtures("worker")
async def test_a_notification_for_an_unknown_customer_is_recorded_but_creates_nobody(
    db: AsyncDatabase[Document], publisher: AsyncEventPublisher, api: httpx.AsyncClient
) -> None:
    unknown = f"no-such-customer-{uuid.uuid4().hex[:8]}"
    event = notified(unknown, "case-x", START)

    await publish(publisher, event)
    await eventually(lambda: on_timeline(db, [event.id]), what="the notification recorded")

    assert await db[CUSTOMERS_COLLECTION].find_one({"_id": unknown}) is None
    assert (await api.get(f"/v1/customers/{unknown}")).status_code == 404
    entry = await db[TIMELINE_COLLECTION].find_one({"_id": event.id})
    assert entry is not None
    assert (entry["customer_id"], entry["case_id"], entry["kind"], entry["notification"]["status"]) == (
        unknown,
        "case-x",
        "notification",
        "sent",
    )


async def test_a_redelivered_notification_changes_nothing(
    service: ProfileService, db: AsyncDatabase[Document]
) -> None:
    email = fresh_email()
    contact = interaction(email)
    await service.handle_batch([contact])
    [customer_id] = await customers_of(db, [email.key])
    sent = notified(customer_id, "case-r", START)
    failed = notified(
        customer_id,
        "case-r",
        START + MINUTE,
        notification_id=sent.data.notification_id,
        status=NotificationStatus.FAILED,
        reason="smtp_5xx",
        attempts=2,
    )
    first = await service.handle_batch([sent, failed])
    ids = [contact.id, sent.id, failed.id]
    before = await state_hash(db, [email.key], ids)

    again = await service.handle_batch([sent, failed, sent, failed])

    assert (first.applied, first.customers_written, again.applied, again.already_recorded) == (2, 0, 0, 4)
    assert await state_hash(db, [email.key], ids) == before
    entries = db[TIMELINE_COLLECTION].find({"notification.notification_id": sent.data.notification_id})
    assert sorted([(e["_id"], e["notification"]["status"]) async for e in entries]) == sorted(
        [(sent.id, "sent"), (failed.id, "failed")]
    )


async def test_a_notification_for_a_merged_away_customer_goes_to_the_survivor(
    service: ProfileService, db: AsyncDatabase[Document], api: httpx.AsyncClient
) -> None:
    email, phone = fresh_email(), fresh_phone()
    await service.handle_batch([interaction(email, at=AT - timedelta(hours=2))])
    await service.handle_batch([interaction(phone, at=AT - timedelta(hours=1))])
    [survivor] = await customers_of(db, [email.key])
    [away] = await customers_of(db, [phone.key])
    await service.handle_batch([interaction(email, phone)])  # one contact names both: a merge
    assert await customers_of(db, [email.key, phone.key]) == {survivor}
    before = await profile_of(api, survivor)
    event = notified(away, "case-m", START)

    await service.handle_batch([event])

    entry = await db[TIMELINE_COLLECTION].find_one({"_id": event.id})
    assert entry is not None
    assert (entry["customer_id"], entry["case_id"]) == (survivor, "case-m")
    [item] = await timeline(api, survivor, kind="notification")
    assert item["event_id"] == event.id
    assert await profile_of(api, survivor) == before


async def test_a_notification_for_an_erased_customer_does_not_bring_them_back(
    service: ProfileService, db: AsyncDatabase[Document], api: httpx.AsyncClient
) -> None:
    email = fresh_email()
    await service.handle_batch([interaction(email)])
    [customer_id] = await customers_of(db, [email.key])
    erased = await api.post(f"/v1/customers/{customer_id}:erase")
    assert erased.status_code == 200, erased.text
    event = notified(customer_id, "case-e", START)

    await service.handle_batch([event])

    assert await db[CUSTOMERS_COLLECTION].find_one({"_id": customer_id}) is None
    assert (await api.get(f"/v1/customers/{customer_id}")).status_code == 404
    assert await customers_of(db, [email.key]) == set()
    assert await on_timeline(db, [event.id])  # recorded, so a replay skips it too
