"""Profile's signed webhooks to CRMs, end to end: a burst of ``CaseChanged`` and ``ProfileChanged`` events
on cases.v1 and profiles.v1 → the ``webhooks`` role (its own process, as under ``make run``, in a
consumer group of its own starting at the end of the topics) → a receiver in this process on 127.0.0.1
that verifies every Standard Webhooks signature.

The subscription (every event type) is made through profile's API (its own process) with an
``admin:write`` token. Both processes use a database of their own, dropped afterwards, so no other
subscription shares the dispatcher. One warm-up event is delivered before the burst, so the figures
leave out the role's start (joining its group, the first connection).

Bounded: the warm-up waits at most ``_READY_WITHIN_S``; after the last publish the wait ends when every
event arrived or ``_DELIVERED_WITHIN_S`` passed, and events not arrived by then are counted as missing
(the latencies then are lower bounds).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from standardwebhooks import Webhook, WebhookVerificationError

from bench.ingest import running_api
from bench.own_profile import environment, own_database, running_role
from bench.profile_api import quantile
from bench.report import Figure
from schemas.cases import CaseCategory, CaseChange, CaseChanged, CaseStatus
from schemas.catalog import event_type_of
from schemas.customers import CustomerView, LifecycleStage, ProfileChanged, Tier
from schemas.envelope import Event
from schemas.interactions import Channel
from services.common.kafka.groups import start_group_at_the_end
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.settings import CommonSettings
from services.profile.adapters.inbound.webhook_consumer import WEBHOOK_TOPICS
from services.profile.core.webhooks import CASES_TOPIC, PROFILES_TOPIC, WebhookEventType, secret_from

_READY_WITHIN_S = 120
_DELIVERED_WITHIN_S = 120
_PUBLISH_CHUNK = 500
_SECRET_BYTES = 32
_CASE_CHANGES = (CaseChange.OPENED, CaseChange.JOINED, CaseChange.CLOSED)

# (topic, event) as published
Published = tuple[str, Event[ProfileChanged] | Event[CaseChanged]]


def webhook_figures(settings: CommonSettings, *, events: int = 5_000, customers: int = 500) -> list[Figure]:
    """Publish ``events`` changes (half case, half profile) over ``customers`` customer keys at once and
    time their delivery to a local receiver."""
    run = uuid.uuid4().hex[:8]
    group = f"bench-webhooks-{run}"
    # The API and the role inherit this process's environment (``service_env``).
    with (
        own_database(settings, f"bench-webhooks-{run}") as own,
        environment(HELHET_WEBHOOK_ALLOW_INSECURE_URLS="true"),
    ):
        start_group_at_the_end(own, group, WEBHOOK_TOPICS)
        with (
            running_api(own, "services.profile.main", "admin:write") as api,
            running_role(own, "webhooks", HELHET_WEBHOOK_GROUP_ID=group) as deliverer,
        ):
            outcome = asyncio.run(
                _measure(own, api.base, api.token, deliverer, _burst(run, events, customers))
            )
    return outcome.figures(f"profile webhooks ({events:,} events over {customers:,} customers, one burst)")


# ---- events --------------------------------------------------------------------------------------------


def _view(customer_id: str, now: datetime) -> CustomerView:
    return CustomerView(
        customer_id=customer_id,
        tier=Tier.STANDARD,
        historic_value=Decimal("100"),
        predicted_lifetime_value=Decimal("400"),
        lifecycle=LifecycleStage.ACTIVE,
        needs_recovery=False,
        as_of=now,
    )


def _profile_changed(customer_id: str) -> Event[ProfileChanged]:
    now = datetime.now(UTC)
    return Event[ProfileChanged](
        source="/bench/webhooks",
        type=event_type_of(ProfileChanged).name,
        time=now,
        key=customer_id,
        data=ProfileChanged(customer=_view(customer_id, now), merged_into=None, changed=["tier"]),
    )


def _case_changed(customer_id: str, case_id: str, change: CaseChange) -> Event[CaseChanged]:
    now = datetime.now(UTC)
    closed = change is CaseChange.CLOSED
    data = CaseChanged(
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
        customer=_view(customer_id, now),
    )
    return Event[CaseChanged](
        source="/bench/webhooks",
        type=event_type_of(CaseChanged).name,
        subject=case_id,
        time=now,
        key=customer_id,
        data=data,
    )


def _burst(run: str, events: int, customers: int) -> list[Published]:
    """Event ``n`` is about customer ``n % customers``; even ones profile changes, odd ones case changes
    (opened, joined, closed in turn), each yielding one webhook."""
    burst: list[Published] = []
    for n in range(events):
        customer = n % customers
        customer_id = f"bench-webhook-{run}-{customer}"
        if n % 2 == 0:
            burst.append((PROFILES_TOPIC, _profile_changed(customer_id)))
        else:
            change = _CASE_CHANGES[(n // 2) % len(_CASE_CHANGES)]
            burst.append((CASES_TOPIC, _case_changed(customer_id, f"bench-case-{run}-{customer}", change)))
    return burst


# ---- the receiver --------------------------------------------------------------------------------------


@dataclass
class _Receiver:
    """A CRM's endpoint: a lean HTTP/1.1 server (keep-alive, ``content-length`` bodies) that verifies
    each request with ``standardwebhooks`` (401 and counted when it fails) and stamps each webhook id's
    first arrival. Ids it was not told to expect (the warm-up's, say) are answered 200 and noted apart."""

    secret: str
    expected: set[str] = field(default_factory=set)
    arrived: dict[str, float] = field(default_factory=dict)
    other: dict[str, float] = field(default_factory=dict)
    duplicates: int = 0
    unverified: int = 0
    everything: asyncio.Event = field(default_factory=asyncio.Event)
    _connections: dict[asyncio.StreamWriter, asyncio.Task[Any]] = field(default_factory=dict)

    def expect(self, webhook_ids: Sequence[str]) -> None:
        self.expected.update(webhook_ids)

    def _receive(self, headers: dict[str, str], body: bytes) -> int:
        at = time.monotonic()
        try:
            Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            self.unverified += 1
            return 401
        webhook_id = headers["webhook-id"]
        if webhook_id not in self.expected:
            self.other.setdefault(webhook_id, at)
            return 200
        if webhook_id in self.arrived:
            self.duplicates += 1
            return 200
        self.arrived[webhook_id] = at
        if self.expected and len(self.arrived) == len(self.expected):
            self.everything.set()
        return 200

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[writer] = task
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                headers: dict[str, str] = {}
                for line in head[1:]:
                    name, colon, value = line.partition(":")
                    if colon:
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status = self._receive(headers, body)
                reason = "OK" if status == 200 else "Unauthorized"
                writer.write(f"HTTP/1.1 {status} {reason}\r\ncontent-length: 0\r\n\r\n".encode())
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass  # the sender closed its connection
        finally:
            del self._connections[writer]
            writer.close()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        """Serve on an ephemeral port of 127.0.0.1; yields the URL to subscribe. On leaving, the sender's
        kept-alive connections are closed and their handlers end (none is left to be cancelled)."""
        server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}/hooks"
        finally:
            server.close()
            handlers = list(self._connections.values())
            for writer in list(self._connections):
                writer.transport.abort()
            if handlers:
                await asyncio.wait(handlers, timeout=5)
            await server.wait_closed()


# ---- the run -------------------------------------------------------------------------------------------


@dataclass
class _Outcome:
    published: int
    sent: dict[str, float]  # event id -> when its chunk was handed to the producer
    receiver: _Receiver
    first_publish: float
    waited_until: float

    def figures(self, label: str) -> list[Figure]:
        arrived = self.receiver.arrived
        missing = self.published - len(arrived)
        last = max(arrived.values(), default=self.first_publish)
        elapsed = last - self.first_publish
        latencies = sorted((arrived.get(i, self.waited_until) - at) * 1000 for i, at in self.sent.items())
        bound = " (at least: some missing)" if missing else ""
        return [
            Figure(
                f"{label}: delivered / first publish to last arrival",
                len(arrived) / elapsed if elapsed > 0 else 0.0,
                "deliveries/s",
            ),
            Figure(f"{label}: publish to delivery p50{bound}", quantile(latencies, 0.5), "ms"),
            Figure(f"{label}: publish to delivery p99{bound}", quantile(latencies, 0.99), "ms"),
            Figure(f"{label}: duplicates received", float(self.receiver.duplicates), "requests"),
            Figure(
                f"{label}: missing {_DELIVERED_WITHIN_S} s after the last publish", float(missing), "events"
            ),
            Figure(f"{label}: signature failures", float(self.receiver.unverified), "requests"),
        ]


async def _measure(
    settings: CommonSettings,
    base: str,
    token: str,
    deliverer: subprocess.Popen[bytes],
    burst: Sequence[Published],
) -> _Outcome:
    receiver = _Receiver(secret_from(secrets.token_bytes(_SECRET_BYTES)))
    publisher = AsyncEventPublisher(settings, client_id="bench-webhooks")
    async with receiver.running() as url:
        await publisher.start()
        try:
            await _subscribe(base, token, url, receiver.secret)
            await _warm_up(publisher, receiver, deliverer)
            return await _publish_and_wait(publisher, receiver, burst)
        finally:
            await publisher.stop()


async def _publish_and_wait(
    publisher: AsyncEventPublisher, receiver: _Receiver, burst: Sequence[Published]
) -> _Outcome:
    """The burst, a chunk at a time (each event stamped when its chunk is handed to the producer), then
    wait until every event arrived or ``_DELIVERED_WITHIN_S`` passed."""
    receiver.expect([event.id for _, event in burst])
    sent: dict[str, float] = {}
    first_publish = time.monotonic()
    for start in range(0, len(burst), _PUBLISH_CHUNK):
        chunk = burst[start : start + _PUBLISH_CHUNK]
        handed = time.monotonic()
        sent.update((event.id, handed) for _, event in chunk)
        await asyncio.gather(
            *(publisher.publish_many(topic, events) for topic, events in _by_topic(chunk).items())
        )
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(receiver.everything.wait(), timeout=_DELIVERED_WITHIN_S)
    return _Outcome(len(burst), sent, receiver, first_publish, waited_until=time.monotonic())


async def _subscribe(base: str, token: str, url: str, secret: str) -> None:
    body = {"url": url, "events": [kind.value for kind in WebhookEventType], "secret": secret}
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        response = await client.post("/v1/webhooks", json=body, headers={"Authorization": f"Bearer {token}"})
    if response.status_code != 201:
        raise RuntimeError(f"POST /v1/webhooks answered {response.status_code}")


async def _warm_up(
    publisher: AsyncEventPublisher, receiver: _Receiver, deliverer: subprocess.Popen[bytes]
) -> None:
    """One event through the role before the burst; raises when it does not arrive in time."""
    event = _profile_changed(f"bench-webhook-warm-up-{uuid.uuid4().hex[:8]}")
    await publisher.publish(PROFILES_TOPIC, event)
    deadline = time.monotonic() + _READY_WITHIN_S
    while event.id not in receiver.other:
        if deliverer.poll() is not None:
            raise RuntimeError(f"the webhooks role exited ({deliverer.returncode})")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the warm-up webhook did not arrive within {_READY_WITHIN_S} s")
        await asyncio.sleep(0.05)


def _by_topic(chunk: Sequence[Published]) -> dict[str, list[Any]]:
    topics: dict[str, list[Any]] = {}
    for topic, event in chunk:
        topics.setdefault(topic, []).append(event)
    return topics
