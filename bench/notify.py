"""Notify end to end: inbound emails published on ``interactions.v1`` (what ingest does after its 202) at
a fixed rate, through the profile worker (a case opens, ``cases.v1``) and the notify worker (estimate,
words, claim, send) to a real SMTP server in this process; the latency of each is from its scheduled
publish to the moment the SMTP server accepted its acknowledgement (DATA answered 250). Both workers
run in processes of their own, as in production."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from bench.profile_api import quantile
from bench.report import Figure
from schemas.catalog import event_type_of
from schemas.envelope import Event
from schemas.identifiers import IdentifierKind, identify
from schemas.interactions import Channel, Direction, InteractionReceived
from services.common.kafka.groups import start_group_at_the_end
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import create_mongo_client, ensure_indexes
from services.common.settings import CommonSettings
from services.notify.adapters.inbound.worker import NOTIFY_TOPICS
from services.notify.indexes import INDEXES as NOTIFY_INDEXES
from services.profile.adapters.inbound.worker import PROFILE_TOPICS
from services.profile.indexes import INDEXES as PROFILE_INDEXES

_PUBLISH_TICK_S = 0.005
_WARM_UP_WITHIN_S = 120.0
_ACKNOWLEDGED_WITHIN_S = 60.0


@dataclass
class _Inbox:
    """The SMTP server's side: when each recipient's mail was accepted."""

    accepted: dict[str, float] = field(default_factory=dict)
    expected: set[str] = field(default_factory=set)
    all_in: asyncio.Event = field(default_factory=asyncio.Event)
    loop: asyncio.AbstractEventLoop | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        arrived = time.monotonic()
        for recipient in envelope.rcpt_tos:
            self.accepted.setdefault(recipient, arrived)
        if self.expected and self.expected <= self.accepted.keys() and self.loop is not None:
            self.loop.call_soon_threadsafe(self.all_in.set)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def inbound_email(run: str, index: int) -> Event[InteractionReceived]:
    address = f"bench-{run}-{index}@example.no"
    now = datetime.now(UTC)
    payload = InteractionReceived(
        channel=Channel.EMAIL,
        direction=Direction.INBOUND,
        identifiers=[identify(IdentifierKind.EMAIL, address)],
        subject="Hvor er pakken min?",
        text="Hei, pakken min har ikke kommet.",
        source_message_id=f"<bench-{run}-{index}@example.no>",
        occurred_at=now,
    )
    return Event[InteractionReceived](
        id=str(uuid.uuid4()),
        source="/bench/notify",
        type=event_type_of(InteractionReceived).name,
        time=now,
        key=payload.identifiers[0].key,
        data=payload,
    )


def _start(service: str, overrides: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", f"services.{service}.main", "worker"],
        env={**os.environ, **overrides},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()


async def _publish_at_rate(
    publisher: AsyncEventPublisher, run: str, count: int, rate: int, inbox: _Inbox
) -> tuple[dict[str, float], float, int]:
    """Each email published at its scheduled time; the schedule per address, the seconds it took and the
    batches the broker did not acknowledge."""
    scheduled: dict[str, float] = {}
    inbox.expected = {f"bench-{run}-{index}@example.no" for index in range(count)}
    started = time.monotonic()
    acks: list[asyncio.Task[object]] = []
    sent = 0
    while sent < count:
        due = min(count, int((time.monotonic() - started) * rate) + 1)
        batch = []
        for index in range(sent, due):
            batch.append(inbound_email(run, index))
            scheduled[f"bench-{run}-{index}@example.no"] = started + index / rate
        if batch:
            acks.append(asyncio.create_task(publisher.publish_many("interactions.v1", batch)))
        sent = due
        await asyncio.sleep(_PUBLISH_TICK_S)
    results = await asyncio.gather(*acks, return_exceptions=True)
    return scheduled, time.monotonic() - started, sum(isinstance(r, BaseException) for r in results)


async def _wait(inbox: _Inbox, within_s: float) -> None:
    try:
        await asyncio.wait_for(inbox.all_in.wait(), within_s)
    except TimeoutError:
        return


async def acknowledgement_latency(settings: CommonSettings, rate: int, seconds: int) -> list[Figure]:
    run = uuid.uuid4().hex[:8]
    db_name = f"bench-notify-{run}"
    inbox = _Inbox(loop=asyncio.get_running_loop())
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    client = create_mongo_client(settings)
    await ensure_indexes(client[db_name], (*PROFILE_INDEXES, *NOTIFY_INDEXES))
    common = {
        "HELHET_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "HELHET_MONGODB_URI": settings.mongodb_uri.get_secret_value(),
        "HELHET_MONGODB_DATABASE": db_name,
        "HELHET_LOG_LEVEL": "WARNING",
    }
    groups: dict[str, tuple[str, tuple[str, ...]]] = {
        "profile": (f"bench-notify-profile-{run}", PROFILE_TOPICS),
        "notify": (f"bench-notify-notify-{run}", NOTIFY_TOPICS),
    }
    for group, topics in groups.values():
        start_group_at_the_end(settings, group, topics)
    workers = [
        _start(service, {**common, "HELHET_WORKER_APP_ID": group, "HELHET_SMTP_PORT": str(port)})
        for service, (group, _) in groups.items()
    ]
    publisher = AsyncEventPublisher(settings, client_id="bench-notify")
    await publisher.start()
    try:
        # Warm-up: both workers have their partitions and one mail went all the way.
        await _publish_at_rate(publisher, f"{run}-warm", 1, 1, inbox)
        await _wait(inbox, _WARM_UP_WITHIN_S)
        if not inbox.all_in.is_set():
            raise RuntimeError("the warm-up acknowledgement did not arrive in time")
        inbox.all_in.clear()
        scheduled, elapsed, failed = await _publish_at_rate(publisher, run, rate * seconds, rate, inbox)
        await _wait(inbox, _ACKNOWLEDGED_WITHIN_S)
    finally:
        for worker in workers:
            _stop(worker)
        await publisher.stop()
        controller.stop()
        await client.drop_database(db_name)
        await client.close()
    latencies = sorted(
        (inbox.accepted[address] - at) * 1000
        for address, at in scheduled.items()
        if address in inbox.accepted
    )
    label = "notify interaction → acknowledgement (interactions.v1 published to SMTP 250, via profile)"
    return [
        Figure(f"{label}: offered ({seconds} s)", float(rate), "emails/s"),
        Figure(f"{label}: achieved publish rate", len(scheduled) / elapsed, "emails/s"),
        Figure(f"{label}: p50", quantile(latencies, 0.5), "ms"),
        Figure(f"{label}: p95", quantile(latencies, 0.95), "ms"),
        Figure(f"{label}: p99", quantile(latencies, 0.99), "ms"),
        Figure(f"{label}: max", quantile(latencies, 1.0), "ms"),
        Figure(f"{label}: acknowledged", float(len(latencies)), "emails"),
        Figure(
            f"{label}: not acknowledged {_ACKNOWLEDGED_WITHIN_S:.0f} s after the last send",
            float(len(scheduled) - len(latencies)),
            "emails",
        ),
        Figure(f"{label}: publish errors", float(failed), "batches"),
    ]


def notify_figures(settings: CommonSettings, rate: int, seconds: int) -> list[Figure]:
    if rate <= 0:
        return []
    return asyncio.run(acknowledgement_latency(settings, rate, seconds))
