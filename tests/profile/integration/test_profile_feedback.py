"""Customers' survey answers (``feedback.v1``) in the profile, against the real broker and database: an
answer lands on the customer's timeline as kind ``feedback`` under its case; a negative one counts as a
bad experience (the customer needs recovery, published on ``profiles.v1`` and with every case change) and
reopens the closed case it names, published once on ``cases.v1`` as ``reopened``; a redelivered answer
changes nothing more, a neutral or positive one reopens nothing, and an answer for a customer nobody holds
(never seen, or erased) is recorded without its comment and creates nobody."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from schemas.cases import CaseChange, CaseChanged, CaseCloseRequested, CaseStatus, CloseReason
from schemas.catalog import event_type_of
from schemas.customers import ExperienceReason, ProfileChanged
from schemas.envelope import Event
from schemas.feedback import FeedbackReceived
from services.common.http.testing import LocalIssuer
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document
from services.common.settings import CommonSettings
from services.profile.adapters.outbound.kafka_changes import KafkaChangeFeed
from services.profile.adapters.outbound.mongo_privacy import MongoPrivacyStore
from services.profile.adapters.outbound.mongo_store import MongoProfileStore
from services.profile.core.observe import ProfileRequest
from services.profile.indexes import CUSTOMERS_COLLECTION, TIMELINE_COLLECTION
from services.profile.service import ProfileService
from tests.profile.integration.conftest import api_client
from tests.profile.integration.profile_flow import (
    AT,
    answered,
    customers_of,
    eventually,
    fresh_email,
    fresh_phone,
    interaction,
    just_now,
    on_timeline,
    published,
    state_hash,
    topic_of,
)

pytestmark = pytest.mark.integration

FEEDBACK = "feedback.v1"
SECOND = timedelta(seconds=1)
COMMENT = "Pakken har fortsatt ikke kommet, og ingen svarer meg"


@pytest.fixture
async def api(profile_url: str, issuer: LocalIssuer) -> AsyncIterator[httpx.AsyncClient]:
    scopes = ["customers:read", "customers:write", "cases:write"]
    async with api_client(profile_url, issuer, scopes, subject="crm-7") as client:
        yield client


@pytest.fixture
def service(db: AsyncDatabase[Document], publisher: AsyncEventPublisher) -> ProfileService:
    return ProfileService(
        MongoProfileStore(db), KafkaChangeFeed(publisher), MongoPrivacyStore(db), lambda: datetime.now(UTC)
    )


def close_requested(customer_id: str, case_id: str, at: datetime) -> Event[ProfileRequest]:
    """A close request as the API puts it on ``profile-requests.v1``."""
    payload = CaseCloseRequested(
        case_id=case_id,
        customer_id=customer_id,
        reason=CloseReason.RESOLVED,
        requested_by="crm-7",
        requested_at=at,
    )
    return Event[ProfileRequest](
        id=f"close:{case_id}:{uuid.uuid4().hex[:8]}",
        source="/profile",
        type=event_type_of(CaseCloseRequested).name,
        time=at,
        key=customer_id,
        data=payload,
    )


async def cases(api: httpx.AsyncClient, customer_id: str) -> list[dict[str, Any]]:
    response = await api.get(f"/v1/customers/{customer_id}/cases")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["cases"]
    return found


async def profile_of(api: httpx.AsyncClient, customer_id: str) -> dict[str, Any]:
    response = await api.get(f"/v1/customers/{customer_id}")
    assert response.status_code == 200, response.text
    profile: dict[str, Any] = response.json()
    return profile


async def timeline(api: httpx.AsyncClient, customer_id: str, **params: str) -> list[dict[str, Any]]:
    response = await api.get(f"/v1/customers/{customer_id}/timeline", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def close_by_api(api: httpx.AsyncClient, customer_id: str, case_id: str) -> None:
    response = await api.post(f"/v1/cases/{case_id}:close", json={"reason": "resolved"})
    assert response.status_code == 202, response.text

    async def closed() -> bool:
        return [c["status"] for c in await cases(api, customer_id)] == ["closed"]

    await eventually(closed, what="the case closed by the worker")


async def case_changes(infra: CommonSettings, customer_id: str, at_least: int) -> list[CaseChanged]:
    found = await published(infra, "cases.v1", customer_id, at_least=at_least)
    return [event.data for event in found if isinstance(event.data, CaseChanged)]


def as_answered(event: Event[FeedbackReceived], *, comment: bool = True) -> dict[str, Any]:
    answer = event.data
    return {
        "survey_id": answer.survey_id,
        "case_id": answer.case_id,
        "rating": answer.rating,
        "comment": answer.comment if comment else None,
        "negative": answer.negative,
        "order_id": answer.order_id,
    }


@pytest.mark.usefixtures("worker")
async def test_a_negative_answer_reopens_the_closed_case_once_and_needs_recovery(
    infra: CommonSettings,
    db: AsyncDatabase[Document],
    publisher: AsyncEventPublisher,
    api: httpx.AsyncClient,
) -> None:
    # An email opens a case, which an agent's CRM closes.
    email = fresh_email()
    contact = interaction(email)
    await publisher.publish(topic_of(contact), contact)
    await eventually(lambda: on_timeline(db, [contact.id]), what="the contact on the timeline")
    [customer_id] = await customers_of(db, [email.key])
    [opened] = await cases(api, customer_id)
    case_id = opened["case_id"]
    await close_by_api(api, customer_id, case_id)
    [closed] = await cases(api, customer_id)
    assert (closed["closed_at"], closed["close_reason"]) != (None, None)
    before = await profile_of(api, customer_id)
    assert not before["needs_recovery"]

    # The customer answers the survey: not solved.
    unhappy_at = just_now()
    unhappy = answered(customer_id, case_id, 1, unhappy_at, comment=COMMENT)
    await publisher.publish(FEEDBACK, unhappy)
    await eventually(lambda: on_timeline(db, [unhappy.id]), what="the answer on the timeline")

    # On the timeline, under its case.
    [note] = await timeline(api, customer_id, kind="feedback")
    assert (note["event_id"], note["type"], note["channel"], note["source"], note["case_id"]) == (
        unhappy.id,
        "helhet.feedback.received.v1",
        "survey",
        "/ingest/feedback",
        case_id,
    )
    assert note["details"]["feedback"] == as_answered(unhappy)
    assert note["details"]["experience"]["reason"] == "negative_feedback"
    # (Other services sharing the broker may tell the customer things meanwhile: their notes are left out.)
    of_case = await timeline(api, customer_id, case=case_id)
    assert [item["type"] for item in of_case if item["kind"] not in {"notification", "assignment"}] == [
        "helhet.feedback.received.v1",
        "helhet.case.close_requested.v1",
        "helhet.interaction.received.v1",
    ]

    # A bad experience: the customer needs recovery, and says so on profiles.v1.
    profile = await profile_of(api, customer_id)
    assert (profile["needs_recovery"], profile["recovery_reason"]) == (True, "negative_feedback")
    # Answering is not being seen: first and last seen stay as they were.
    assert (profile["first_seen"], profile["last_seen"]) == (before["first_seen"], before["last_seen"])
    profiles = await published(infra, "profiles.v1", customer_id, at_least=2)
    latest = profiles[-1].data
    assert isinstance(latest, ProfileChanged)
    assert "needs_recovery" in latest.changed
    assert (latest.customer.needs_recovery, latest.customer.recovery_reason) == (
        True,
        ExperienceReason.NEGATIVE_FEEDBACK,
    )

    # The case is open again, the same case, and cases.v1 says so once.
    [reopened] = await cases(api, customer_id)
    assert (reopened["case_id"], reopened["status"], reopened["closed_at"], reopened["close_reason"]) == (
        case_id,
        "open",
        None,
        None,
    )
    assert (reopened["opened_at"], reopened["interactions"]) == (opened["opened_at"], 1)
    assert datetime.fromisoformat(reopened["last_activity_at"]) == unhappy_at
    changes = await case_changes(infra, customer_id, at_least=3)
    assert [c.change for c in changes] == [CaseChange.OPENED, CaseChange.CLOSED, CaseChange.REOPENED]
    change = changes[-1]
    assert (change.case_id, change.customer_id, change.status, change.contact) == (
        case_id,
        customer_id,
        CaseStatus.OPEN,
        None,
    )
    assert (change.closed_at, change.close_reason, change.last_activity_at) == (None, None, unhappy_at)
    assert (change.customer.needs_recovery, change.customer.recovery_reason) == (
        True,
        ExperienceReason.NEGATIVE_FEEDBACK,
    )
    # What only answers change (other services sharing the broker may set a last agent meanwhile).
    answered_part = {"cases": 1, "experiences": 1, "summary.needs_recovery": 1, "summary.recovery_reason": 1}
    stored = await db[CUSTOMERS_COLLECTION].find_one({"_id": customer_id}, answered_part)
    assert stored is not None

    # Redelivered, the same answer changes nothing; a 3 (after it, same partition) says nothing either.
    neutral = answered(customer_id, case_id, 3, just_now())
    await publisher.publish(FEEDBACK, unhappy)
    await publisher.publish(FEEDBACK, neutral)
    await eventually(lambda: on_timeline(db, [neutral.id]), what="the neutral answer on the timeline")
    assert await db[CUSTOMERS_COLLECTION].find_one({"_id": customer_id}, answered_part) == stored
    assert await db[TIMELINE_COLLECTION].count_documents({"_id": unhappy.id}) == 1
    assert [c["status"] for c in await cases(api, customer_id)] == ["open"]
    assert len(await case_changes(infra, customer_id, at_least=3)) == 3

    # Closed again: redelivering the negative answer still reopens nothing, nor does a positive one.
    await close_by_api(api, customer_id, case_id)
    happy = answered(customer_id, case_id, 5, just_now(), comment="Takk, nå er alt i orden")
    await publisher.publish(FEEDBACK, unhappy)
    await publisher.publish(FEEDBACK, happy)
    await eventually(lambda: on_timeline(db, [happy.id]), what="the positive answer on the timeline")
    [still_closed] = await cases(api, customer_id)
    assert (still_closed["case_id"], still_closed["status"], still_closed["close_reason"]) == (
        case_id,
        "closed",
        "resolved",
    )
    changes = await case_changes(infra, customer_id, at_least=4)
    assert [c.change for c in changes] == [
        CaseChange.OPENED,
        CaseChange.CLOSED,
        CaseChange.REOPENED,
        CaseChange.CLOSED,
    ]
    assert [item["event_id"] for item in await timeline(api, customer_id, kind="feedback")] == [
        happy.id,
        neutral.id,
        unhappy.id,
    ]
    # One bad experience outweighs one good one: still in need of recovery.
    profile = await profile_of(api, customer_id)
    assert (profile["needs_recovery"], profile["recovery_reason"]) == (True, "negative_feedback")


async def test_a_redelivered_answer_changes_nothing(
    infra: CommonSettings, service: ProfileService, db: AsyncDatabase[Document], api: httpx.AsyncClient
) -> None:
    email = fresh_email()
    contact = interaction(email)
    await service.handle_batch([contact])
    [customer_id] = await customers_of(db, [email.key])
    [case] = await cases(api, customer_id)
    close = close_requested(customer_id, case["case_id"], just_now() - SECOND)
    await service.handle_batch([close])
    unhappy = answered(customer_id, case["case_id"], 2, just_now())
    first = await service.handle_batch([unhappy])
    ids = [contact.id, close.id, unhappy.id]
    before = await state_hash(db, [email.key], ids)

    again = await service.handle_batch([unhappy, unhappy])

    assert (first.applied, first.customers_written, first.published) == (1, 1, 2)  # the case and profile
    assert (again.applied, again.already_recorded, again.published) == (0, 2, 0)
    assert await state_hash(db, [email.key], ids) == before
    changes = await case_changes(infra, customer_id, at_least=3)
    assert [c.change for c in changes] == [CaseChange.OPENED, CaseChange.CLOSED, CaseChange.REOPENED]


async def test_a_second_close_after_a_reopening_is_published_with_an_id_of_its_own(
    infra: CommonSettings, service: ProfileService, db: AsyncDatabase[Document], api: httpx.AsyncClient
) -> None:
    # Webhook deliveries (and consumers deduplicating) go by the message id: a second close published
    # under the first one's id would never reach the CRM.
    email = fresh_email()
    await service.handle_batch([interaction(email)])
    [customer_id] = await customers_of(db, [email.key])
    [case] = await cases(api, customer_id)
    await service.handle_batch([close_requested(customer_id, case["case_id"], just_now() - 2 * SECOND)])
    await service.handle_batch([answered(customer_id, case["case_id"], 1, just_now() - SECOND)])
    second_close = close_requested(customer_id, case["case_id"], just_now())
    await service.handle_batch([second_close])

    again = await service.handle_batch([second_close])  # redelivered: nothing new to publish

    assert again.published == 0
    found = await published(infra, "cases.v1", customer_id, at_least=4)
    changes = [(event.id, event.data.change) for event in found if isinstance(event.data, CaseChanged)]
    assert [change for _, change in changes] == [
        CaseChange.OPENED,
        CaseChange.CLOSED,
        CaseChange.REOPENED,
        CaseChange.CLOSED,
    ]
    assert len({event_id for event_id, _ in changes}) == 4


async def test_an_answer_about_another_customers_case_reopens_nothing(
    service: ProfileService, db: AsyncDatabase[Document], api: httpx.AsyncClient
) -> None:
    kari, ola = fresh_email(), fresh_email()
    await service.handle_batch([interaction(kari), interaction(ola)])
    [kari_id] = await customers_of(db, [kari.key])
    [ola_id] = await customers_of(db, [ola.key])
    [olas_case] = await cases(api, ola_id)
    await service.handle_batch([close_requested(ola_id, olas_case["case_id"], just_now() - SECOND)])

    await service.handle_batch([answered(kari_id, olas_case["case_id"], 1, just_now())])

    assert [c["status"] for c in await cases(api, ola_id)] == ["closed"]
    assert [c["status"] for c in await cases(api, kari_id)] == ["open"]
    # Still Kari's bad experience: she said she was unhappy.
    assert (await profile_of(api, kari_id))["recovery_reason"] == "negative_feedback"
    assert not (await profile_of(api, ola_id))["needs_recovery"]


async def test_an_answer_for_a_merged_away_customer_reopens_the_case_under_the_survivor(
    service: ProfileService, db: AsyncDatabase[Document], api: httpx.AsyncClient
) -> None:
    email, phone = fresh_email(), fresh_phone()
    await service.handle_batch([interaction(email, at=AT - timedelta(hours=2))])
    await service.handle_batch([interaction(phone, at=AT - timedelta(hours=1), text="Jeg vil bytte skoene")])
    [survivor] = await customers_of(db, [email.key])
    [away] = await customers_of(db, [phone.key])
    [phones_case] = await cases(api, away)
    await service.handle_batch([close_requested(away, phones_case["case_id"], just_now() - SECOND)])
    await service.handle_batch([interaction(email, phone)])  # one contact names both: a merge
    assert await customers_of(db, [email.key, phone.key]) == {survivor}
    unhappy = answered(away, phones_case["case_id"], 2, just_now())

    await service.handle_batch([unhappy])

    entry = await db[TIMELINE_COLLECTION].find_one({"_id": unhappy.id})
    assert entry is not None
    assert (entry["customer_id"], entry["case_id"], entry["feedback"]["comment"]) == (
        survivor,
        phones_case["case_id"],
        unhappy.data.comment,
    )
    by_id = {c["case_id"]: c for c in await cases(api, survivor)}
    assert (by_id[phones_case["case_id"]]["status"], by_id[phones_case["case_id"]]["customer_id"]) == (
        "open",
        survivor,
    )
    assert (await profile_of(api, survivor))["recovery_reason"] == "negative_feedback"


@pytest.mark.usefixtures("worker")
async def test_an_answer_for_an_unknown_customer_is_recorded_without_its_comment(
    infra: CommonSettings, db: AsyncDatabase[Document], publisher: AsyncEventPublisher, api: httpx.AsyncClient
) -> None:
    unknown = f"no-such-customer-{uuid.uuid4().hex[:8]}"
    event = answered(unknown, "case-x", 1, just_now(), comment=COMMENT)

    await publisher.publish(FEEDBACK, event)
    await eventually(lambda: on_timeline(db, [event.id]), what="the answer recorded")

    assert await db[CUSTOMERS_COLLECTION].find_one({"_id": unknown}) is None
    assert (await api.get(f"/v1/customers/{unknown}")).status_code == 404
    entry = await db[TIMELINE_COLLECTION].find_one({"_id": event.id})
    assert entry is not None
    assert (entry["customer_id"], entry["case_id"], entry["kind"]) == (unknown, "case-x", "feedback")
    assert entry["feedback"] == as_answered(event, comment=False)
    assert COMMENT not in str(entry)
    assert await case_changes(infra, unknown, at_least=0) == []


async def test_an_answer_for_an_erased_customer_does_not_bring_them_back_nor_keep_the_comment(
    service: ProfileService, db: AsyncDatabase[Document], api: httpx.AsyncClient
) -> None:
    email = fresh_email()
    await service.handle_batch([interaction(email)])
    [customer_id] = await customers_of(db, [email.key])
    [case] = await cases(api, customer_id)
    await service.handle_batch([close_requested(customer_id, case["case_id"], just_now() - SECOND)])
    erased = await api.post(f"/v1/customers/{customer_id}:erase")
    assert erased.status_code == 200, erased.text
    event = answered(customer_id, case["case_id"], 1, just_now(), comment=COMMENT)

    outcome = await service.handle_batch([event])

    assert (outcome.customers_written, outcome.published) == (0, 0)
    assert await db[CUSTOMERS_COLLECTION].find_one({"_id": customer_id}) is None
    assert (await api.get(f"/v1/customers/{customer_id}")).status_code == 404
    assert await customers_of(db, [email.key]) == set()
    entry = await db[TIMELINE_COLLECTION].find_one({"_id": event.id})
    assert entry is not None  # recorded, so a replay skips it too
    assert entry["feedback"]["comment"] is None
    assert COMMENT not in str(entry)
