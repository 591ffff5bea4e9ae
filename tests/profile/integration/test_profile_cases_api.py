"""Cases and consent through profile's API over real HTTP, applied by the real worker through Kafka:
a close request and a consent decision become events on ``profile-requests.v1`` that the worker folds in
order with the customer's other events; a retried request with the same Idempotency-Key is applied once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from schemas.cases import CaseChange, CaseChanged
from services.common.http.testing import LocalIssuer
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document
from services.common.settings import CommonSettings
from tests.profile.integration.conftest import api_client
from tests.profile.integration.profile_flow import (
    customers_of,
    eventually,
    fresh_email,
    fresh_phone,
    interaction,
    on_timeline,
    published,
    running_worker,
    topic_of,
    worker_settings,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def api(profile_url: str, issuer: LocalIssuer) -> AsyncIterator[httpx.AsyncClient]:
    scopes = ["customers:read", "customers:write", "cases:write"]
    async with api_client(profile_url, issuer, scopes, subject="crm-7") as client:
        yield client


async def customer_with_a_case(
    db: AsyncDatabase[Document], publisher: AsyncEventPublisher, api: httpx.AsyncClient
) -> tuple[str, dict[str, Any]]:
    email = fresh_email()
    event = interaction(email)
    await publisher.publish(topic_of(event), event)
    await eventually(lambda: on_timeline(db, [event.id]), what="the contact on the timeline")
    [customer_id] = await customers_of(db, [email.key])
    response = await api.get(f"/v1/customers/{customer_id}/cases")
    assert response.status_code == 200, response.text
    [case] = response.json()["cases"]
    return customer_id, case


async def case_status(api: httpx.AsyncClient, customer_id: str) -> str:
    response = await api.get(f"/v1/customers/{customer_id}/cases")
    status: str = response.json()["cases"][0]["status"]
    return status


@pytest.mark.usefixtures("worker")
async def test_closing_a_case_by_api_closes_it_once_and_publishes_the_close(
    infra: CommonSettings, db: AsyncDatabase[Document], publisher: AsyncEventPublisher, api: httpx.AsyncClient
) -> None:
    customer_id, case = await customer_with_a_case(db, publisher, api)
    assert (case["status"], case["interactions"], case["channel"]) == ("open", 1, "email")
    key = {"Idempotency-Key": uuid.uuid4().hex}
    url = f"/v1/cases/{case['case_id']}:close"

    first = await api.post(url, json={"reason": "resolved"}, headers=key)
    retried = await api.post(url, json={"reason": "resolved"}, headers=key)

    assert first.status_code == retried.status_code == 202, first.text
    assert (
        first.json()
        == retried.json()
        == {"request_id": first.json()["request_id"], "customer_id": customer_id}
    )

    async def closed() -> bool:
        return await case_status(api, customer_id) == "closed"

    await eventually(closed, what="the case closed by the worker")
    again = await api.post(url, json={"reason": "spam"})
    assert again.status_code == 200
    assert (again.json()["status"], again.json()["close_reason"]) == ("closed", "resolved")
    changes = await published(infra, "cases.v1", customer_id, at_least=2)
    assert [c.data.change for c in changes if isinstance(c.data, CaseChanged)] == [
        CaseChange.OPENED,
        CaseChange.CLOSED,
    ]
    timeline = (
        await api.get(f"/v1/customers/{customer_id}/timeline", params={"case": case["case_id"]})
    ).json()
    assert [item["type"] for item in timeline["items"]] == [
        "helhet.case.close_requested.v1",
        "helhet.interaction.received.v1",
    ]


@pytest.mark.usefixtures("worker")
async def test_a_consent_decision_by_api_reaches_the_profile_with_its_source(
    db: AsyncDatabase[Document], publisher: AsyncEventPublisher, api: httpx.AsyncClient
) -> None:
    customer_id, _ = await customer_with_a_case(db, publisher, api)
    decided = datetime.now(UTC) - timedelta(minutes=1)

    response = await api.put(
        f"/v1/customers/{customer_id}/consent/marketing",
        json={"granted": False, "decided_at": decided.isoformat()},
    )

    assert response.status_code == 202, response.text

    async def withdrawn() -> bool:
        consent = (await api.get(f"/v1/customers/{customer_id}")).json()["consent"]
        return consent.get("marketing", {}).get("granted") is False

    await eventually(withdrawn, what="the consent decision in the profile")
    marketing = (await api.get(f"/v1/customers/{customer_id}")).json()["consent"]["marketing"]
    assert marketing["source"] == "api:crm-7"


async def test_a_consent_decision_for_a_merged_away_customer_is_redirected_to_the_survivor(
    infra: CommonSettings, db: AsyncDatabase[Document], publisher: AsyncEventPublisher, api: httpx.AsyncClient
) -> None:
    email, phone = fresh_email(), fresh_phone()
    events = [
        interaction(email, at=datetime(2026, 11, 1, tzinfo=UTC)),
        interaction(phone, at=datetime(2026, 11, 2, tzinfo=UTC)),
    ]
    merging = interaction(email, phone)
    async with running_worker(worker_settings(infra)):
        for event in events:
            await publisher.publish(topic_of(event), event)
        await eventually(lambda: on_timeline(db, [e.id for e in events]), what="both customers")
        [merged_away] = await customers_of(db, [phone.key])
        await publisher.publish(topic_of(merging), merging)
        await eventually(lambda: on_timeline(db, [merging.id]), what="the merge")
    [survivor] = await customers_of(db, [email.key, phone.key])

    response = await api.put(f"/v1/customers/{merged_away}/consent/profiling", json={"granted": True})

    assert response.status_code == 308
    assert response.headers["location"] == f"/v1/customers/{survivor}/consent/profiling"


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/v1/cases/no-such-case:close", {}, 404),
        ("POST", "/v1/cases/no-such-case:close", {"reason": "because"}, 422),
        ("POST", "/v1/cases/" + "x" * 101 + ":close", {}, 422),
        ("PUT", "/v1/customers/no-such-customer/consent/marketing", {"granted": True}, 404),
        ("PUT", "/v1/customers/no-such-customer/consent/spying", {"granted": True}, 422),
        ("PUT", "/v1/customers/no-such-customer/consent/marketing", {"granted": "maybe"}, 422),
        ("PUT", "/v1/customers/no-such-customer/consent/marketing", {}, 422),
        (
            "PUT",
            "/v1/customers/no-such-customer/consent/marketing",
            {"granted": True, "decided_at": "2999-01-01T00:00:00Z"},
            422,
        ),
        (
            "PUT",
            "/v1/customers/no-such-customer/consent/marketing",
            {"granted": True, "decided_at": "2026-01-01T00:00:00"},  # no offset: ambiguous
            422,
        ),
    ],
)
async def test_bad_requests_get_a_clear_error_and_publish_nothing(
    api: httpx.AsyncClient, method: str, path: str, body: dict[str, Any], status: int
) -> None:
    response = await api.request(method, path, json=body)

    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_writes_need_their_scopes(profile_url: str, issuer: LocalIssuer) -> None:
    async with api_client(profile_url, issuer, ["customers:read"]) as reader:
        close = await reader.post("/v1/cases/any:close", json={})
        consent = await reader.put("/v1/customers/any/consent/marketing", json={"granted": True})

    assert close.status_code == consent.status_code == 403
