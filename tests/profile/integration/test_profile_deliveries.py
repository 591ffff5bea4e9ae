"""Delivered orders and the answers about them, against the real broker and database: an order delivered
to a customer profile holds is published once on ``deliveries.v1`` (keyed by the customer id, with the
order's contact points and the customer's view), never again for a redelivered order event, not even
after a crash between the write and the publish, and never for an erased customer; a negative answer about
a delivered order is a ``feedback`` note under no case, a bad experience, and opens a delivery case
published once on ``cases.v1``; a positive one opens nothing.

Other tests share the broker: what is read from ``deliveries.v1`` and ``cases.v1`` is filtered by this
test's own customer ids (the messages' keys) and order ids."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from schemas.cases import CaseCategory, CaseChange, CaseChanged, CaseStatus
from schemas.commerce import OrderDelivered, OrderRecorded, OrderStatus
from schemas.customers import ExperienceReason, LifecycleStage
from schemas.envelope import Event
from schemas.feedback import FeedbackReceived
from schemas.identifiers import CustomerIdentifier
from schemas.interactions import Channel
from services.common.http.testing import LocalIssuer
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document
from services.common.settings import CommonSettings
from services.profile.adapters.outbound.documents import outbox_from_document
from services.profile.adapters.outbound.kafka_changes import KafkaChangeFeed
from services.profile.adapters.outbound.mongo_privacy import MongoPrivacyStore
from services.profile.adapters.outbound.mongo_store import MongoProfileStore
from services.profile.core.ids import stable_id
from services.profile.core.observe import ProfilePayload
from services.profile.indexes import CUSTOMERS_COLLECTION, TIMELINE_COLLECTION
from services.profile.ports import Outgoing
from services.profile.service import ProfileService
from tests.profile.integration.conftest import api_client
from tests.profile.integration.profile_flow import (
    answered,
    customers_of,
    envelope,
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

DELIVERIES = "deliveries.v1"
FEEDBACK = "feedback.v1"
HOUR = timedelta(hours=1)
COMMENT = "Pakken kom i stykker, og halve bestillingen manglet"


class BrokerDown:
    """A feed whose broker is unreachable: the write has landed, the publish fails (a crash in between)."""

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        raise ConnectionError("broker unreachable")


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


def order_change(
    order_id: str, status: OrderStatus, at: datetime, *identifiers: CustomerIdentifier
) -> Event[ProfilePayload]:
    """One change of an order, as a shop puts it on ``orders.v1`` (keyed by its first identifier)."""
    payload = OrderRecorded(
        order_id=order_id,
        status=status,
        identifiers=list(identifiers),
        amount=Decimal("1499.00"),
        currency="NOK",
        occurred_at=at,
    )
    return envelope(payload)


def placed_and_delivered(
    *identifiers: CustomerIdentifier, delivered_at: datetime
) -> tuple[Event[ProfilePayload], Event[ProfilePayload]]:
    order_id = f"order-{uuid.uuid4().hex[:8]}"
    placed = order_change(order_id, OrderStatus.PLACED, delivered_at - 2 * 24 * HOUR, *identifiers)
    return placed, order_change(order_id, OrderStatus.DELIVERED, delivered_at, *identifiers)


def answered_about_order(
    customer_id: str, order_id: str, rating: int, at: datetime, *, comment: str | None = COMMENT
) -> Event[FeedbackReceived]:
    """A customer's answer to "are you satisfied with your delivery?"."""
    return answered(customer_id, None, rating, at, comment=comment, order_id=order_id)


def order_id_of(event: Event[ProfilePayload]) -> str:
    assert isinstance(event.data, OrderRecorded)
    return event.data.order_id


async def deliveries_of(
    infra: CommonSettings, customer_id: str, *, at_least: int = 0
) -> list[Event[OrderDelivered]]:
    """The delivered orders published for this customer (the topic's key), in order."""
    found = await published(infra, DELIVERIES, customer_id, at_least=at_least)
    # Decoded as the catalog declares the type: an ``Event[OrderDelivered]`` when its data is one.
    return [cast("Event[OrderDelivered]", e) for e in found if isinstance(e.data, OrderDelivered)]


async def case_changes(infra: CommonSettings, customer_id: str, at_least: int) -> list[CaseChanged]:
    found = await published(infra, "cases.v1", customer_id, at_least=at_least)
    return [event.data for event in found if isinstance(event.data, CaseChanged)]


async def get_json(api: httpx.AsyncClient, path: str, **params: str) -> dict[str, Any]:
    response = await api.get(path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def cases(api: httpx.AsyncClient, customer_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await get_json(api, f"/v1/customers/{customer_id}/cases"))["cases"]
    return found


async def feedback_notes(api: httpx.AsyncClient, customer_id: str) -> list[dict[str, Any]]:
    body = await get_json(api, f"/v1/customers/{customer_id}/timeline", kind="feedback")
    items: list[dict[str, Any]] = body["items"]
    return items


@pytest.mark.usefixtures("worker")
async def test_a_delivered_order_is_published_once_with_its_contact_points_and_the_customers_view(
    infra: CommonSettings,
    db: AsyncDatabase[Document],
    publisher: AsyncEventPublisher,
    api: httpx.AsyncClient,
) -> None:
    # The customer wrote to us first (language, channel), then ordered; the order names both contacts.
    email, phone = fresh_email(), fresh_phone()
    contact = interaction(email, at=just_now() - 3 * 24 * HOUR)
    await publisher.publish(topic_of(contact), contact)
    await eventually(lambda: on_timeline(db, [contact.id]), what="the contact on the timeline")
    placed, delivered = placed_and_delivered(email, phone, delivered_at=just_now() - HOUR)
    for event in (placed, delivered):  # one partition: in this order
        await publisher.publish(topic_of(event), event)
    await eventually(lambda: on_timeline(db, [placed.id, delivered.id]), what="the order on the timeline")
    [customer_id] = await customers_of(db, [email.key, phone.key])

    [message] = await deliveries_of(infra, customer_id, at_least=1)

    assert (message.id, message.key, message.subject, message.source) == (
        stable_id("order-delivered", delivered.id),
        customer_id,
        order_id_of(delivered),
        "/profile",
    )
    assert message.type == "helhet.order.delivered.v1"
    data = message.data
    assert (data.order_id, data.customer_id) == (order_id_of(delivered), customer_id)
    assert data.delivered_at == delivered.data.occurred_at.replace(
        microsecond=delivered.data.occurred_at.microsecond // 1000 * 1000
    )
    assert [i.key for i in data.identifiers] == [email.key, phone.key]  # as the order named them
    # The customer's view (the one every case change carries) as the delivery's write left the customer.
    view = data.customer
    assert (view.customer_id, view.language, view.preferred_channel) == (customer_id, "nb", "email")
    assert (view.historic_value, view.needs_recovery, view.recovery_reason) == (
        Decimal("1499.00"),
        False,
        None,
    )
    profile = await get_json(api, f"/v1/customers/{customer_id}")
    summary = view.model_dump(mode="json", exclude={"customer_id", "consent", "last_agent", "as_of"})
    assert summary == {name: profile[name] for name in summary}
    # The contact's case; orders open none, but the first purchase makes the customer new, which the
    # open case is told.
    opened, told = await case_changes(infra, customer_id, at_least=2)
    assert (opened.change, told.change) == (CaseChange.OPENED, CaseChange.CUSTOMER_CHANGED)
    stages = (opened.customer.lifecycle, told.customer.lifecycle)
    assert stages == (LifecycleStage.PROSPECT, LifecycleStage.NEW)
    assert type(opened.customer) is type(view)

    # Redelivered, the order event publishes nothing new; a return of the order (after it, on the same
    # partition) publishes nothing either: only a delivery does.
    returned = order_change(order_id_of(delivered), OrderStatus.RETURNED, just_now(), email, phone)
    await publisher.publish(topic_of(delivered), delivered)
    await publisher.publish(topic_of(returned), returned)
    await eventually(lambda: on_timeline(db, [returned.id]), what="the return on the timeline")
    assert [m.id for m in await deliveries_of(infra, customer_id, at_least=1)] == [message.id]
    assert await db[TIMELINE_COLLECTION].count_documents({"_id": delivered.id}) == 1


async def test_a_crash_between_the_write_and_the_publish_publishes_the_delivery_once(
    infra: CommonSettings, db: AsyncDatabase[Document], service: ProfileService
) -> None:
    email = fresh_email()
    placed, delivered = placed_and_delivered(email, delivered_at=just_now() - HOUR)
    await service.handle_batch([placed])
    down = ProfileService(
        MongoProfileStore(db), BrokerDown(), MongoPrivacyStore(db), lambda: datetime.now(UTC)
    )
    with pytest.raises(ConnectionError):
        await down.handle_batch([delivered])
    [customer_id] = await customers_of(db, [email.key])
    assert await db[TIMELINE_COLLECTION].find_one({"_id": delivered.id}) is None  # not processed yet
    stored = await db[CUSTOMERS_COLLECTION].find_one({"_id": customer_id})
    assert stored is not None
    kept = [
        message
        for entry in map(outbox_from_document, stored["outbox"])
        if delivered.id in entry.event_ids
        for message in entry.messages()
    ]
    assert [m.type for m in kept] == ["helhet.order.delivered.v1"]  # the write kept it to publish

    redelivered = await service.handle_batch([delivered])
    replayed = await service.handle_batch([delivered, delivered])

    assert (redelivered.customers_written, redelivered.published) == (0, 1)
    assert (replayed.applied, replayed.already_recorded, replayed.published) == (0, 2, 0)
    [message] = await deliveries_of(infra, customer_id, at_least=1)
    assert message.model_dump_json() == kept[0].model_dump_json()
    assert message.id == stable_id("order-delivered", delivered.id)


async def test_only_a_delivered_order_publishes(
    infra: CommonSettings, db: AsyncDatabase[Document], service: ProfileService
) -> None:
    email = fresh_email()
    placed, delivered = placed_and_delivered(email, delivered_at=just_now() - 2 * HOUR)
    returned = order_change(order_id_of(placed), OrderStatus.RETURNED, just_now() - HOUR, email)
    refunded = order_change(order_id_of(placed), OrderStatus.REFUNDED, just_now() - HOUR, email)

    first = await service.handle_batch([placed, returned, refunded])
    [customer_id] = await customers_of(db, [email.key])
    assert first.published == 1  # the new profile, nothing on deliveries.v1
    second = await service.handle_batch([delivered])

    assert second.published >= 1  # the delivery (and the profile change, if a published field moved)
    assert [m.data.order_id for m in await deliveries_of(infra, customer_id, at_least=1)] == [
        order_id_of(delivered)
    ]


async def test_a_delivered_order_of_an_erased_customer_publishes_nothing(
    infra: CommonSettings, db: AsyncDatabase[Document], service: ProfileService, api: httpx.AsyncClient
) -> None:
    email, phone = fresh_email(), fresh_phone()
    placed, delivered = placed_and_delivered(email, phone, delivered_at=just_now() - HOUR)
    await service.handle_batch([placed])
    [customer_id] = await customers_of(db, [email.key])
    erased = await api.post(f"/v1/customers/{customer_id}:erase")
    assert erased.status_code == 200, erased.text

    outcome = await service.handle_batch([delivered])

    assert (outcome.applied, outcome.erased, outcome.customers_written, outcome.published) == (0, 1, 0, 0)
    assert await db[CUSTOMERS_COLLECTION].find_one({"_id": customer_id}) is None
    assert await customers_of(db, [email.key, phone.key]) == set()
    assert await deliveries_of(infra, customer_id) == []


@pytest.mark.usefixtures("worker")
async def test_a_negative_answer_about_a_delivery_opens_a_delivery_case_once(
    infra: CommonSettings,
    db: AsyncDatabase[Document],
    publisher: AsyncEventPublisher,
    api: httpx.AsyncClient,
) -> None:
    email = fresh_email()
    placed, delivered = placed_and_delivered(email, delivered_at=just_now() - 24 * HOUR)
    for event in (placed, delivered):
        await publisher.publish(topic_of(event), event)
    await eventually(lambda: on_timeline(db, [placed.id, delivered.id]), what="the delivered order")
    [customer_id] = await customers_of(db, [email.key])
    assert await cases(api, customer_id) == []  # an order opens no case
    order_id = order_id_of(delivered)

    # "Are you satisfied with your delivery?": no.
    unhappy_at = just_now()
    unhappy = answered_about_order(customer_id, order_id, 1, unhappy_at)
    await publisher.publish(FEEDBACK, unhappy)
    await eventually(lambda: on_timeline(db, [unhappy.id]), what="the answer on the timeline")

    # A feedback note with its order and no case; a bad experience.
    [note] = await feedback_notes(api, customer_id)
    assert (note["event_id"], note["channel"], note["case_id"]) == (unhappy.id, "survey", None)
    assert note["details"]["feedback"] == {
        "survey_id": unhappy.data.survey_id,
        "case_id": None,
        "rating": 1,
        "comment": COMMENT,
        "negative": True,
        "order_id": order_id,
    }
    assert note["details"]["experience"]["reason"] == "negative_feedback"
    profile = await get_json(api, f"/v1/customers/{customer_id}")
    assert (profile["needs_recovery"], profile["recovery_reason"]) == (True, "negative_feedback")

    # A new open delivery case, in the API and once on cases.v1.
    case_id = stable_id("case", unhappy.id)
    [case] = await cases(api, customer_id)
    assert (case["case_id"], case["customer_id"], case["status"]) == (case_id, customer_id, "open")
    assert (case["category"], case["channel"], case["interactions"]) == ("delivery", "email", 1)
    assert datetime.fromisoformat(case["opened_at"]) == unhappy_at
    [opened] = await case_changes(infra, customer_id, at_least=1)
    assert (opened.change, opened.case_id, opened.customer_id, opened.status) == (
        CaseChange.OPENED,
        case_id,
        customer_id,
        CaseStatus.OPEN,
    )
    assert (opened.category, opened.channel, opened.contact, opened.interactions) == (
        CaseCategory.DELIVERY,
        Channel.EMAIL,
        None,
        1,
    )
    assert (opened.opened_at, opened.last_activity_at, opened.closed_at) == (unhappy_at, unhappy_at, None)
    assert (opened.customer.needs_recovery, opened.customer.recovery_reason) == (
        True,
        ExperienceReason.NEGATIVE_FEEDBACK,
    )

    # Redelivered, the answer opens nothing new; a positive one (after it, same partition) neither.
    happy = answered_about_order(customer_id, order_id, 5, just_now(), comment="Nå er alt i orden")
    await publisher.publish(FEEDBACK, unhappy)
    await publisher.publish(FEEDBACK, happy)
    await eventually(lambda: on_timeline(db, [happy.id]), what="the positive answer on the timeline")
    assert [c["case_id"] for c in await cases(api, customer_id)] == [case_id]
    assert [c.case_id for c in await case_changes(infra, customer_id, at_least=1)] == [case_id]
    assert [n["event_id"] for n in await feedback_notes(api, customer_id)] == [happy.id, unhappy.id]
    assert await db[TIMELINE_COLLECTION].count_documents({"_id": unhappy.id}) == 1
    # The delivery was published once, whatever the answers did.
    assert [m.data.order_id for m in await deliveries_of(infra, customer_id, at_least=1)] == [order_id]


async def test_a_positive_or_neutral_answer_about_a_delivery_opens_no_case(
    infra: CommonSettings, db: AsyncDatabase[Document], service: ProfileService, api: httpx.AsyncClient
) -> None:
    email = fresh_email()
    placed, delivered = placed_and_delivered(email, delivered_at=just_now() - 24 * HOUR)
    await service.handle_batch([placed, delivered])
    [customer_id] = await customers_of(db, [email.key])
    happy = answered_about_order(customer_id, order_id_of(delivered), 5, just_now(), comment="Alt kom fram")
    neutral = answered_about_order(customer_id, order_id_of(delivered), 3, just_now(), comment=None)

    outcome = await service.handle_batch([happy, neutral])

    assert (outcome.applied, outcome.customers_written) == (2, 1)
    assert await cases(api, customer_id) == []
    assert await case_changes(infra, customer_id, at_least=0) == []
    notes = await feedback_notes(api, customer_id)
    assert {(n["event_id"], n["case_id"], n["details"]["feedback"]["order_id"]) for n in notes} == {
        (happy.id, None, order_id_of(delivered)),
        (neutral.id, None, order_id_of(delivered)),
    }
    profile = await get_json(api, f"/v1/customers/{customer_id}")
    assert profile["needs_recovery"] is False


async def test_a_redelivered_negative_answer_changes_nothing(
    infra: CommonSettings, db: AsyncDatabase[Document], service: ProfileService, api: httpx.AsyncClient
) -> None:
    email = fresh_email()
    placed, delivered = placed_and_delivered(email, delivered_at=just_now() - 24 * HOUR)
    await service.handle_batch([placed, delivered])
    [customer_id] = await customers_of(db, [email.key])
    unhappy = answered_about_order(customer_id, order_id_of(delivered), 2, just_now())
    first = await service.handle_batch([unhappy])
    ids = [placed.id, delivered.id, unhappy.id]
    before = await state_hash(db, [email.key], ids)

    again = await service.handle_batch([unhappy, unhappy])

    assert (first.applied, first.customers_written, first.published) == (1, 1, 2)  # the case and profile
    assert (again.applied, again.already_recorded, again.published) == (0, 2, 0)
    assert await state_hash(db, [email.key], ids) == before
    assert [c["case_id"] for c in await cases(api, customer_id)] == [stable_id("case", unhappy.id)]
    assert [c.change for c in await case_changes(infra, customer_id, at_least=1)] == [CaseChange.OPENED]


async def test_a_crash_after_opening_the_delivery_case_publishes_it_once_and_opens_no_other(
    infra: CommonSettings, db: AsyncDatabase[Document], service: ProfileService, api: httpx.AsyncClient
) -> None:
    email = fresh_email()
    placed, delivered = placed_and_delivered(email, delivered_at=just_now() - 24 * HOUR)
    await service.handle_batch([placed, delivered])
    [customer_id] = await customers_of(db, [email.key])
    unhappy = answered_about_order(customer_id, order_id_of(delivered), 1, just_now())
    down = ProfileService(
        MongoProfileStore(db), BrokerDown(), MongoPrivacyStore(db), lambda: datetime.now(UTC)
    )
    with pytest.raises(ConnectionError):
        await down.handle_batch([unhappy])
    assert await db[TIMELINE_COLLECTION].find_one({"_id": unhappy.id}) is None  # not processed yet

    redelivered = await service.handle_batch([unhappy])

    assert (redelivered.customers_written, redelivered.published) == (0, 2)  # from the outbox
    [case] = await cases(api, customer_id)
    assert case["case_id"] == stable_id("case", unhappy.id)
    [opened] = await case_changes(infra, customer_id, at_least=1)
    assert (opened.change, opened.case_id) == (CaseChange.OPENED, case["case_id"])


async def test_an_answer_about_a_delivery_for_a_customer_nobody_holds_opens_nothing(
    infra: CommonSettings, db: AsyncDatabase[Document], service: ProfileService
) -> None:
    unknown = f"no-such-customer-{uuid.uuid4().hex[:8]}"
    event = answered_about_order(unknown, "order-x", 1, just_now())

    outcome = await service.handle_batch([event])

    assert (outcome.customers_written, outcome.published) == (0, 0)
    assert await db[CUSTOMERS_COLLECTION].find_one({"_id": unknown}) is None
    entry = await db[TIMELINE_COLLECTION].find_one({"_id": event.id})
    assert entry is not None
    assert (entry["customer_id"], entry["case_id"], entry["feedback"]["order_id"]) == (
        unknown,
        None,
        "order-x",
    )
    assert entry["feedback"]["comment"] is None
    assert COMMENT not in str(entry)
    assert await case_changes(infra, unknown, at_least=0) == []


async def test_a_delivery_whose_customer_the_batch_merges_away_names_the_survivor(
    infra: CommonSettings, db: AsyncDatabase[Document], service: ProfileService
) -> None:
    email, phone = fresh_email(), fresh_phone()
    await service.handle_batch([interaction(email, at=just_now() - 3 * 24 * HOUR)])
    placed, delivered = placed_and_delivered(phone, delivered_at=just_now() - 2 * HOUR)
    await service.handle_batch([placed])
    [survivor] = await customers_of(db, [email.key])
    [away] = await customers_of(db, [phone.key])
    assert survivor != away

    # The delivery lands on the phone's customer, then a contact naming both merges it away.
    await service.handle_batch([delivered, interaction(email, phone, at=just_now() - HOUR)])

    assert await customers_of(db, [email.key, phone.key]) == {survivor}
    [message] = await deliveries_of(infra, survivor, at_least=1)
    assert (message.key, message.data.customer_id, message.data.customer.customer_id) == (
        survivor,
        survivor,
        survivor,
    )
    assert [i.key for i in message.data.identifiers] == [phone.key]
    assert await deliveries_of(infra, away) == []
