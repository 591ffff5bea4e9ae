"""Profile's read API over real HTTP, on profiles the real service wrote into the local database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from schemas.envelope import Event
from schemas.identifiers import IdentifierKind
from services.common.http.testing import LocalIssuer
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document
from services.profile.adapters.outbound.kafka_changes import KafkaChangeFeed
from services.profile.adapters.outbound.mongo_privacy import MongoPrivacyStore
from services.profile.adapters.outbound.mongo_store import MongoProfileStore
from services.profile.core.observe import ProfilePayload
from services.profile.core.value import ValueConfig
from services.profile.indexes import CUSTOMERS_COLLECTION
from services.profile.service import ProfileService
from tests.profile.integration.conftest import api_client
from tests.profile.integration.profile_flow import (
    AT,
    customers_of,
    fresh,
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
def service(db: AsyncDatabase[Document], publisher: AsyncEventPublisher) -> ProfileService:
    return ProfileService(MongoProfileStore(db), KafkaChangeFeed(publisher), MongoPrivacyStore(db), clock)


@pytest.fixture
async def api(profile_url: str, issuer: LocalIssuer) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(profile_url, issuer, ["customers:read"]) as client:
        yield client


async def stored(service: ProfileService, db: AsyncDatabase[Document], *events: Event[ProfilePayload]) -> str:
    """Process the events like the worker does; the one customer they belong to."""
    await service.handle_batch(list(events))
    [customer_id] = await customers_of(db, {i.key for event in events for i in event.data.identifiers})
    return customer_id


async def test_lookup_by_email_or_phone_finds_the_profile_with_its_identifiers_and_summary(
    service: ProfileService, db: AsyncDatabase[Document], api: httpx.AsyncClient
) -> None:
    email, phone = fresh_email(), fresh_phone()
    customer_id = await stored(service, db, interaction(email, phone), order(email))

    by_id = await api.get(f"/v1/customers/{customer_id}")
    assert by_id.status_code == 200, by_id.text
    profile = by_id.json()
    assert profile["customer_id"] == customer_id
    assert {(i["kind"], i["value"]) for i in profile["identifiers"]} == {
        ("email", email.value),
        ("phone", phone.value),
    }
    assert profile["historic_value"] == "1499.00"
    assert profile["tier"]
    assert profile["lifecycle"]
    assert profile["language"] == "nb"
    assert profile["attributes"]["language"]["source"] == "email"
    assert profile["attributes"]["language"]["occurred_at"]

    national = phone.value.removeprefix("+47")
    for identifier in (f"email:{email.value.upper()}", f"phone:{phone.value}", f"phone:{national}"):
        found = await api.get("/v1/customers:lookup", params={"identifier": identifier})
        assert found.status_code == 200, found.text
        assert found.json() == profile


async def test_the_profile_shows_recency_frequency_and_monetary_and_orders_left_out_of_the_value(
    service: ProfileService, db: AsyncDatabase[Document], api: httpx.AsyncClient
) -> None:
    email = fresh_email()
    now = clock()  # an order is placed three days before ``at``
    customer_id = await stored(
        service,
        db,
        interaction(email),
        order(email, amount="1000.00", at=now - timedelta(days=7)),
        order(email, amount="1000.00", at=now, currency="SEK"),
        order(email, amount="500.00", at=now, currency="CHF"),  # no rate for it
    )

    profile = (await api.get(f"/v1/customers/{customer_id}")).json()

    sek = ValueConfig().exchange_rates["SEK"]
    historic = (1000 + 1000 * sek).quantize(Decimal("0.01"))
    assert (profile["recency_days"], profile["frequency"], profile["orders_without_rate"]) == (3, 3, 1)
    assert Decimal(profile["historic_value"]) == historic
    assert Decimal(profile["monetary"]) == (historic / 2).quantize(Decimal("0.01"))
    summary = await db[CUSTOMERS_COLLECTION].find_one({"_id": customer_id}, {"summary": 1})
    assert summary is not None
    assert (summary["summary"]["frequency"], summary["summary"]["monetary"]) == (3, profile["monetary"])


async def test_lookup_by_customer_number_and_page_scoped_id(
    service: ProfileService, db: AsyncDatabase[Document], api: httpx.AsyncClient
) -> None:
    number = fresh(IdentifierKind.CUSTOMER_NUMBER)
    customer_id = await stored(service, db, order(number))
    found = await api.get("/v1/customers:lookup", params={"identifier": f"customer_number:{number.value}"})
    assert found.status_code == 200
    assert found.json()["customer_id"] == customer_id

    unknown_page = await api.get("/v1/customers:lookup", params={"identifier": "messenger:123456:98765"})
    assert unknown_page.status_code == 404


async def test_unknown_customer_and_unknown_identifier_are_404_problems(api: httpx.AsyncClient) -> None:
    by_id = await api.get(f"/v1/customers/{uuid.uuid4()}")
    assert by_id.status_code == 404
    assert by_id.headers["content-type"] == "application/problem+json"
    by_identifier = await api.get("/v1/customers:lookup", params={"identifier": fresh_email().key})
    assert by_identifier.status_code == 404
    timeline = await api.get(f"/v1/customers/{uuid.uuid4()}/timeline")
    assert timeline.status_code == 404


async def test_a_merged_away_customer_redirects_to_the_survivor(
    service: ProfileService, db: AsyncDatabase[Document], api: httpx.AsyncClient
) -> None:
    email, phone = fresh_email(), fresh_phone()
    first = await stored(service, db, interaction(email, at=AT - timedelta(hours=1)))
    second = await stored(service, db, interaction(phone))
    survivor = await stored(service, db, interaction(email, phone))  # one event names both: a merge
    assert survivor == first
    away = second
    stored_away = await db[CUSTOMERS_COLLECTION].find_one({"_id": away})
    assert stored_away is not None
    assert stored_away["merged_into"] == survivor

    response = await api.get(f"/v1/customers/{away}")
    assert response.status_code == 308
    assert response.headers["location"] == f"/v1/customers/{survivor}"
    timeline = await api.get(f"/v1/customers/{away}/timeline", params={"limit": 5})
    assert timeline.status_code == 308
    assert timeline.headers["location"] == f"/v1/customers/{survivor}/timeline?limit=5"
    followed = await api.get(f"/v1/customers/{away}", follow_redirects=True)
    assert followed.status_code == 200
    assert followed.json()["customer_id"] == survivor
    # The lookup answers with the survivor whichever identifier is asked for.
    for identifier in (email, phone):
        looked_up = await api.get("/v1/customers:lookup", params={"identifier": identifier.key})
        assert looked_up.json()["customer_id"] == survivor


async def all_pages(
    api: httpx.AsyncClient, customer_id: str, **params: Any
) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    pages = 0
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await api.get(f"/v1/customers/{customer_id}/timeline", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        pages += 1
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages


async def test_timeline_pages_return_every_event_once_newest_first_and_filters_apply(
    service: ProfileService, db: AsyncDatabase[Document], api: httpx.AsyncClient
) -> None:
    email = fresh_email()
    events = [interaction(email, at=AT - timedelta(minutes=minutes)) for minutes in range(9)]
    # Two more at the same instant: the event id breaks the tie, across a page boundary too.
    events += [interaction(email, at=AT - timedelta(minutes=4)) for _ in range(2)]
    events += [order(email), order(email, at=AT - timedelta(days=1)), page_view(email)]
    customer_id = await stored(service, db, *events)

    items, pages = await all_pages(api, customer_id, limit=3, web="events")
    assert pages == 5
    assert sorted(item["event_id"] for item in items) == sorted(event.id for event in events)
    order_key = [(item["occurred_at"], item["event_id"]) for item in items]
    assert order_key == sorted(order_key, reverse=True)

    orders, _ = await all_pages(api, customer_id, kind="order", limit=1)
    assert {item["event_id"] for item in orders} == {events[-3].id, events[-2].id}
    assert all(item["details"]["order"]["currency"] == "NOK" for item in orders)
    emails, _ = await all_pages(api, customer_id, channel="email", limit=200)
    assert len(emails) == 11
    assert {item["kind"] for item in emails} == {"interaction"}
    web, _ = await all_pages(api, customer_id, kind="web_activity", channel="email")
    assert web == []


async def test_the_timeline_shows_a_web_session_as_one_summary_unless_asked_for_every_event(
    service: ProfileService, db: AsyncDatabase[Document], api: httpx.AsyncClient
) -> None:
    email, cookie = fresh_email(), fresh(IdentifierKind.COOKIE)
    visits = [page_view(cookie, email, at=AT + timedelta(minutes=m), session="s-1") for m in range(3)]
    question = interaction(email, at=AT + timedelta(hours=2))
    customer_id = await stored(service, db, *visits, question)

    summarised, _ = await all_pages(api, customer_id)
    every, _ = await all_pages(api, customer_id, web="events")

    assert [item["kind"] for item in summarised] == ["interaction", "web_session"]
    session = summarised[1]["details"]["web_session"]
    assert (session["session_id"], session["events"], session["activities"]) == ("s-1", 3, {"page_view": 3})
    assert sorted(session["event_ids"]) == sorted(v.id for v in visits)
    assert len(every) == 4
    assert {item["details"]["web"]["session_id"] for item in every if item["kind"] == "web_activity"} == {
        "s-1"
    }


async def test_timeline_limits_and_cursors_are_checked(
    service: ProfileService, db: AsyncDatabase[Document], api: httpx.AsyncClient
) -> None:
    customer_id = await stored(service, db, interaction(fresh_email()))
    for params in ({"limit": 0}, {"limit": 201}, {"cursor": "not-a-cursor"}, {"kind": "gossip"}):
        response = await api.get(f"/v1/customers/{customer_id}/timeline", params=params)
        assert response.status_code == 422, params


async def test_reads_need_the_customers_read_scope(
    service: ProfileService, db: AsyncDatabase[Document], profile_url: str, issuer: LocalIssuer
) -> None:
    email = fresh_email()
    customer_id = await stored(service, db, interaction(email))
    async with api_client(profile_url, issuer, ["interactions:write"]) as client:
        for path, params in (
            (f"/v1/customers/{customer_id}", {}),
            ("/v1/customers:lookup", {"identifier": email.key}),
            (f"/v1/customers/{customer_id}/timeline", {}),
        ):
            response = await client.get(path, params=params)
            assert response.status_code == 403, path
            assert email.value not in response.text
    async with httpx.AsyncClient(base_url=profile_url) as anonymous:
        assert (await anonymous.get(f"/v1/customers/{customer_id}")).status_code == 401


@pytest.mark.parametrize(
    "identifier",
    [
        "email:ola-at-example.no",
        "phone:12",
        "fax:ola@example.no",
        "messenger:only-a-psid-ola",
        "email:",
        "ola@example.no",
    ],
)
async def test_a_malformed_identifier_is_a_422_naming_the_parameter_not_the_value(
    api: httpx.AsyncClient, identifier: str
) -> None:
    response = await api.get("/v1/customers:lookup", params={"identifier": identifier})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["errors"] == [{"loc": ["query", "identifier"], "type": "value_error"}]
    assert "ola" not in response.text
