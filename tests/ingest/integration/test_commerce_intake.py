"""Orders and web activity land on their own topics, once, keyed by customer."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from schemas.commerce import OrderRecorded, WebActivityRecorded
from services.common.http.testing import LocalIssuer
from services.common.settings import CommonSettings
from tests.ingest.integration.test_rest_intake import headers
from tests.support.kafka import events_on

pytestmark = pytest.mark.integration


def an_order(order_id: str, status: str = "placed", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_id": order_id,
        "status": status,
        "identifiers": [
            {"kind": "customer_number", "value": "C-1001"},
            {"kind": "phone", "value": "41 23 45 67"},
        ],
        "amount": "1299.50",
        "currency": "NOK",
        "items": [{"sku": "SOFA-3", "name": "Sofa", "quantity": 1, "unit_price": "1299.50"}],
        "occurred_at": "2026-11-23T10:00:00Z",
    }
    body.update(changes)
    return body


async def test_order_changes_are_published_once_each(
    infra: CommonSettings, ingest_url: str, issuer: LocalIssuer
) -> None:
    order_id = f"O-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=ingest_url) as client:
        placed = await client.post("/v1/orders", json=an_order(order_id), headers=headers(issuer))
        again = await client.post("/v1/orders", json=an_order(order_id), headers=headers(issuer))
        refund_a = await client.post(
            "/v1/orders",
            json=an_order(order_id, "refunded", amount="100", reference="R1"),
            headers=headers(issuer),
        )
        refund_b = await client.post(
            "/v1/orders",
            json=an_order(order_id, "refunded", amount="50", reference="R2"),
            headers=headers(issuer),
        )
    assert [r.status_code for r in (placed, again, refund_a, refund_b)] == [202] * 4
    assert again.json()["duplicate"] is True
    assert refund_b.json()["duplicate"] is False

    events = await events_on(infra, "orders.v1", wanted=3)
    ours = [e for e in events if isinstance(e.data, OrderRecorded) and e.data.order_id == order_id]
    assert [(e.data.status.value, e.data.amount) for e in ours] == [  # type: ignore[attr-defined]
        ("placed", Decimal("1299.50")),
        ("refunded", Decimal("100")),
        ("refunded", Decimal("50")),
    ]
    assert {e.key for e in ours} == {"customer_number:C-1001"}
    assert ours[0].data.identifiers[1].value == "+4741234567"  # type: ignore[attr-defined]


async def test_web_activity_batches_land_on_their_topic(
    infra: CommonSettings, ingest_url: str, issuer: LocalIssuer
) -> None:
    session = uuid.uuid4().hex
    events_in = [
        {
            "kind": kind,
            "identifiers": [{"kind": "cookie", "value": f"ck-{session}"}],
            "session_id": session,
            "url": "https://shop.example.no/sofa",
            "occurred_at": "2026-11-23T10:00:00Z",
            "source_event_id": f"{session}-{n}",
        }
        for n, kind in enumerate(["page_view", "cart_add", "checkout_start"])
    ]
    async with httpx.AsyncClient(base_url=ingest_url) as client:
        response = await client.post(
            "/v1/web-activity:batch", json={"events": events_in}, headers=headers(issuer)
        )
        repeat = await client.post(
            "/v1/web-activity:batch", json={"events": events_in}, headers=headers(issuer)
        )
    assert response.status_code == 202, response.text
    assert [r["duplicate"] for r in repeat.json()["results"]] == [True, True, True]
    events = await events_on(infra, "web-activity.v1", wanted=3)
    ours = [e for e in events if isinstance(e.data, WebActivityRecorded) and e.data.session_id == session]
    assert [e.data.kind.value for e in ours] == ["page_view", "cart_add", "checkout_start"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "changes",
    [
        {"currency": "kroner"},
        {"amount": "-5"},
        {"amount": "NaN"},
        {"status": "lost"},
        {"items": [{"sku": ""}]},
    ],
)
def test_bad_orders_are_422(ingest_url: str, issuer: LocalIssuer, changes: dict[str, Any]) -> None:
    response = httpx.post(
        f"{ingest_url}/v1/orders", json=an_order("O-bad", **changes), headers=headers(issuer)
    )
    assert response.status_code == 422
