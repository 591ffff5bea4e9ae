"""Routing's ``assignments.v1`` in the profile, against the real broker and database: every assignment
change lands on the customer's timeline (filterable by case and kind), an acceptance sets the customer's
last agent (newest event time wins) which then rides on ``profiles.v1`` and ``cases.v1`` back to routing,
and a change for a customer nobody holds (never seen, or erased) is recorded but creates nobody."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from schemas.cases import CaseChanged
from schemas.customers import ProfileChanged
from schemas.envelope import Event
from schemas.routing import AssignmentChange, AssignmentChanged
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
    assigned,
    customers_of,
    eventually,
    fresh_email,
    fresh_phone,
    interaction,
    on_timeline,
    published,
    state_hash,
    topic_of,
)

pytestmark = pytest.mark.integration

ASSIGNMENTS = "assignments.v1"
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


def fresh_agent() -> str:
    return f"agent-{uuid.uuid4().hex[:8]}"


async def publish(publisher: AsyncEventPublisher, *events: Event[AssignmentChanged]) -> None:
    for event in events:
        await publisher.publish(ASSIGNMENTS, event)


async def timeline(api: httpx.AsyncClient, customer_id: str, **params: str) -> list[dict[str, Any]]:
    response = await api.get(f"/v1/customers/{customer_id}/timeline", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def last_agent(api: httpx.AsyncClient, customer_id: str) -> str | None:
    response = await api.get(f"/v1/customers/{customer_id}")
    assert response.status_code == 200, response.text
    agent: str | None = response.json()["last_agent"]
    return agent


@pytest.mark.usefixtures("worker")
async def test_assignment_changes_reach_the_timeline_and_the_last_agent_rides_on_to_routing(
    infra: CommonSettings, db: AsyncDatabase[Document], publisher: AsyncEventPublisher, api: httpx.AsyncClient
) -> None:
    email = fresh_email()
    contact = interaction(email)
    await publisher.publish(topic_of(contact), contact)
    await eventually(lambda: on_timeline(db, [contact.id]), what="the contact on the timeline")
    [customer_id] = await customers_of(db, [email.key])
    [case] = (await api.get(f"/v1/customers/{customer_id}/cases")).json()["cases"]
    case_id, agent = case["case_id"], fresh_agent()
    offered = assigned(customer_id, case_id, AssignmentChange.OFFERED, agent, START + MINUTE)
    accepted = assigned(customer_id, case_id, AssignmentChange.ACCEPTED, agent, START + 2 * MINUTE)
    completed = assigned(customer_id, case_id, AssignmentChange.COMPLETED, agent, START + 30 * MINUTE)
    elsewhere = assigned(customer_id, "another-case", AssignmentChange.WAITING, None, START + 3 * MINUTE)

    await publish(publisher, offered, accepted, completed, elsewhere)
    ids = [offered.id, accepted.id, completed.id, elsewhere.id]
    await eventually(lambda: on_timeline(db, ids), what="the assignment changes on the timeline")

    of_case = await timeline(api, customer_id, case=case_id)
    assert [item["event_id"] for item in of_case] == [completed.id, accepted.id, offered.id, contact.id]
    note = of_case[1]
    assert (note["kind"], note["type"], note["channel"], note["source"], note["case_id"]) == (
        "assignment",
        "helhet.assignment.changed.v1",
        "routing",
        "/routing",
        case_id,
    )
    assert note["details"]["assignment"] == {
        "change": "accepted",
        "case_id": case_id,
        "queue": "email",
        "agent_id": agent,
        "reason": None,
    }
    assignments = await timeline(api, customer_id, kind="assignment")
    assert [item["event_id"] for item in assignments] == [completed.id, elsewhere.id, accepted.id, offered.id]
    assert [item["event_id"] for item in await timeline(api, customer_id, case="another-case")] == [
        elsewhere.id
    ]

    profile = (await api.get(f"/v1/customers/{customer_id}")).json()
    assert profile["last_agent"] == agent
    stamp = profile["attributes"]["last_agent"]
    assert (stamp["value"], stamp["source"]) == (agent, "routing")
    assert datetime.fromisoformat(stamp["occurred_at"]) == accepted.data.occurred_at
    changes = await published(infra, "profiles.v1", customer_id, at_least=2)
    told = [c.data for c in changes if isinstance(c.data, ProfileChanged) and "last_agent" in c.data.changed]
    assert [change.customer.last_agent for change in told] == [None, agent]  # the first names every field

    # An older acceptance arriving late leaves the newer one in place; a newer one takes over.
    earlier = assigned(customer_id, case_id, AssignmentChange.ACCEPTED, fresh_agent(), START + MINUTE / 2)
    await publish(publisher, earlier)
    await eventually(lambda: on_timeline(db, [earlier.id]), what="the late acceptance")
    assert await last_agent(api, customer_id) == agent
    later_agent = fresh_agent()
    later = assigned(customer_id, "case-later", AssignmentChange.ACCEPTED, later_agent, START + 40 * MINUTE)
    await publish(publisher, later)
    await eventually(lambda: on_timeline(db, [later.id]), what="the newer acceptance")
    assert await last_agent(api, customer_id) == later_agent

    # The customer's next case change carries the last agent to routing.
    again = interaction(email, text="Pakken kom aldri, hvor er den?", at=START + 60 * MINUTE)
    await publisher.publish(topic_of(again), again)
    await eventually(lambda: on_timeline(db, [again.id]), what="the next contact")
    cases = await published(infra, "cases.v1", customer_id, at_least=2)
    caused = [c.data for c in cases if isinstance(c.data, CaseChanged) and c.data.contact is not None]
    [next_change] = [change for change in caused if change.contact and change.contact.event_id == again.id]
    assert next_change.customer.last_agent == later_agent


@pytest.mark.usefixtures("worker")
async def test_an_assignment_for_an_unknown_customer_is_recorded_but_creates_nobody(
    db: AsyncDatabase[Document], publisher: AsyncEventPublisher, api: httpx.AsyncClient
) -> None:
    unknown = f"no-such-customer-{uuid.uuid4().hex[:8]}"
    event = assigned(unknown, "case-x", AssignmentChange.ACCEPTED, fresh_agent(), START)

    await publish(publisher, event)
    await eventually(lambda: on_timeline(db, [event.id]), what="the assignment recorded")

    assert await db[CUSTOMERS_COLLECTION].find_one({"_id": unknown}) is None
    assert (await api.get(f"/v1/customers/{unknown}")).status_code == 404
    entry = await db[TIMELINE_COLLECTION].find_one({"_id": event.id})
    assert entry is not None
    assert (entry["customer_id"], entry["case_id"], entry["assignment"]["change"]) == (
        unknown,
        "case-x",
        "accepted",
    )


async def test_a_redelivered_assignment_changes_nothing(
    service: ProfileService, db: AsyncDatabase[Document]
) -> None:
    email = fresh_email()
    contact = interaction(email)
    await service.handle_batch([contact])
    [customer_id] = await customers_of(db, [email.key])
    events = [
        assigned(customer_id, "case-r", AssignmentChange.OFFERED, "agent-r", START),
        assigned(customer_id, "case-r", AssignmentChange.ACCEPTED, "agent-r", START + MINUTE),
    ]
    first = await service.handle_batch(events)
    ids = [contact.id, *(event.id for event in events)]
    before = await state_hash(db, [email.key], ids)

    again = await service.handle_batch([*events, *events])

    assert (first.applied, again.applied, again.already_recorded) == (2, 0, 4)
    assert await state_hash(db, [email.key], ids) == before


async def test_an_assignment_for_a_merged_away_customer_goes_to_the_survivor(
    service: ProfileService, db: AsyncDatabase[Document], api: httpx.AsyncClient
) -> None:
    email, phone = fresh_email(), fresh_phone()
    await service.handle_batch([interaction(email, at=AT - timedelta(hours=2))])
    await service.handle_batch([interaction(phone, at=AT - timedelta(hours=1))])
    [survivor] = await customers_of(db, [email.key])
    [away] = await customers_of(db, [phone.key])
    await service.handle_batch([interaction(email, phone)])  # one contact names both: a merge
    assert await customers_of(db, [email.key, phone.key]) == {survivor}
    agent = fresh_agent()
    event = assigned(away, "case-m", AssignmentChange.ACCEPTED, agent, START)

    await service.handle_batch([event])

    entry = await db[TIMELINE_COLLECTION].find_one({"_id": event.id})
    assert entry is not None
    assert (entry["customer_id"], entry["case_id"]) == (survivor, "case-m")
    assert await last_agent(api, survivor) == agent
    merged_away = await db[CUSTOMERS_COLLECTION].find_one({"_id": away})
    assert merged_away is not None
    assert merged_away["merged_into"] == survivor
    assert "last_agent" not in merged_away["attributes"]


async def test_an_assignment_for_an_erased_customer_does_not_bring_them_back(
    service: ProfileService, db: AsyncDatabase[Document], api: httpx.AsyncClient
) -> None:
    email = fresh_email()
    await service.handle_batch([interaction(email)])
    [customer_id] = await customers_of(db, [email.key])
    erased = await api.post(f"/v1/customers/{customer_id}:erase")
    assert erased.status_code == 200, erased.text
    event = assigned(customer_id, "case-e", AssignmentChange.ACCEPTED, fresh_agent(), START)

    await service.handle_batch([event])

    assert await db[CUSTOMERS_COLLECTION].find_one({"_id": customer_id}) is None
    assert (await api.get(f"/v1/customers/{customer_id}")).status_code == 404
    assert await customers_of(db, [email.key]) == set()
    assert await on_timeline(db, [event.id])  # recorded, so a replay skips it too
