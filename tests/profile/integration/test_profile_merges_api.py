"""Merges, unmerges and the review queue over real HTTP, applied by the real worker through Kafka: an
automatic merge is recorded and can be undone exactly (both customers, their identifiers, value and
cases back), customers can be merged on request, and held merges are approved or dismissed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from schemas.cases import CaseChange, CaseChanged
from schemas.envelope import Event
from services.common.http.testing import LocalIssuer
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document
from services.common.settings import CommonSettings
from services.profile.core.observe import ProfilePayload
from tests.profile.integration.conftest import api_client
from tests.profile.integration.profile_flow import (
    customers_of,
    eventually,
    fresh_email,
    fresh_phone,
    interaction,
    on_timeline,
    order,
    published,
    topic_of,
)

pytestmark = pytest.mark.integration

DAY_ONE, DAY_TWO = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)


@pytest.fixture
async def api(profile_url: str, issuer: LocalIssuer) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(profile_url, issuer, ["customers:read", "customers:write"]) as client:
        yield client


async def through(
    db: AsyncDatabase[Document], publisher: AsyncEventPublisher, *events: Event[ProfilePayload]
) -> None:
    for event in events:
        await publisher.publish(topic_of(event), event)
    await eventually(lambda: on_timeline(db, [event.id for event in events]), what="the events processed")


async def profile(api: httpx.AsyncClient, customer_id: str) -> dict[str, Any]:
    response = await api.get(f"/v1/customers/{customer_id}", follow_redirects=False)
    assert response.status_code == 200, response.status_code
    body: dict[str, Any] = response.json()
    return body


def seen(body: dict[str, Any]) -> tuple[set[str], str, str]:
    return {i["value"] for i in body["identifiers"]}, body["historic_value"], body["tier"]


@pytest.mark.usefixtures("worker")
async def test_an_automatic_merge_is_undone_exactly_and_can_be_merged_again_on_request(
    infra: CommonSettings, db: AsyncDatabase[Document], publisher: AsyncEventPublisher, api: httpx.AsyncClient
) -> None:
    email, phone = fresh_email(), fresh_phone()
    # An order is stamped three days before ``at``: both customers are first seen on their own day.
    first_order, second_order = DAY_ONE + timedelta(days=3), DAY_TWO + timedelta(days=3)
    await through(
        db, publisher, interaction(email, at=DAY_ONE), order(email, amount="1000.00", at=first_order)
    )
    await through(
        db,
        publisher,
        interaction(phone, text="Kan jeg bytte jakken?", at=DAY_TWO),
        order(phone, amount="500.00", at=second_order),
    )
    [kari] = await customers_of(db, [email.key])
    [away] = await customers_of(db, [phone.key])
    before = {customer_id: seen(await profile(api, customer_id)) for customer_id in (kari, away)}
    [away_case] = (await api.get(f"/v1/customers/{away}/cases")).json()["cases"]

    await through(db, publisher, interaction(email, phone, text="Hei igjen, det er meg"))
    [merge] = (await api.get(f"/v1/customers/{kari}/merges")).json()
    assert (merge["survivor_id"], merge["merged_away_id"], merge["undone_at"]) == (kari, away, None)
    assert (await api.get(f"/v1/customers/{away}", follow_redirects=False)).status_code == 308
    assert (await profile(api, kari))["historic_value"] == "1500.00"

    undo = await api.post(f"/v1/merges/{merge['merge_id']}:undo")
    assert undo.status_code == 202, undo.text

    async def undone() -> bool:
        return (await api.get(f"/v1/merges/{merge['merge_id']}")).json()["undone_at"] is not None

    await eventually(undone, what="the unmerge applied")
    assert seen(await profile(api, away)) == before[away]
    restored_kari = await profile(api, kari)
    assert restored_kari["historic_value"] == before[kari][1]  # the bridging message stays with Kari
    phone_owner = await api.get("/v1/customers:lookup", params={"identifier": phone.key})
    assert phone_owner.json()["customer_id"] == away
    assert [c["case_id"] for c in (await api.get(f"/v1/customers/{away}/cases")).json()["cases"]] == [
        away_case["case_id"]
    ]
    moves = [
        e.data
        for e in await published(infra, "cases.v1", away, at_least=2)
        if isinstance(e.data, CaseChanged) and e.data.change is CaseChange.MOVED
    ]
    assert [(m.case_id, m.customer_id) for m in moves] == [(away_case["case_id"], away)]
    again = await api.post(f"/v1/merges/{merge['merge_id']}:undo")
    assert again.status_code == 409
    rebridge = interaction(email, phone, text="Det er fortsatt meg")
    await through(db, publisher, rebridge)
    assert await customers_of(db, [email.key, phone.key]) == {kari, away}  # kept apart: not merged again
    held = {r["review_id"]: r for r in (await api.get("/v1/reviews")).json()}[rebridge.id]
    assert (held["reason"], set(held["customers"])) == ("kept_apart", {kari, away})

    merged = await api.post("/v1/customers:merge", json={"customer_ids": [away, kari]})
    assert merged.status_code == 202, merged.text

    async def merged_again() -> bool:
        response = await api.get(f"/v1/customers/{away}", follow_redirects=False)
        return response.status_code == 308

    await eventually(merged_again, what="the requested merge")
    assert (await profile(api, kari))["historic_value"] == "1500.00"
    one = await api.post("/v1/customers:merge", json={"customer_ids": [away, kari]})
    assert one.status_code == 409


@pytest.mark.usefixtures("worker")
async def test_held_merges_are_listed_and_approved_or_dismissed_once(
    db: AsyncDatabase[Document], publisher: AsyncEventPublisher, api: httpx.AsyncClient
) -> None:
    reviews = []
    for _ in range(2):
        emails = [fresh_email() for _ in range(3)]
        await through(db, publisher, *(interaction(e, at=DAY_ONE) for e in emails))
        bridge = interaction(*emails, text="Vi deler denne kontoen")
        await through(db, publisher, bridge)
        reviews.append((bridge.id, emails))
    listed = {r["review_id"]: r for r in (await api.get("/v1/reviews")).json()}
    (approve_id, approved_emails), (dismiss_id, _) = reviews
    assert listed[approve_id]["reason"] == "too_many_customers"
    assert len(listed[approve_id]["customers"]) == 3

    dismissed = await api.post(f"/v1/reviews/{dismiss_id}:dismiss")
    assert (dismissed.status_code, dismissed.json()["status"]) == (200, "dismissed")
    assert (await api.post(f"/v1/reviews/{dismiss_id}:dismiss")).status_code == 409
    assert (await api.post(f"/v1/reviews/{dismiss_id}:approve")).status_code == 409
    approved = await api.post(f"/v1/reviews/{approve_id}:approve")
    assert approved.status_code == 202, approved.text

    async def one_customer() -> bool:
        return len(await customers_of(db, [e.key for e in approved_emails])) == 1

    await eventually(one_customer, what="the approved merge")
    open_ids = {r["review_id"] for r in (await api.get("/v1/reviews")).json()}
    assert not open_ids & {approve_id, dismiss_id}


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/v1/customers:merge", {"customer_ids": ["only-one"]}, 422),
        ("POST", "/v1/customers:merge", {"customer_ids": ["a"] * 11}, 422),
        ("POST", "/v1/customers:merge", {"customer_ids": ["no-such", "nor-this"]}, 404),
        ("POST", "/v1/merges/no-such-merge:undo", None, 404),
        ("GET", "/v1/merges/no-such-merge", None, 404),
        ("POST", "/v1/reviews/no-such-review:approve", None, 404),
        ("POST", "/v1/reviews/no-such-review:dismiss", None, 404),
        ("GET", "/v1/reviews?status=pending", None, 422),
    ],
)
async def test_bad_merge_requests_get_a_clear_error(
    api: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None, status: int
) -> None:
    response = await api.request(method, path, json=body)

    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_merging_needs_the_write_scope(profile_url: str, issuer: LocalIssuer) -> None:
    async with api_client(profile_url, issuer, ["customers:read"]) as reader:
        responses = [
            await reader.post("/v1/customers:merge", json={"customer_ids": ["a", "b"]}),
            await reader.post("/v1/merges/any:undo"),
            await reader.post("/v1/reviews/any:approve"),
        ]

    assert [r.status_code for r in responses] == [403, 403, 403]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/customers:merge", b'{"customer_ids": ["a", ', 422),  # malformed JSON
        ("/v1/customers:merge", b"[1, 2]", 422),  # not an object
        ("/v1/customers:merge", b'{"customer_ids": ["' + b"a" * 3_000_000 + b'"]}', 413),  # oversized
        ("/v1/cases/any:close", b'{"reason": "resolved", "note": 1}', 422),  # unknown field
        ("/v1/cases/any:close", b"\xff\xfe not utf-8", 422),
    ],
)
async def test_malformed_and_oversized_bodies_are_refused_whole(
    profile_url: str, issuer: LocalIssuer, path: str, body: bytes, status: int
) -> None:
    scopes = ["customers:write", "cases:write"]
    async with api_client(profile_url, issuer, scopes) as client:
        response = await client.post(path, content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
