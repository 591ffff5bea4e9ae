"""Chat, phone, form and store-visit intake end to end against the real broker and database: each
delivery is exactly one event on ``interactions.v1``, keyed by customer; redeliveries publish nothing new."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from schemas.interactions import InteractionReceived
from services.common.http.testing import LocalIssuer
from services.common.settings import CommonSettings
from tests.ingest.integration.test_rest_intake import headers
from tests.support.kafka import events_on

pytestmark = pytest.mark.integration

AT = "2026-11-23T10:00:00+01:00"
CANARY = "canary-5b1e-secret"


def bodies(run: str) -> list[tuple[str, dict[str, Any], str, str]]:
    """(path, body, expected source_message_id, expected Kafka key) for every kind of delivery."""
    visitor = [{"kind": "cookie", "value": f"ck-{run}"}, {"kind": "email", "value": f"Kari.{run}@Example.no"}]
    email_key = f"email:kari.{run}@example.no"
    conversation = f"conv-{run}"
    call = f"call-{run}"
    chat = {"conversation_id": conversation, "identifiers": visitor, "occurred_at": AT}
    call_step = {"call_id": call, "caller": "41 23 45 67", "occurred_at": AT}
    return [
        (
            "/chat/events",
            {**chat, "event": "conversation_started"},
            f"{conversation}/conversation_started",
            email_key,
        ),
        (
            "/chat/events",
            {**chat, "message_id": "m1", "text": "Hei!", "page_url": "https://shop.example.no/sofa"},
            f"{conversation}/m1",
            email_key,
        ),
        (
            "/chat/events",
            {**chat, "event": "conversation_ended"},
            f"{conversation}/conversation_ended",
            email_key,
        ),
        (
            "/phone/events",
            {**call_step, "event": "call_offered"},
            f"{call}/call_offered",
            "phone:+4741234567",
        ),
        (
            "/phone/events",
            {**call_step, "event": "call_answered"},
            f"{call}/call_answered",
            "phone:+4741234567",
        ),
        (
            "/phone/events",
            {**call_step, "event": "call_ended", "duration_seconds": 95},
            f"{call}/call_ended",
            "phone:+4741234567",
        ),
        (
            "/phone/events",
            {
                **call_step,
                "call_id": f"missed-{run}",
                "event": "call_missed",
                "identifiers": [{"kind": "customer_number", "value": f"C-{run}"}],
            },
            f"missed-{run}/call_missed",
            f"customer_number:C-{run}",
        ),
        (
            "/phone/events",
            {
                **call_step,
                "call_id": f"missed-{run}",
                "event": "callback_requested",
                "callback_window_start": "2026-11-23T14:00:00+01:00",
                "callback_window_end": "2026-11-23T16:00:00+01:00",
            },
            f"missed-{run}/callback_requested",
            "phone:+4741234567",
        ),
        (
            "/forms",
            {
                "form_id": "contact-us",
                "submission_id": f"sub-{run}",
                "identifiers": visitor,
                "subject": "Levering",
                "text": "Hvor er sofaen?",
                "page_url": "https://shop.example.no/kontakt",
                "occurred_at": AT,
            },
            f"sub-{run}",
            email_key,
        ),
        (
            "/forms",
            {
                "channel": "portal",
                "form_id": "complaint",
                "submission_id": f"portal-{run}",
                "identifiers": [{"kind": "customer_number", "value": f"C-{run}"}],
                "text": "Reklamasjon",
                "occurred_at": AT,
            },
            f"portal-{run}",
            f"customer_number:C-{run}",
        ),
        (
            "/store/visits",
            {
                "location_id": "oslo-1",
                "visit_id": f"pos-{run}",
                "identifiers": [{"kind": "phone", "value": "+47 412 34 567"}],
                "note": "Looked at sofas",
                "occurred_at": AT,
            },
            f"oslo-1/pos-{run}",
            "phone:+4741234567",
        ),
    ]


async def test_each_delivery_is_one_event_and_redeliveries_publish_nothing(
    infra: CommonSettings, ingest_url: str, issuer: LocalIssuer
) -> None:
    run = uuid.uuid4().hex[:10]
    cases = bodies(run)
    async with httpx.AsyncClient(base_url=f"{ingest_url}/v1/channels", headers=headers(issuer)) as client:
        first = [await client.post(path, json=body) for path, body, _, _ in cases]
        again = [await client.post(path, json=body) for path, body, _, _ in cases]
    assert [r.status_code for r in first] == [202] * len(cases), [r.text for r in first]
    assert [r.status_code for r in again] == [202] * len(cases)
    assert [r.json()["duplicate"] for r in first] == [False] * len(cases)
    assert [r.json()["duplicate"] for r in again] == [True] * len(cases)
    assert [r.json()["event_id"] for r in again] == [r.json()["event_id"] for r in first]

    expected = {
        message_id: (key, r.json()["event_id"])
        for (_, _, message_id, key), r in zip(cases, first, strict=True)
    }
    events = await events_on(infra, "interactions.v1", wanted=len(cases))
    ours = [
        (e, e.data)
        for e in events
        if isinstance(e.data, InteractionReceived) and e.data.source_message_id in expected
    ]
    assert sorted(data.source_message_id or "" for _, data in ours) == sorted(expected)  # exactly one each
    for event, data in ours:
        assert event.type == "helhet.interaction.received.v1"
        assert (event.key, event.id) == expected[data.source_message_id or ""]
    by_id = {data.source_message_id: data for _, data in ours}
    assert by_id[f"call-{run}/call_ended"].call_duration_seconds == 95
    assert by_id[f"conv-{run}/m1"].page_url == "https://shop.example.no/sofa"
    assert by_id[f"conv-{run}/conversation_started"].text is None
    assert by_id[f"missed-{run}/callback_requested"].callback_window_end is not None
    assert by_id[f"oslo-1/pos-{run}"].location_id == "oslo-1"
    assert by_id[f"portal-{run}"].channel.value == "portal"


async def test_a_visit_is_deduped_by_its_own_id_whatever_idempotency_key_comes_with_it(
    infra: CommonSettings, ingest_url: str, issuer: LocalIssuer
) -> None:
    """A retry under a new key is the same visit; another visit under a reused key is not hidden by it."""
    run = uuid.uuid4().hex[:10]

    def visit(visit_id: str) -> dict[str, Any]:
        return {
            "location_id": "bergen-2",
            "visit_id": visit_id,
            "identifiers": [{"kind": "customer_number", "value": f"C-{run}"}],
            "occurred_at": AT,
        }

    sent = [(f"a-{run}", f"k1-{run}"), (f"a-{run}", f"k2-{run}"), (f"b-{run}", f"k1-{run}")]
    async with httpx.AsyncClient(base_url=f"{ingest_url}/v1/channels") as client:
        answers = [
            await client.post(
                "/store/visits", json=visit(visit_id), headers=headers(issuer, **{"Idempotency-Key": key})
            )
            for visit_id, key in sent
        ]
    assert [answer.status_code for answer in answers] == [202, 202, 202]
    assert answers[1].json() == {**answers[0].json(), "duplicate": True}
    assert answers[2].json()["duplicate"] is False
    events = await events_on(infra, "interactions.v1", wanted=2)
    ours = [
        e for e in events if isinstance(e.data, InteractionReceived) and e.key == f"customer_number:C-{run}"
    ]
    assert sorted(e.data.source_message_id for e in ours) == [  # type: ignore[attr-defined]
        f"bergen-2/a-{run}",
        f"bergen-2/b-{run}",
    ]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/chat/events",
            {"conversation_id": "c", "identifiers": [{"kind": "cookie", "value": CANARY}], "occurred_at": AT},
            "text",
        ),
        (
            "/chat/events",
            {
                "event": "conversation_started",
                "conversation_id": "c",
                "text": CANARY,
                "identifiers": [{"kind": "cookie", "value": "x"}],
                "occurred_at": AT,
            },
            "text",
        ),
        (
            "/phone/events",
            {"event": "call_ended", "call_id": "c", "caller": CANARY, "occurred_at": AT},
            "duration_seconds",
        ),
        (
            "/phone/events",
            {
                "event": "callback_requested",
                "call_id": "c",
                "caller": CANARY,
                "occurred_at": AT,
                "callback_window_start": "2026-11-23T16:00:00Z",
                "callback_window_end": "2026-11-23T15:00:00Z",
            },
            "callback_window_end",
        ),
        (
            "/forms",
            {
                "channel": "store",
                "form_id": "f",
                "submission_id": CANARY,
                "identifiers": [{"kind": "email", "value": "a@b.no"}],
                "occurred_at": AT,
            },
            "channel",
        ),
        (
            "/store/visits",
            {"location_id": "l", "visit_id": "v", "identifiers": [], "note": CANARY, "occurred_at": AT},
            "identifiers",
        ),
        (
            "/store/visits",
            {
                "location_id": "l",
                "visit_id": "v",
                "identifiers": [{"kind": "email", "value": "a@b.no"}],
                "occurred_at": AT,
                "colour": CANARY,
            },
            "colour",
        ),
    ],
)
def test_bad_input_is_422_naming_the_field_without_echoing_it(
    ingest_url: str, issuer: LocalIssuer, path: str, body: dict[str, Any], field: str
) -> None:
    response = httpx.post(f"{ingest_url}/v1/channels{path}", json=body, headers=headers(issuer))
    assert response.status_code == 422
    assert field in {loc for error in response.json()["errors"] for loc in error["loc"]}
    assert CANARY not in response.text


@pytest.mark.parametrize("path", ["/chat/events", "/phone/events", "/forms", "/store/visits"])
def test_writing_needs_the_interactions_scope(ingest_url: str, issuer: LocalIssuer, path: str) -> None:
    url = f"{ingest_url}/v1/channels{path}"
    assert httpx.post(url, json={}).status_code == 401
    assert httpx.post(url, json={}, headers=headers(issuer, "profiles:read")).status_code == 403
