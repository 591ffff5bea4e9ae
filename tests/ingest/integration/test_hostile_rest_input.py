"""Hostile input across the REST intake: every malformed, oversized or wrongly encoded request gets a
4xx; injection-laden text that is valid JSON in a free-text field is accepted as plain text; nothing
gets a 5xx, and valid requests sent in between all land on Kafka."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from schemas.interactions import InteractionReceived
from services.common.http.testing import LocalIssuer
from services.common.settings import CommonSettings
from tests.ingest.integration.test_commerce_intake import an_order
from tests.ingest.integration.test_rest_intake import an_interaction, headers
from tests.support.kafka import events_on

pytestmark = pytest.mark.integration

INJECTIONS = [
    {"$where": "sleep(1000)"},
    {"$gt": ""},
    "'; DROP TABLE customers; --",
    "<script>alert(1)</script>",
    "{{7*7}}",
    "${jndi:ldap://x/a}",
    "\u0000nul",
    "\ud800",
    "a" * 2_000_000,
    ["nested"] * 10,
    1e308,
    -1,
    True,
    None,
]
FIELDS = [
    "channel",
    "direction",
    "identifiers",
    "text",
    "occurred_at",
    "source_message_id",
    "subject",
    "language_hint",
]


FREE_TEXT = {"text", "subject", "source_message_id"}
OPTIONAL = {*FREE_TEXT, "language_hint"}
WEB_EVENT = {
    "kind": "page_view",
    "identifiers": [{"kind": "cookie", "value": "ck-1"}],
    "session_id": "s-1",
    "url": "https://shop.example.no/",
    "occurred_at": "2026-11-23T10:00:00Z",
}


def hostile_requests() -> Iterator[tuple[str, bytes, str, bool]]:
    """(path, body, content type, must be rejected)."""
    json_type = "application/json"
    for path in ("/v1/interactions", "/v1/interactions:batch", "/v1/orders", "/v1/web-activity:batch"):
        for body in (b"", b"{", b"null", b"[]", b'"just a string"', b"\xff\xfe\x00garbage", b"1e999999"):
            yield path, body, json_type, True
        yield path, '{"text": "bl\u00e5b\u00e6r"}'.encode("latin-1"), json_type, True
        yield path, b"channel=email&text=hi", "application/x-www-form-urlencoded", True
        yield path, b"<xml/>", "application/xml", True
        yield path, b"[" * 5000 + b"]" * 5000, json_type, True
        yield path, b'{"a":' * 3000 + b"1" + b"}" * 3000, json_type, True
        yield path, json.dumps({"x": "y" * (17 * 1024 * 1024)}).encode(), json_type, True
    for field in FIELDS:
        for value in INJECTIONS:
            interaction = an_interaction(f"hostile-{field}-{len(str(value))}", **{field: value})
            fits = len(str(value)) <= 998 or (field == "text" and len(str(value)) <= 100_000)
            harmless_text = (
                field in FREE_TEXT and isinstance(value, str) and "\ud800" not in value and fits
            ) or (value is None and field in OPTIONAL)
            yield (
                "/v1/interactions",
                json.dumps(interaction).encode(errors="surrogatepass"),
                json_type,
                not harmless_text,
            )
    for value in INJECTIONS:
        for field in ("kind", "identifiers", "quantity"):
            activity = {**WEB_EVENT, field: value}
            body = json.dumps({"events": [activity]}).encode(errors="surrogatepass")
            yield "/v1/web-activity:batch", body, json_type, not (field == "quantity" and value is None)
        for field in ("amount", "currency", "status", "identifiers", "items"):
            body = json.dumps(an_order("O-h") | {field: value}).encode(errors="surrogatepass")
            yield "/v1/orders", body, json_type, True
        body = json.dumps({"interactions": value}).encode(errors="surrogatepass")
        yield "/v1/interactions:batch", body, json_type, True


HOSTILE = list(hostile_requests())


def test_there_are_at_least_200_hostile_requests() -> None:
    assert len(HOSTILE) >= 200


def valid_body(marker: str) -> dict[str, Any]:
    return an_interaction(f"valid-{marker}")


async def test_hostile_requests_get_4xx_and_valid_ones_in_between_all_land(
    infra: CommonSettings, ingest_url: str, issuer: LocalIssuer
) -> None:
    run = uuid.uuid4().hex[:8]
    auth = headers(issuer)
    statuses: dict[int, int] = {}
    sent_valid: list[str] = []
    async with httpx.AsyncClient(base_url=ingest_url, timeout=60) as client:
        for index, (path, body, content_type, must_reject) in enumerate(HOSTILE):
            response = await client.post(path, content=body, headers={**auth, "Content-Type": content_type})
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if must_reject:
                assert 400 <= response.status_code < 500, (index, path, response.status_code)
            else:
                assert response.status_code == 202, (index, path, response.status_code)
            if index % 10 == 0:
                marker = f"{run}-{index}"
                accepted = await client.post("/v1/interactions", json=valid_body(marker), headers=auth)
                assert accepted.status_code == 202
                sent_valid.append(f"valid-{marker}")
    events = await events_on(infra, "interactions.v1", wanted=len(sent_valid))
    landed = {e.data.source_message_id for e in events if isinstance(e.data, InteractionReceived)}
    assert set(sent_valid) <= landed
    assert set(statuses) <= {202, 400, 413, 415, 422}
