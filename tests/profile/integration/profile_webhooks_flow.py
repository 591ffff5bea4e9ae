"""Helpers for the webhook tests: a CRM's receiver (a real HTTP server on 127.0.0.1 that verifies every
signature), the ``webhooks`` role and the API running on a database of the test's own, and events to
publish on profiles.v1 and cases.v1."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from aiohttp import web
from pymongo.asynchronous.database import AsyncDatabase
from standardwebhooks import Webhook, WebhookVerificationError

from schemas.cases import CaseCategory, CaseChange, CaseChanged, CaseStatus
from schemas.catalog import event_type_of
from schemas.customers import CustomerView, LifecycleStage, ProfileChanged, Tier
from schemas.envelope import Event
from schemas.interactions import Channel
from services.common.http import set_token_verifier
from services.common.http.testing import LocalIssuer, serve
from services.common.kafka.groups import start_group_at_the_end
from services.common.mongo import Document
from services.common.settings import CommonSettings
from services.profile.adapters.inbound.webhook_consumer import WEBHOOK_TOPICS
from services.profile.core.webhooks import secret_from
from services.profile.indexes import INDEXES, WEBHOOK_DELIVERIES_COLLECTION, WEBHOOKS_COLLECTION
from services.profile.inject import create_api, create_webhook_deliverer
from services.profile.settings import ProfileSettings
from tests.profile.integration.conftest import api_client
from tests.support.databases import own_database

WEBHOOK_INDEXES = [
    spec for spec in INDEXES if spec.collection in {WEBHOOKS_COLLECTION, WEBHOOK_DELIVERIES_COLLECTION}
]
ALL_EVENTS = [
    "customer.updated",
    "customer.merged",
    "customer.unmerged",
    "customer.erased",
    "case.opened",
    "case.updated",
    "case.closed",
]


@dataclass(frozen=True)
class Received:
    webhook_id: str
    status: int  # what the receiver answered
    payload: dict[str, Any]
    at: float


# webhook-id, parsed CloudEvent → the status to answer
Answer = Callable[[str, dict[str, Any]], int]


@dataclass
class Receiver:
    """A CRM's endpoint: verifies each request with ``standardwebhooks`` (a bad one is answered 401 and
    counted). Other tests publish on the same topics: only the requests about ``customers`` are recorded
    and answered with ``answer``; the others get 200."""

    customers: set[str]
    answer: Answer = lambda webhook_id, payload: 200
    secret: str = field(default_factory=lambda: secret_from(uuid.uuid4().bytes + uuid.uuid4().bytes))
    requests: list[Received] = field(default_factory=list)
    unverified: int = 0
    url: str = ""

    def accepted(self) -> list[Received]:
        return [r for r in self.requests if 200 <= r.status < 300]

    def accepted_ids(self) -> list[str]:
        return [r.webhook_id for r in self.accepted()]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            payload = Webhook(self.secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.unverified += 1
            return web.Response(status=401)
        assert request.headers["content-type"].startswith("application/cloudevents+json")
        webhook_id = request.headers["webhook-id"]
        assert payload["id"] == webhook_id
        if payload["data"]["customer_id"] not in self.customers:
            return web.Response(status=200)
        status = self.answer(webhook_id, payload)
        self.requests.append(Received(webhook_id, status, payload, time.monotonic()))
        return web.Response(status=status)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Receiver]:
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/hooks"
        try:
            yield self
        finally:
            await runner.cleanup()


def webhook_settings(infra: CommonSettings, database: str, **overrides: Any) -> ProfileSettings:
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": infra.kafka_bootstrap_servers,
        "mongodb_uri": infra.mongodb_uri,
        "mongodb_database": database,
        "webhook_group_id": f"test-webhooks-{uuid.uuid4().hex[:8]}",
        "webhook_allow_insecure_urls": True,
        "webhook_poll_seconds": 0.05,
        "webhook_send_attempts": 1,
        "webhook_timeout_seconds": 5.0,
        "webhook_retry_initial_seconds": 0.2,
        "webhook_retry_max_seconds": 0.4,
        **overrides,
    }
    return ProfileSettings(**values)


@dataclass
class WebhookStack:
    settings: ProfileSettings
    db: AsyncDatabase[Document]
    api: httpx.AsyncClient

    async def subscribe(self, receiver: Receiver, events: list[str] | None = None) -> str:
        response = await self.api.post(
            "/v1/webhooks",
            json={"url": receiver.url, "events": events or ALL_EVENTS, "secret": receiver.secret},
        )
        assert response.status_code == 201, response.text
        subscription_id: str = response.json()["id"]
        return subscription_id

    async def deliveries(
        self, subscription_id: str, customers: set[str], status: str | None = None
    ) -> list[dict[str, Any]]:
        """The delivery log about these customers, oldest first."""
        params: dict[str, Any] = {"limit": 200} | ({"status": status} if status else {})
        response = await self.api.get(f"/v1/webhooks/{subscription_id}/deliveries", params=params)
        assert response.status_code == 200, response.text
        deliveries: list[dict[str, Any]] = response.json()["deliveries"]
        return [d for d in reversed(deliveries) if d["customer_id"] in customers]


@asynccontextmanager
async def webhook_stack(
    infra: CommonSettings, issuer: LocalIssuer, **overrides: Any
) -> AsyncIterator[WebhookStack]:
    """The API and the ``webhooks`` role on a database of their own, the role's consumer group starting at
    the end of profiles.v1 and cases.v1 (other tests' messages before it are not its business)."""
    async with own_database(infra, "webhooks", WEBHOOK_INDEXES) as db:
        settings = webhook_settings(infra, db.name, **overrides)
        await asyncio.to_thread(start_group_at_the_end, settings, settings.webhook_group_id, WEBHOOK_TOPICS)
        app = create_api(settings)
        set_token_verifier(app, issuer.verifier())
        task = asyncio.create_task(create_webhook_deliverer(settings, telemetry=False).run())
        try:
            with serve(app) as url:
                async with api_client(url, issuer, ["admin:read", "admin:write"]) as api:
                    yield WebhookStack(settings, db, api)
        finally:
            if task.done():  # the role stopped by itself: say why
                task.result()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout_s: float = 60.0, what: str = ""
) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or 'the condition'}")
        await asyncio.sleep(0.05)


def fresh_customer() -> str:
    return f"webhook-customer-{uuid.uuid4().hex[:12]}"


def view(customer_id: str, tier: Tier = Tier.STANDARD) -> CustomerView:
    return CustomerView(
        customer_id=customer_id,
        tier=tier,
        historic_value=Decimal("100"),
        predicted_lifetime_value=Decimal("400"),
        lifecycle=LifecycleStage.ACTIVE,
        needs_recovery=False,
        as_of=datetime.now(UTC),
    )


def profile_changed(
    customer_id: str,
    changed: list[str] | None = None,
    *,
    merged_into: str | None = None,
    tier: Tier = Tier.STANDARD,
) -> Event[ProfileChanged]:
    return Event[ProfileChanged](
        source="/tests/webhooks",
        type=event_type_of(ProfileChanged).name,
        time=datetime.now(UTC),
        key=customer_id,
        data=ProfileChanged(
            customer=view(customer_id, tier), merged_into=merged_into, changed=changed or ["tier"]
        ),
    )


def case_changed(customer_id: str, case_id: str, change: CaseChange) -> Event[CaseChanged]:
    now = datetime.now(UTC)
    closed = change is CaseChange.CLOSED
    return Event[CaseChanged](
        source="/tests/webhooks",
        type=event_type_of(CaseChanged).name,
        subject=case_id,
        time=now,
        key=customer_id,
        data=CaseChanged(
            change=change,
            case_id=case_id,
            customer_id=customer_id,
            status=CaseStatus.CLOSED if closed else CaseStatus.OPEN,
            category=CaseCategory.SHIPPING,
            channel=Channel.EMAIL,
            opened_at=now,
            last_activity_at=now,
            closed_at=now if closed else None,
            interactions=1,
            customer=view(customer_id),
        ),
    )


def by_customer(received: list[Received]) -> dict[str, list[str]]:
    """The webhook ids each customer's requests carried, in arrival order."""
    result: dict[str, list[str]] = {}
    for request in received:
        result.setdefault(request.payload["data"]["customer_id"], []).append(request.webhook_id)
    return result
