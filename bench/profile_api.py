"""Profile's read side, the issue-5 targets. Customers are seeded through a profile worker (its own
process, as under ``make run``, its group starting at the end of the topics), then:

- lookups: ``GET /v1/customers:lookup?identifier=email:…`` over the real HTTP API (its own process, as
  under ``make run``), driven by ``bench/loadgen`` through a list of URLs (a share of them unknown
  identifiers, answered 404), at a fixed arrival rate and closed loop, the worker idle;
- freshness: mixed events published at a steady rate (after a warm-up at that rate), each stamped with
  its scheduled send time; the timeline is polled for the ones not seen yet, so each event's
  publish-to-visible latency is known to within one poll. Bounded: the wait ends a minute after the
  last send, and events not seen by then are counted (and the latencies become lower bounds).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pymongo.asynchronous.collection import AsyncCollection

from bench.cpu import cpu_shares, platform_pids
from bench.ingest import WARM_UP_S, RunningApi, run_loadgen, running_api
from bench.profile import by_topic, event_of, mixed, running_worker
from bench.report import Figure
from schemas.envelope import Event
from schemas.identifiers import CustomerIdentifier, IdentifierKind, identify
from services.common.collector import settle_collector
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document, create_mongo_client, database
from services.common.settings import CommonSettings
from services.profile.core.observe import ProfilePayload
from services.profile.indexes import TIMELINE_COLLECTION

# (email, cookie) of one bench customer.
Person = tuple[CustomerIdentifier, CustomerIdentifier]
_PUBLISH_TICK_S = 0.005
_SEED_CHUNK = 1_000
_SEED_WITHIN_S = 900
# Event ids per timeline lookup of the freshness watcher.
_PROBE_IDS = 64
# After the last event was sent; the rest count as not visible.
_VISIBLE_WITHIN_S = 60


@dataclass(frozen=True)
class ReadSideSizes:
    customers: int = 20_000
    lookup_rate: int = 2_000
    lookup_seconds: int = 10
    lookup_misses: float = 0.1
    closed_loop_connections: int = 16
    freshness_rate: int = 1_000
    freshness_seconds: int = 15
    freshness_poll_s: float = 0.02


def read_side_figures(settings: CommonSettings, loadgen: Path | None, sizes: ReadSideSizes) -> list[Figure]:
    """Seed; lookups (only with ``loadgen``; the worker idles); freshness at a steady rate last, since
    a worker that falls behind leaves the database busy for a while after it stopped."""
    run = uuid.uuid4().hex[:8]
    people = bench_people(run, sizes.customers)
    figures: list[Figure] = []
    with running_worker(settings, f"bench-profile-read-{run}"):
        asyncio.run(seed(settings, people))
        if loadgen is not None:
            with running_api(settings, "services.profile.main", "customers:read") as api:
                urls = lookup_urls(api.base, people, sizes.lookup_misses, run)
                figures += lookups(loadgen, api, urls, sizes)
        figures += asyncio.run(
            freshness(settings, people, sizes.freshness_rate, sizes.freshness_seconds, sizes.freshness_poll_s)
        )
    return figures


def bench_people(run: str, count: int) -> list[Person]:
    return [
        (
            identify(IdentifierKind.EMAIL, f"bench-{run}-{n}@example.no"),
            identify(IdentifierKind.COOKIE, f"cookie-{run}-{n}"),
        )
        for n in range(count)
    ]


# ---- seeding through a profile worker -------------------------------------------------------------------


async def seed(settings: CommonSettings, people: Sequence[Person]) -> None:
    """One email interaction per customer, through the worker; returns when all are on the timeline."""
    events = [event_of(mixed(email, cookie, 0.7)) for email, cookie in people]
    stamps = _Stamps()
    publisher = AsyncEventPublisher(settings, client_id="bench-profile-seed")
    client = create_mongo_client(settings)
    await publisher.start()
    try:
        for start in range(0, len(events), _SEED_CHUNK):
            chunk = by_topic(events[start : start + _SEED_CHUNK])
            await asyncio.gather(*(publisher.publish_many(topic, batch) for topic, batch in chunk.items()))
            for event in events[start : start + _SEED_CHUNK]:
                stamps.send(event.id, time.monotonic())
        timeline = database(client, settings)[TIMELINE_COLLECTION]
        await asyncio.wait_for(_watch(timeline, stamps, 0.2, len(events)), timeout=_SEED_WITHIN_S)
    finally:
        await publisher.stop()
        await client.close()


# ---- freshness: publish-to-visible latency at a steady rate ---------------------------------------------


@dataclass
class _Stamps:
    """Per event id: when it was due to be sent, and when a poll first found it on the timeline."""

    sent: dict[str, float] = field(default_factory=dict)
    seen: dict[str, float] = field(default_factory=dict)
    pending: dict[str, None] = field(default_factory=dict)  # sent, not seen yet; oldest first

    def send(self, event_id: str, at: float) -> None:
        self.sent[event_id] = at
        self.pending[event_id] = None

    def see(self, event_ids: set[str], at: float) -> None:
        for event_id in event_ids:
            self.seen[event_id] = at
            del self.pending[event_id]

    def oldest_pending(self, count: int) -> list[str]:
        return list(itertools.islice(self.pending, count))

    def after(self, first: int) -> _Stamps:
        """The stamps of the events sent after the first ``first``."""
        sent = dict(itertools.islice(self.sent.items(), first, None))
        return _Stamps(sent, {i: self.seen[i] for i in sent if i in self.seen})

    def latencies_ms(self, until: float) -> list[float]:
        """Every sent event's latency; one not seen counts as seen at ``until`` (a lower bound)."""
        return sorted((self.seen.get(i, until) - at) * 1000 for i, at in self.sent.items())


async def freshness(
    settings: CommonSettings, people: Sequence[Person], rate: int, seconds: int, poll_s: float
) -> list[Figure]:
    # The warm-up runs at the same rate just before, without a pause, as the lookups' does: on a stack
    # that had just started, the first seconds ran up to a second behind.
    warm_up = rate * WARM_UP_S
    events = [
        event_of(mixed(*random.choice(people), random.random())) for _ in range(warm_up + rate * seconds)
    ]
    # This process publishes on schedule and stamps what it sees: a full collection of the events it
    # holds paused it 150-210 ms, a late publish that counted as the worker's latency.
    settle_collector()
    stamps = _Stamps()
    publisher = AsyncEventPublisher(settings, client_id="bench-profile-freshness")
    client = create_mongo_client(settings)
    timeline = database(client, settings)[TIMELINE_COLLECTION]
    await publisher.start()
    watcher = asyncio.create_task(_watch(timeline, stamps, poll_s, len(events)))
    try:
        elapsed = await publish_steadily(publisher, events, rate, stamps)
        await asyncio.wait([watcher], timeout=_VISIBLE_WITHIN_S)
        waited_until = time.monotonic()
    finally:
        watcher.cancel()
        await publisher.stop()
        await client.close()
    label = f"profile freshness (mixed events, publish to timeline, polled every {poll_s * 1000:.0f} ms)"
    return [
        Figure(f"{label}: offered ({seconds} s)", float(rate), "events/s"),
        Figure(f"{label}: achieved publish rate", len(events) / elapsed, "events/s"),
        *_latency_figures(label, stamps.after(warm_up), waited_until),
    ]


async def publish_steadily(
    publisher: AsyncEventPublisher, events: Sequence[Event[ProfilePayload]], rate: int, stamps: _Stamps
) -> float:
    """Hand each event to the producer at its scheduled time (``rate`` per second), stamped with that
    time; returns the seconds until the last one was acknowledged."""
    started = time.monotonic()
    acks: list[asyncio.Task[Any]] = []
    sent = 0
    while sent < len(events):
        due = min(len(events), int((time.monotonic() - started) * rate) + 1)
        for index in range(sent, due):
            stamps.send(events[index].id, started + index / rate)
        acks += [
            asyncio.create_task(publisher.publish_many(topic, batch))
            for topic, batch in by_topic(events[sent:due]).items()
        ]
        sent = due
        await asyncio.sleep(_PUBLISH_TICK_S)
    await asyncio.gather(*acks)
    return time.monotonic() - started


async def _watch(timeline: AsyncCollection[Document], stamps: _Stamps, poll_s: float, count: int) -> None:
    """Until ``count`` events were seen: every ``poll_s``, look up the oldest events not seen yet, and
    while that finds some, the next oldest at once. A found event is stamped with the time the answer
    arrived, so a latency is high by at most one poll interval plus the lookups before it.

    Only the oldest are looked up because an ``$in`` costs mongo-java-server time that grows faster than
    its list (≈ 5 ms for 100 ids, 150-400 ms for 1,000), and asking for every pending event each poll
    would load the database the worker writes to. The worker makes events visible in about the order
    they were sent (partition by partition, a batch at a time), so the oldest pending ones are where
    the next visible ones are; one that never becomes visible (dead-lettered) only takes one place."""
    while len(stamps.seen) < count:
        probe = stamps.oldest_pending(_PROBE_IDS)
        found: set[str] = set()
        if probe:
            cursor = timeline.find({"_id": {"$in": probe}}, {"_id": 1})
            found = {document["_id"] async for document in cursor}
            stamps.see(found, time.monotonic())
        if not found:
            await asyncio.sleep(poll_s)


def quantile(ordered: Sequence[float], q: float) -> float:
    """Nearest rank, as bench/loadgen does."""
    if not ordered:
        return 0.0
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered)) - 1))]


def _latency_figures(label: str, stamps: _Stamps, waited_until: float) -> list[Figure]:
    latencies = stamps.latencies_ms(waited_until)
    unseen = len(stamps.sent) - len(stamps.seen)
    bound = " (at least: some never seen)" if unseen else ""
    return [
        Figure(f"{label}: p50{bound}", quantile(latencies, 0.5), "ms"),
        Figure(f"{label}: p99{bound}", quantile(latencies, 0.99), "ms"),
        Figure(f"{label}: max{bound}", quantile(latencies, 1.0), "ms"),
        Figure(f"{label}: not visible {_VISIBLE_WITHIN_S} s after the last send", float(unseen), "events"),
    ]


# ---- lookups over HTTP -----------------------------------------------------------------------------------


def lookup_urls(base: str, people: Sequence[Person], misses: float, run: str) -> list[str]:
    """One lookup per customer by email, a share ``misses`` of them replaced by unknown emails; shuffled."""
    missing = round(len(people) * misses)
    keys = [f"email:nobody-{run}-{n}@example.no" for n in range(missing)]
    keys += [email.key for email, _ in people[missing:]]
    random.shuffle(keys)
    return [f"{base}/v1/customers:lookup?identifier={quote(key, safe='')}" for key in keys]


def lookups(loadgen: Path, api: RunningApi, urls: Sequence[str], sizes: ReadSideSizes) -> list[Figure]:
    with tempfile.NamedTemporaryFile("w", suffix=".urls") as listing:
        listing.write("\n".join(urls))
        listing.flush()
        common = ["-urls-file", listing.name, "-token", api.token, "-duration", f"{sizes.lookup_seconds}s"]
        # Not counted: a started API first grows its connection pools (see ``single_at_fixed_rate``).
        warm_up = ["-urls-file", listing.name, "-token", api.token, "-duration", f"{WARM_UP_S}s"]
        run_loadgen(loadgen, *warm_up, "-rate", str(sizes.lookup_rate), "-connections", "64")
        fixed = run_loadgen(loadgen, *common, "-rate", str(sizes.lookup_rate), "-connections", "64")
        label = f"profile lookup by email ({sizes.lookup_misses:.0%} unknown)"
        with cpu_shares(f"{label}: closed loop", {"profile API": api.pid, **platform_pids()}) as cpu:
            closed = run_loadgen(
                loadgen, *common, "-rate", "0", "-connections", str(sizes.closed_loop_connections)
            )
    return [
        Figure(f"{label}: offered ({sizes.lookup_seconds} s)", float(sizes.lookup_rate), "req/s"),
        Figure(f"{label}: achieved", fixed["achieved_requests_per_s"], "req/s"),
        Figure(f"{label}: p50", fixed["p50_ms"], "ms"),
        Figure(f"{label}: p99", fixed["p99_ms"], "ms"),
        Figure(f"{label}: not 200/404 or not sent", _failed(fixed), "requests"),
        Figure(
            f"{label}: closed loop ({sizes.closed_loop_connections} connections)",
            closed["achieved_requests_per_s"],
            "req/s",
        ),
        Figure(f"{label}: closed loop p50", closed["p50_ms"], "ms"),
        Figure(f"{label}: closed loop p99", closed["p99_ms"], "ms"),
        Figure(f"{label}: closed loop not 200/404", _failed(closed), "requests"),
        *cpu.figures(),
    ]


def _failed(report: dict[str, Any]) -> float:
    answered = sum(count for status, count in report["statuses"].items() if status in {"200", "404"})
    return float(report["requests"] - answered + report["unsent"])
