"""Hostile input across every channel adapter over HTTP (chat, phone, forms, store, the email webhook,
Twilio, Meta, and the REST shapes' identifiers and times): nothing gets a 5xx, what breaks a rule gets
a 4xx, and valid deliveries sent in between all land on Kafka. An order that would be a Kafka message
over the broker's limit is refused with 413 and publishes nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from schemas.commerce import OrderRecorded
from schemas.interactions import InteractionReceived
from services.common.http.testing import LocalIssuer
from services.common.settings import CommonSettings
from tests.ingest.integration.test_channel_webhooks import (
    EMAIL_PATH,
    META_PATH,
    TWILIO_PATH,
    a_sid,
    an_email,
    meta_delivery,
    meta_signature,
    twilio_form,
    twilio_signature,
)
from tests.ingest.integration.test_commerce_intake import an_order
from tests.ingest.integration.test_contact_channels import bodies
from tests.ingest.integration.test_rest_intake import an_interaction, headers
from tests.support.kafka import events_on

pytestmark = pytest.mark.integration

# Instants Python cannot move to UTC, and ones that are not instants at all.
BAD_TIMES: list[Any] = [
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-10:00",
    "2026-13-01T00:00:00Z",
    "2026-11-23T10:00:00",  # no offset
    "1e309",
    1_763_892_000,
]
# A scope where none belongs, and a page-scoped id without its page.
BAD_SCOPES: list[Any] = [
    [{"kind": "messenger", "value": "123456"}],
    [{"kind": "instagram", "value": "987"}],
    [{"kind": "email", "value": "kari@example.no", "scope": "page-1"}],
    [{"kind": "phone", "value": "+4791234567", "scope": ""}],
]
ANY_VALUE: list[Any] = [{"$gt": ""}, ["x"] * 3, "\ud800", "a" * 2_000_000, None, -1, True, 1e308]
TIME_FIELDS = {"occurred_at", "callback_window_start", "callback_window_end", "received_at"}


def json_deliveries(run: str) -> list[tuple[str, dict[str, Any]]]:
    """(path, a valid body) for every JSON channel and REST shape."""
    contact = [(f"/v1/channels{path}", body) for path, body, _, _ in bodies(run)]
    return [
        *contact,
        (EMAIL_PATH, an_email(f"<{run}@example.no>")),
        ("/v1/interactions", an_interaction(f"hostile-{run}")),
        ("/v1/interactions:batch", {"interactions": [an_interaction(f"hostile-b-{run}")]}),
        ("/v1/orders", an_order(f"O-{run}")),
    ]


def hostile_json(run: str) -> Iterator[tuple[str, bytes, bool]]:
    """(path, body, must be rejected): each field of each valid body replaced by something hostile."""
    for path, valid in json_deliveries(run):
        for field in valid:
            if field == "identifiers":
                for scopes in BAD_SCOPES:
                    yield path, json.dumps({**valid, field: scopes}).encode(), True
            if field in TIME_FIELDS:
                for when in BAD_TIMES:
                    yield path, json.dumps({**valid, field: when}).encode(), True
            for value in ANY_VALUE:
                body = json.dumps({**valid, field: value}).encode(errors="surrogatepass")
                yield path, body, False  # free text may take it; only a 5xx would be wrong
        for broken in (b"", b"{", b"null", b"[]", b"\xff\xfe", b'{"a":' * 3000 + b"1" + b"}" * 3000):
            yield path, broken, True


def hostile_meta(run: str) -> Iterator[bytes]:
    """Signed bodies in Meta's envelope that are not a delivery Meta would send."""
    valid = json.loads(meta_delivery(f"page-{run}", f"psid-{run}", [f"mid-{run}"]))
    message = valid["entry"][0]["messaging"][0]
    broken_entries: list[Any] = ["x", [1], [{"id": None, "messaging": "x"}], [{"messaging": [None]}]]
    for broken in broken_entries:
        yield json.dumps({**valid, "entry": broken}).encode()
    for field in ("sender", "recipient", "timestamp", "message"):
        for value in ANY_VALUE:
            changed = {**message, field: value}
            entry = {**valid["entry"][0], "messaging": [changed]}
            yield json.dumps({**valid, "entry": [entry]}).encode(errors="surrogatepass")
    for timestamp in (-1, 10**20, "soon"):
        entry = {**valid["entry"][0], "messaging": [{**message, "timestamp": timestamp}]}
        yield json.dumps({**valid, "entry": [entry]}).encode()


def hostile_twilio() -> Iterator[list[tuple[str, str]]]:
    """Forms Twilio would never send, signed as if it had."""
    for field in ("From", "Body", "MessageSid", "NumMedia", "To"):
        for value in ("", "'; DROP TABLE sms; --", "\x00", "+" * 400, "9" * 5000):
            yield twilio_form(a_sid(), **{field: value})
    yield [(name, value) for name, value in twilio_form(a_sid()) if name != "From"]
    yield [*twilio_form(a_sid()), ("MediaUrl0", "javascript:alert(1)"), ("NumMedia", "1")]


async def test_every_adapter_answers_hostile_input_without_5xx_and_loses_nothing_valid(
    infra: CommonSettings, ingest_url: str, issuer: LocalIssuer
) -> None:
    run = uuid.uuid4().hex[:8]
    auth = headers(issuer)
    statuses: dict[int, int] = {}
    sent_valid: list[str] = []
    count = 0

    async def valid_one(client: httpx.AsyncClient) -> None:
        marker = f"valid-{run}-{len(sent_valid)}"
        accepted = await client.post("/v1/interactions", json=an_interaction(marker), headers=auth)
        assert accepted.status_code == 202
        sent_valid.append(marker)

    def note(response: httpx.Response, must_reject: bool, what: str) -> None:
        nonlocal count
        count += 1
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500, (what, response.status_code)
        if must_reject:
            assert 400 <= response.status_code < 500, (what, response.status_code)

    async with httpx.AsyncClient(base_url=ingest_url, timeout=60) as client:
        for index, (path, body, must_reject) in enumerate(hostile_json(run)):
            response = await client.post(
                path, content=body, headers={**auth, "Content-Type": "application/json"}
            )
            note(response, must_reject, f"{path} #{index}")
            if index % 25 == 0:
                await valid_one(client)
        for index, body in enumerate(hostile_meta(run)):
            response = await client.post(
                META_PATH,
                content=body,
                headers={"Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(body)},
            )
            note(response, False, f"meta #{index}")
        for index, form in enumerate(hostile_twilio()):
            signature = twilio_signature(ingest_url + TWILIO_PATH, form)
            signed = {"X-Twilio-Signature": signature}
            response = await client.post(TWILIO_PATH, data=dict(form), headers=signed)
            note(response, False, f"twilio #{index}")
            unsigned = await client.post(TWILIO_PATH, data=dict(form))
            note(unsigned, True, f"twilio unsigned #{index}")
        await valid_one(client)

    assert count >= 200
    assert statuses.get(422, 0) > 100  # the rules were reached, not only the parsers
    events = await events_on(infra, "interactions.v1", wanted=len(sent_valid))
    landed = {e.data.source_message_id for e in events if isinstance(e.data, InteractionReceived)}
    assert set(sent_valid) <= landed


async def test_an_order_too_large_for_one_kafka_message_is_413_and_publishes_nothing(
    infra: CommonSettings, ingest_url: str, issuer: LocalIssuer
) -> None:
    """Under the body limit as JSON, over the broker's 1 MiB once every control character is escaped."""
    order_id = f"O-huge-{uuid.uuid4().hex[:8]}"
    lines = [
        {"sku": f"S-{n}", "name": "\x01" * 300, "quantity": 1, "unit_price": "1.00"} for n in range(1000)
    ]
    async with httpx.AsyncClient(base_url=ingest_url, timeout=60) as client:
        refused = await client.post(
            "/v1/orders", json=an_order(order_id, amount="1000.00", items=lines), headers=headers(issuer)
        )
        # Nothing was claimed either: the same order with fewer lines is accepted as new.
        accepted = await client.post(
            "/v1/orders", json=an_order(order_id, amount="10.00", items=lines[:10]), headers=headers(issuer)
        )
    assert refused.status_code == 413, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert "1 MiB" in refused.json()["detail"]
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["duplicate"] is False
    events = await events_on(infra, "orders.v1", wanted=1)
    ours = [e for e in events if isinstance(e.data, OrderRecorded) and e.data.order_id == order_id]
    assert [len(e.data.items) for e in ours] == [10]  # type: ignore[attr-defined]
