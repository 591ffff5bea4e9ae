"""REST intake end to end against the real broker and database: exactly one event per interaction,
duplicates publish nothing new, bad input gets a clear 4xx."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from schemas.interactions import InteractionReceived
from services.common.http.testing import LocalIssuer, serve
from services.common.settings import CommonSettings
from services.ingest.settings import IngestSettings
from tests.ingest.integration.conftest import ingest_app
from tests.support.kafka import events_on

pytestmark = pytest.mark.integration

CANARY = "canary-7f3a-secret text"


def an_interaction(message_id: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": "web_form",
        "direction": "inbound",
        "identifiers": [
            {"kind": "phone", "value": "912 34 567"},
            {"kind": "email", "value": " Kari.Nordmann@Example.NO"},
        ],
        "subject": "Levering",
        "text": "Hvor er pakken min?",
        "occurred_at": "2026-11-23T10:00:00+01:00",
        "source_message_id": message_id,
    }
    body.update(changes)
    return body


def headers(issuer: LocalIssuer, *scopes: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(list(scopes or ['interactions:write']))}", **extra}


def ours(events: list[Any], message_ids: set[str]) -> list[InteractionReceived]:
    return [
        e.data
        for e in events
        if isinstance(e.data, InteractionReceived) and e.data.source_message_id in message_ids
    ]


async def test_one_interaction_becomes_exactly_one_normalised_event(
    infra: CommonSettings, ingest_url: str, issuer: LocalIssuer
) -> None:
    message_id = f"form-{uuid.uuid4()}"
    async with httpx.AsyncClient(base_url=ingest_url) as client:
        first = await client.post(
            "/v1/interactions", json=an_interaction(message_id), headers=headers(issuer)
        )
        again = await client.post(
            "/v1/interactions", json=an_interaction(message_id), headers=headers(issuer)
        )
    assert first.status_code == 202, first.text
    assert first.json()["duplicate"] is False
    assert again.status_code == 202
    assert again.json() == {**first.json(), "duplicate": True}

    events = await events_on(infra, "interactions.v1", wanted=1)
    matching = [e for e in events if e.id == first.json()["event_id"]]
    assert len(matching) == 1
    assert matching[0].key == "email:kari.nordmann@example.no"
    assert [i.value for i in matching[0].data.identifiers] == [  # type: ignore[attr-defined]
        "+4791234567",
        "kari.nordmann@example.no",
    ]
    assert len(ours(events, {message_id})) == 1


async def test_idempotency_key_makes_retries_safe_across_a_restart(
    infra: CommonSettings, issuer: LocalIssuer
) -> None:
    settings = IngestSettings(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers, mongodb_uri=infra.mongodb_uri
    )
    key = str(uuid.uuid4())
    body = an_interaction(None, text=f"retry {key}")  # type: ignore[arg-type]
    answers = []
    for _ in range(2):  # a fresh app each time: the dedupe lives in the database, not in memory
        with serve(ingest_app(settings, issuer)) as url:
            async with httpx.AsyncClient(base_url=url) as client:
                response = await client.post(
                    "/v1/interactions", json=body, headers=headers(issuer, **{"Idempotency-Key": key})
                )
            answers.append(response.json())
    assert answers[1] == {**answers[0], "duplicate": True}
    events = await events_on(infra, "interactions.v1", wanted=1)
    assert len([e for e in events if e.id == answers[0]["event_id"]]) == 1


async def test_a_batch_publishes_each_new_item_once(
    infra: CommonSettings, ingest_url: str, issuer: LocalIssuer
) -> None:
    ids = [f"batch-{uuid.uuid4()}" for _ in range(3)]
    items = [an_interaction(ids[0]), an_interaction(ids[1]), an_interaction(ids[2]), an_interaction(ids[1])]
    async with httpx.AsyncClient(base_url=ingest_url) as client:
        response = await client.post(
            "/v1/interactions:batch", json={"interactions": items}, headers=headers(issuer)
        )
    assert response.status_code == 202, response.text
    results = response.json()["results"]
    assert [r["duplicate"] for r in results] == [False, False, False, True]
    assert results[3]["event_id"] == results[1]["event_id"]
    events = await events_on(infra, "interactions.v1", wanted=3)
    assert sorted(i.source_message_id or "" for i in ours(events, set(ids))) == sorted(ids)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (an_interaction("x", channel="pigeon"), "channel"),
        (an_interaction("x", identifiers=[]), "identifiers"),
        (an_interaction("x", occurred_at="2026-11-23T10:00:00"), "occurred_at"),
        (an_interaction("x", sneaky=CANARY), "sneaky"),
        (an_interaction("x", text=CANARY * 10_000), "text"),
    ],
)
def test_bad_input_is_422_naming_the_field_without_echoing_it(
    ingest_url: str, issuer: LocalIssuer, body: dict[str, Any], field: str
) -> None:
    response = httpx.post(f"{ingest_url}/v1/interactions", json=body, headers=headers(issuer))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in response.text or "*" in response.text
    assert CANARY not in response.text


async def test_unparseable_identifiers_are_kept_and_flagged(
    infra: CommonSettings, ingest_url: str, issuer: LocalIssuer
) -> None:
    message_id = f"form-{uuid.uuid4()}"
    body = an_interaction(message_id, identifiers=[{"kind": "phone", "value": "ring meg"}])
    async with httpx.AsyncClient(base_url=ingest_url) as client:
        response = await client.post("/v1/interactions", json=body, headers=headers(issuer))
    assert response.status_code == 202
    [published] = ours(await events_on(infra, "interactions.v1", wanted=1), {message_id})
    assert [(i.value, i.unparsed) for i in published.identifiers] == [("ring meg", True)]


def test_authentication_and_scope_are_enforced(ingest_url: str, issuer: LocalIssuer) -> None:
    body = an_interaction("auth")
    assert httpx.post(f"{ingest_url}/v1/interactions", json=body).status_code == 401
    wrong_scope = headers(issuer, "customers:read")
    assert httpx.post(f"{ingest_url}/v1/interactions", json=body, headers=wrong_scope).status_code == 403


def test_a_batch_over_500_items_is_refused(ingest_url: str, issuer: LocalIssuer) -> None:
    items = [an_interaction(f"many-{n}") for n in range(501)]
    response = httpx.post(
        f"{ingest_url}/v1/interactions:batch", json={"interactions": items}, headers=headers(issuer)
    )
    assert response.status_code == 422
