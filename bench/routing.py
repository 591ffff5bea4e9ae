"""Routing's targets: a pick within 1 ms with 1,000 agents and 10,000 waiting cases, and a new case offered
to an agent within 50 ms (p99) at a fixed arrival rate.

- Pick latency is the pure core, no I/O: a roster of agents (queues, skills, languages, capacity, work
  held, presence all varied; most are there, some are not) and a backlog of waiting cases (tiers, channels,
  values, ages, categories, languages varied), each built once and timed apart. Then, pick by pick: the
  best agent for a new case (``choose_agent``) and the best waiting case for an agent with room
  (``choose_case``), beside the same search done by ranking every waiting case the agent could take, so
  the threshold search's gain shows (and its answer is checked against the brute force's); last, one whole
  matching round (``plan_round``) over that backlog, what the service runs after every batch.
- Assignment latency is end to end on the real broker and database: a routing worker in this process
  (its own database and consumer group), present agents with room to spare (written to routing's store,
  the last few through the service as agents coming online, each timed), then ``opened`` cases
  published on ``cases.v1`` at a fixed rate (open loop: each stamped with its scheduled send time, nobody
  waits for replies) while ``assignments.v1`` is read from its end; a case's latency runs from that stamp
  to the moment its ``offered`` event arrived here. The worker, the publisher and the reader share one
  event loop (and two cores with the broker and the database), so the figure includes their contention.
  Offers are never answered: runs longer than the shortest offer timeout (chat, 30 s) see offers expire
  and agents marked not responding.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from typing import TypeVar

from aiokafka import AIOKafkaConsumer

from bench.profile_api import quantile
from bench.report import Figure
from schemas.cases import CaseCategory, CaseChange, CaseChanged, CaseStatus
from schemas.catalog import event_type_of
from schemas.customers import CustomerView, LifecycleStage, Tier
from schemas.envelope import Event
from schemas.interactions import Channel
from schemas.routing import AgentStatus, AssignmentChange, AssignmentChanged
from services.common.codec import InvalidEventError, decode
from services.common.kafka.connection import aiokafka_options
from services.common.kafka.groups import start_group_at_the_end
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import create_mongo_client, database, ensure_indexes
from services.common.settings import CommonSettings
from services.routing.adapters.inbound.worker import ROUTING_TOPICS
from services.routing.adapters.outbound.mongo_store import MongoRoutingStore
from services.routing.core.agents import Agent, Capacity, ChannelLimit, WorkItem, WorkState
from services.routing.core.backlog import Backlog, Rank
from services.routing.core.cases import QueuedCase
from services.routing.core.eligibility import misfit
from services.routing.core.pick import Roster, choose_agent, choose_case, held_for_previous, plan_round
from services.routing.core.presence import with_heartbeat, with_schedule, with_status
from services.routing.core.rules import RoutingRules
from services.routing.core.schedule import Leave, Schedule, Shift
from services.routing.indexes import INDEXES
from services.routing.inject import build_service
from services.routing.service import RoutingService
from services.routing.settings import RoutingSettings

# A Friday, 13:00 in Oslo: day shifts are on.
_AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
_ASSIGNMENTS = "assignments.v1"
_PUBLISH_TICK_S = 0.005
# After the last case was sent; cases without an offer by then count as missing.
_OFFERED_WITHIN_S = 30
_WARM_UP_WITHIN_S = 120
# Brute-force picks: each ranks thousands of cases (tens of ms), so a sample does.
_BASELINE_PICKS = 200
# Agents that come online through the service last, each timed (the rest are written straight to the store:
# through the service, each would also be a matching round over every agent so far, minutes for 1,000).
_TIMED_ONLINE = 20

T = TypeVar("T")
U = TypeVar("U")


def _weighted(choices: Sequence[tuple[T, float]], draw: random.Random) -> T:
    return draw.choices([value for value, _ in choices], [weight for _, weight in choices])[0]


def _shift(start: int, end: int, days: range = range(7)) -> Schedule:
    """Local hours ``start``..``end`` (``end`` 0: midnight) on ``days``."""
    return Schedule("Europe/Oslo", tuple(Shift(day, clock_time(start), clock_time(end)) for day in days))


# Every day, all day (joined into one stretch: no wind-down).
_ALWAYS = _shift(0, 0)
_SCHEDULES: tuple[tuple[Schedule, float], ...] = (
    (_ALWAYS, 0.55),
    (_shift(8, 16, range(5)), 0.30),
    (_shift(7, 13), 0.05),  # ends at 13:00: off shift now
    (_shift(16, 23), 0.05),  # not started
    (_shift(9, 13), 0.05),  # ends at 13:00 too
)

# Queue sets agents serve, and how common each desk is.
_DESKS: tuple[tuple[frozenset[str], float], ...] = (
    (frozenset({"chat", "phone", "callback"}), 0.35),
    (frozenset({"chat"}), 0.15),
    (frozenset({"chat", "messaging"}), 0.15),
    (frozenset({"email", "messaging"}), 0.25),
    (frozenset({"chat", "phone", "callback", "messaging", "email"}), 0.10),
)
_LIMITS: dict[Channel, tuple[ChannelLimit, ...]] = {
    Channel.CHAT: (ChannelLimit(25, 4), ChannelLimit(33, 3)),
    Channel.PHONE: (ChannelLimit(100, 1),),
    Channel.SMS: (ChannelLimit(20, 5), ChannelLimit(10, 8)),
    Channel.MESSENGER: (ChannelLimit(20, 5), ChannelLimit(10, 8)),
    Channel.INSTAGRAM: (ChannelLimit(20, 5),),
    Channel.EMAIL: (ChannelLimit(10, 10), ChannelLimit(5, 20)),
    Channel.WEB_FORM: (ChannelLimit(10, 10),),
    Channel.PORTAL: (ChannelLimit(10, 10),),
    Channel.STORE: (ChannelLimit(20, 5),),
}
_AGENT_LANGUAGES: tuple[tuple[frozenset[str], float], ...] = (
    (frozenset({"nb"}), 0.50),
    (frozenset({"nb", "en"}), 0.20),
    (frozenset(), 0.15),
    (frozenset({"nb", "sv", "da"}), 0.10),
    (frozenset({"en"}), 0.05),
)
_CASE_CHANNELS: tuple[tuple[Channel, float], ...] = (
    (Channel.EMAIL, 0.30),
    (Channel.CHAT, 0.22),
    (Channel.PHONE, 0.08),
    (Channel.SMS, 0.08),
    (Channel.MESSENGER, 0.06),
    (Channel.INSTAGRAM, 0.04),
    (Channel.WEB_FORM, 0.10),
    (Channel.PORTAL, 0.07),
    (Channel.STORE, 0.05),
)
_TIERS: tuple[tuple[Tier, float], ...] = (
    (Tier.STANDARD, 0.60),
    (Tier.SILVER, 0.25),
    (Tier.GOLD, 0.10),
    (Tier.PLATINUM, 0.05),
)
_CASE_LANGUAGES: tuple[tuple[str | None, float], ...] = (
    ("nb", 0.75),
    ("en", 0.10),
    ("sv", 0.05),
    (None, 0.10),
)
# Mean wait per queue: a few cases in each are past their queue's starvation cap, as in a busy hour.
_MEAN_WAIT = {
    "chat": timedelta(minutes=3),
    "phone": timedelta(minutes=2),
    "callback": timedelta(minutes=20),
    "messaging": timedelta(minutes=30),
    "email": timedelta(hours=3),
}


@dataclass(frozen=True)
class RoutingSizes:
    agents: int = 1_000
    cases: int = 10_000
    picks: int = 2_000
    rate: int = 50  # cases/s opened end to end; 0 skips that run
    seconds: int = 10


def routing_figures(settings: CommonSettings, sizes: RoutingSizes) -> list[Figure]:
    """The core's pick latency first (no I/O), then the end-to-end run."""
    figures = pick_latency(sizes.agents, sizes.cases, sizes.picks)
    if sizes.rate > 0:
        figures += asyncio.run(assignment_latency(settings, sizes.rate, sizes.seconds, sizes.agents))
    return figures


# ---- pick latency: the core alone -----------------------------------------------------------------------


@dataclass
class _World:
    rules: RoutingRules
    now: datetime
    agents: list[Agent]
    cases: list[QueuedCase]
    draw: random.Random = field(default_factory=random.Random)


def bench_agent(index: int, now: datetime, rules: RoutingRules, draw: random.Random) -> Agent:
    queues = _weighted(_DESKS, draw)
    channels = {channel for queue in queues for channel in rules.queue(queue).channels}
    limits = {channel: draw.choice(_LIMITS[channel]) for channel in sorted(channels)}
    categories = [category.value for category in CaseCategory]
    skills = frozenset() if draw.random() < 0.4 else frozenset(draw.sample(categories, draw.randint(2, 5)))
    agent = Agent(
        f"agent-{index:05d}",
        queues=queues,
        capacity=Capacity(100, limits),
        skills=skills,
        languages=_weighted(_AGENT_LANGUAGES, draw),
        schedule=_weighted(_SCHEDULES, draw),
    )
    presence = draw.random()
    if presence < 0.88:
        agent = with_heartbeat(with_status(agent, AgentStatus.AVAILABLE, now), now - timedelta(seconds=30))
    elif presence < 0.92:
        agent = with_status(agent, AgentStatus.AWAY, now - timedelta(minutes=5))
    elif presence < 0.95:
        agent = with_status(agent, AgentStatus.OFFLINE, now - timedelta(hours=10))
    elif presence < 0.97:  # the browser tab died
        agent = with_heartbeat(with_status(agent, AgentStatus.AVAILABLE, now), now - timedelta(minutes=5))
    elif presence < 0.99:  # on leave, though the client says available
        agent = with_heartbeat(with_status(agent, AgentStatus.AVAILABLE, now), now)
        agent = replace(agent, leaves=(Leave(now - timedelta(hours=4), now + timedelta(hours=4)),))
    else:  # let an offer expire
        agent = replace(
            with_heartbeat(with_status(agent, AgentStatus.AVAILABLE, now), now), not_responding=True
        )
    return _with_work(agent, now, draw)


def _with_work(agent: Agent, now: datetime, draw: random.Random) -> Agent:
    """Up to four attempts at taking work of the agent's channels, each kept when there is room."""
    work: list[WorkItem] = []
    held = agent
    for attempt in range(draw.choice((0, 0, 1, 2, 3, 4))):
        channel = draw.choice(sorted(agent.capacity.limits))
        if not held.room_for(channel):
            continue
        item = WorkItem(
            f"held-{agent.agent_id}-{attempt}.1",
            f"held-{agent.agent_id}-{attempt}",
            channel,
            agent.capacity.limits[channel].cost,
            WorkState.ACCEPTED,
            now - timedelta(minutes=draw.randint(1, 40)),
        )
        work.append(item)
        held = replace(held, work=tuple(work))
    idle_since = None if work else now - timedelta(seconds=draw.randint(5, 3_600))
    return replace(held, idle_since=idle_since)


def bench_case(
    index: int,
    now: datetime,
    rules: RoutingRules,
    agent_ids: Sequence[str],
    draw: random.Random,
    *,
    new: bool,
) -> QueuedCase:
    channel = _weighted(_CASE_CHANNELS, draw)
    callback = channel is Channel.PHONE and draw.random() < 0.3
    queue = rules.queue_for(channel, callback=callback).name
    waited = timedelta(0) if new else _MEAN_WAIT[queue] * draw.expovariate(1.0)
    passed_over = (
        frozenset(draw.sample(agent_ids, draw.randint(1, 2))) if draw.random() < 0.03 else frozenset()
    )
    return QueuedCase(
        case_id=f"case-{'new' if new else 'waiting'}-{index:06d}",
        customer_id=f"customer-{draw.randrange(10**9):09d}",
        queue=queue,
        channel=channel,
        category=draw.choice(list(CaseCategory)),
        language=_weighted(_CASE_LANGUAGES, draw),
        tier=_weighted(_TIERS, draw),
        predicted_value=Decimal(round(draw.lognormvariate(8.0, 1.2))),
        needs_recovery=draw.random() < 0.05,
        last_agent=draw.choice(agent_ids) if draw.random() < 0.08 else None,
        waiting_since=now - waited,
        passed_over=passed_over,
    )


def bench_world(agents: int, cases: int, seed: int = 2026) -> _World:
    draw = random.Random(seed)
    rules = RoutingRules()
    roster = [bench_agent(n, _AT, rules, draw) for n in range(agents)]
    ids = [agent.agent_id for agent in roster]
    waiting = [bench_case(n, _AT, rules, ids, draw, new=False) for n in range(cases)]
    return _World(rules, _AT, roster, waiting, draw)


def _timed_ns(action: Callable[[], T]) -> tuple[int, T]:
    started = time.perf_counter_ns()
    result = action()
    return time.perf_counter_ns() - started, result


def _each(items: Sequence[U], action: Callable[[U], T]) -> list[tuple[int, T]]:
    """``action`` on every item, each timed on its own (after a collection, so earlier garbage is not
    charged to this series)."""
    gc.collect()
    timed: list[tuple[int, T]] = []
    for item in items:
        started = time.perf_counter_ns()
        result = action(item)
        timed.append((time.perf_counter_ns() - started, result))
    return timed


def _micros(label: str, nanos: list[int]) -> list[Figure]:
    ordered = sorted(value / 1000 for value in nanos)
    return [
        Figure(f"{label}: p50", quantile(ordered, 0.5), "µs"),
        Figure(f"{label}: p99", quantile(ordered, 0.99), "µs"),
        Figure(f"{label}: max", quantile(ordered, 1.0), "µs"),
    ]


def brute_force_best(agent: Agent, backlog: Backlog, roster: Roster) -> QueuedCase | None:
    """What ``Backlog.best`` answers in ``choose_case``, ranking every waiting case the agent could take."""
    best: tuple[Rank, QueuedCase] | None = None
    for case in backlog:
        if case.queue not in agent.queues or misfit(agent, case) is not None:
            continue
        held = held_for_previous(case, roster)
        if held is not None and held != agent.agent_id:
            continue
        rank = backlog.rank(case, roster.now)
        if best is None or rank < best[0]:
            best = (rank, case)
    return None if best is None else best[1]


def pick_latency(agents: int = 1_000, cases: int = 10_000, picks: int = 2_000) -> list[Figure]:
    world = bench_world(agents, cases)
    draw = world.draw
    ids = [agent.agent_id for agent in world.agents]
    built_roster, roster = _timed_ns(lambda: Roster(world.agents, world.now, world.rules))
    built_backlog, backlog = _timed_ns(lambda: Backlog(world.cases, world.rules))
    new_cases = [bench_case(n, world.now, world.rules, ids, draw, new=True) for n in range(picks)]
    open_with_room = [
        agent
        for agent in world.agents
        if roster.closed_because(agent.agent_id) is None
        and any(agent.room_for(channel) for channel in agent.capacity.limits)
    ]
    takers = [draw.choice(open_with_room) for _ in range(picks)]
    present = sum(1 for agent in world.agents if roster.closed_because(agent.agent_id) is None)
    starving = sum(1 for case in world.cases if not backlog.rank(case, world.now)[0])

    case_side = _each(new_cases, lambda case: choose_agent(case, roster))
    agent_side = _each(takers, lambda agent: choose_case(agent, backlog, roster))

    def threshold(agent: Agent) -> QueuedCase | None:
        def takes(case: QueuedCase) -> bool:
            if misfit(agent, case) is not None:
                return False
            held = held_for_previous(case, roster)
            return held is None or held == agent.agent_id

        return backlog.best(takes, roster.now, agent.queues)

    searched = _each(takers, threshold)
    brute = _each(takers[:_BASELINE_PICKS], lambda agent: brute_force_best(agent, backlog, roster))
    disagreements = sum(
        1
        for (_, fast), (_, slow) in zip(searched[: len(brute)], brute, strict=True)
        if (fast and fast.case_id) != (slow and slow.case_id)
    )
    round_ns, offers = _timed_ns(
        lambda: plan_round(Roster(world.agents, world.now, world.rules), Backlog(world.cases, world.rules))
    )

    scene = f"{agents:,} agents ({present:,} open), {cases:,} waiting cases ({starving:,} starving)"
    return [
        Figure(f"routing core ({scene}): build the roster", built_roster / 1e6, "ms"),
        Figure(f"routing core ({scene}): build the backlog", built_backlog / 1e6, "ms"),
        *_micros(
            f"routing pick, case side (choose_agent for a new case, {picks:,} picks)",
            [ns for ns, _ in case_side],
        ),
        *_micros(
            f"routing pick, agent side (choose_case for an agent with room, {picks:,} picks)",
            [ns for ns, _ in agent_side],
        ),
        *_micros(
            "routing agent side, the search alone (Backlog.best, threshold)", [ns for ns, _ in searched]
        ),
        *_micros(
            f"routing agent side, the search by brute force (rank every case, {len(brute)} picks)",
            [ns for ns, _ in brute],
        ),
        Figure(
            f"routing threshold search vs brute force: different answers (of {len(brute)})",
            float(disagreements),
            "picks",
        ),
        Figure(
            f"routing core: one whole round (plan_round, build included, {len(offers):,} offers)",
            round_ns / 1e6,
            "ms",
        ),
    ]


# ---- assignment latency: end to end ---------------------------------------------------------------------

_E2E_CHANNELS: tuple[tuple[Channel, float], ...] = (
    (Channel.CHAT, 0.6),
    (Channel.SMS, 0.1),
    (Channel.MESSENGER, 0.1),
    (Channel.EMAIL, 0.2),
)
# Room for far more than a run offers: nobody's queue fills, so every case is offered at once.
_ROOMY = Capacity(
    100,
    {
        Channel.CHAT: ChannelLimit(10, 10),
        Channel.SMS: ChannelLimit(5, 20),
        Channel.MESSENGER: ChannelLimit(5, 20),
        Channel.EMAIL: ChannelLimit(2, 50),
    },
)


def opened(run: str, index: int, draw: random.Random) -> Event[CaseChanged]:
    """A case opened now, for a customer of its own."""
    now = datetime.now(UTC)
    customer = f"bench-{run}-{index}"
    payload = CaseChanged(
        change=CaseChange.OPENED,
        case_id=f"case-{run}-{index}",
        customer_id=customer,
        status=CaseStatus.OPEN,
        category=draw.choice(list(CaseCategory)),
        channel=_weighted(_E2E_CHANNELS, draw),
        language="nb",
        opened_at=now,
        last_activity_at=now,
        interactions=1,
        customer=CustomerView(
            customer_id=customer,
            tier=_weighted(_TIERS, draw),
            historic_value=Decimal(0),
            predicted_lifetime_value=Decimal(round(draw.lognormvariate(8.0, 1.2))),
            lifecycle=LifecycleStage.ACTIVE,
            needs_recovery=draw.random() < 0.05,
            as_of=now,
        ),
    )
    return Event[CaseChanged](
        id=str(uuid.uuid4()),
        source="/bench/routing",
        type=event_type_of(CaseChanged).name,
        time=now,
        key=customer,
        data=payload,
    )


def _present(agent_id: str, now: datetime) -> Callable[[Agent | None], Agent]:
    """On shift, available, a fresh heartbeat and room to spare (in every queue the run's cases go to)."""

    def change(current: Agent | None) -> Agent:
        agent = current or Agent(agent_id, queues=frozenset({"chat", "messaging", "email"}), capacity=_ROOMY)
        return with_heartbeat(with_status(with_schedule(agent, _ALWAYS), AgentStatus.AVAILABLE, now), now)

    return change


async def set_up_agents(store: MongoRoutingStore, service: RoutingService, count: int) -> list[int]:
    """``count`` present agents: all but the last few written straight to routing's store, the last ones
    through the service, as an agent coming online (each followed by a matching round over every agent);
    returns the nanoseconds each of those took."""
    now = datetime.now(UTC)
    ids = [f"bench-agent-{index:05d}" for index in range(count)]
    direct = max(0, count - _TIMED_ONLINE)
    for agent_id in ids[:direct]:
        await store.save_agent(_present(agent_id, now)(None))
    took: list[int] = []
    for agent_id in ids[direct:]:
        started = time.perf_counter_ns()
        await service.change_agent(agent_id, _present(agent_id, now))
        took.append(time.perf_counter_ns() - started)
    return took


@dataclass
class _Offers:
    """Per case: when it was due to be sent, and when its offer arrived here."""

    sent: dict[str, float] = field(default_factory=dict)
    offered: dict[str, float] = field(default_factory=dict)
    other: Counter[str] = field(default_factory=Counter)
    undecodable: int = 0
    expected: int = 0  # cases to be sent
    started: float = 0.0  # the first one's scheduled send
    all_offered: asyncio.Event = field(default_factory=asyncio.Event)


async def _watch(consumer: AIOKafkaConsumer, offers: _Offers) -> None:
    while True:
        batches = await consumer.getmany(timeout_ms=50)
        arrived = time.monotonic()
        for records in batches.values():
            for record in records:
                try:
                    event = decode(record.key, record.value, record.headers)
                except InvalidEventError:
                    offers.undecodable += 1
                    continue
                change = event.data
                if not isinstance(change, AssignmentChanged) or change.case_id not in offers.sent:
                    continue
                if change.change is AssignmentChange.OFFERED:
                    offers.offered.setdefault(change.case_id, arrived)
                else:
                    offers.other[change.change.value] += 1
        if offers.expected and len(offers.offered) >= offers.expected:
            offers.all_offered.set()


async def _until(offers: _Offers, timeout_s: float) -> bool:
    """Whether every case sent was offered within ``timeout_s``."""
    try:
        await asyncio.wait_for(offers.all_offered.wait(), timeout_s)
    except TimeoutError:
        return False
    return True


async def _at_the_end(consumer: AIOKafkaConsumer, timeout_s: float = 60) -> None:
    """Until the group gave this consumer its partitions (its offsets were committed at the end)."""
    deadline = time.monotonic() + timeout_s
    while not consumer.assignment():
        if time.monotonic() > deadline:
            raise RuntimeError(f"no partitions of {_ASSIGNMENTS} assigned in time")
        await consumer.getmany(timeout_ms=100)


async def publish_at_rate(
    publisher: AsyncEventPublisher, run: str, count: int, rate: int, offers: _Offers
) -> tuple[float, int]:
    """``count`` cases, each handed to the producer at its scheduled time and stamped with it; returns the
    seconds until the last one was acknowledged and how many were not."""
    draw = random.Random(run)
    offers.expected = count
    started = offers.started = time.monotonic()
    acks: list[asyncio.Task[object]] = []
    sent = 0
    while sent < count:
        due = min(count, int((time.monotonic() - started) * rate) + 1)
        batch = []
        for index in range(sent, due):
            event = opened(run, index, draw)
            offers.sent[event.data.case_id] = started + index / rate
            batch.append(event)
        if batch:
            acks.append(asyncio.create_task(publisher.publish_many(ROUTING_TOPICS[0], batch)))
        sent = due
        await asyncio.sleep(_PUBLISH_TICK_S)
    results = await asyncio.gather(*acks, return_exceptions=True)
    failed = sum(1 for result in results if isinstance(result, BaseException))
    return time.monotonic() - started, failed


def _start_worker(settings: RoutingSettings) -> subprocess.Popen[bytes]:
    overrides = {
        "HELHET_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "HELHET_MONGODB_URI": settings.mongodb_uri.get_secret_value(),
        "HELHET_MONGODB_DATABASE": settings.mongodb_database,
        "HELHET_WORKER_APP_ID": settings.worker_app_id,
        "HELHET_HEARTBEAT_TTL_SECONDS": str(settings.heartbeat_ttl_seconds),
        "HELHET_LOG_LEVEL": settings.log_level,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "services.routing.main", "worker"],
        env={**os.environ, **overrides},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop_worker(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()


async def assignment_latency(settings: CommonSettings, rate: int, seconds: int, agents: int) -> list[Figure]:
    run = uuid.uuid4().hex[:8]
    worker_settings = RoutingSettings(
        kafka_bootstrap_servers=settings.kafka_bootstrap_servers,
        mongodb_uri=settings.mongodb_uri,
        mongodb_database=f"bench-routing-{run}",
        worker_app_id=f"bench-routing-{run}",
        # Agents set up at the start stay present for the whole run.
        heartbeat_ttl_seconds=3_600,
        log_level="WARNING",
    )
    watcher = f"bench-routing-watch-{run}"
    start_group_at_the_end(settings, worker_settings.worker_app_id, ROUTING_TOPICS)
    start_group_at_the_end(settings, watcher, (_ASSIGNMENTS,))
    client = create_mongo_client(settings)
    await ensure_indexes(database(client, worker_settings), INDEXES)
    # The worker in a process of its own, as it runs in production: it shares no event loop (and no
    # interpreter lock) with the load generator and the watcher.
    worker = _start_worker(worker_settings)
    publisher = AsyncEventPublisher(settings, client_id="bench-routing")
    consumer = AIOKafkaConsumer(
        _ASSIGNMENTS, group_id=watcher, enable_auto_commit=False, **aiokafka_options(settings)
    )
    offers = _Offers()
    await publisher.start()
    await consumer.start()
    watching: asyncio.Task[None] | None = None
    try:
        store = MongoRoutingStore(database(client, worker_settings))
        online = await set_up_agents(store, build_service(client, publisher, worker_settings), agents)
        await _at_the_end(consumer)
        watching = asyncio.create_task(_watch(consumer, offers))
        # Warm-up: the worker has its partitions and offers a case; its figures are not kept.
        await publish_at_rate(publisher, f"{run}-warm", 1, 1, offers)
        if not await _until(offers, _WARM_UP_WITHIN_S):
            raise RuntimeError("the routing worker did not offer the warm-up case in time")
        offers = _Offers()
        watching.cancel()
        watching = asyncio.create_task(_watch(consumer, offers))
        elapsed, failed = await publish_at_rate(publisher, run, rate * seconds, rate, offers)
        await _until(offers, _OFFERED_WITHIN_S)
    finally:
        if watching is not None:
            watching.cancel()
        await consumer.stop()
        _stop_worker(worker)
        await publisher.stop()
        await client.drop_database(worker_settings.mongodb_database)
        await client.close()
    latencies = sorted(
        (offers.offered[case] - at) * 1000 for case, at in offers.sent.items() if case in offers.offered
    )
    missing = len(offers.sent) - len(offers.offered)
    last_offer = max(offers.offered.values(), default=offers.started)
    label = f"routing case → offer ({agents:,} agents, published to offered event received)"
    online_ms = sorted(nanos / 1e6 for nanos in online)
    return [
        Figure(
            f"routing: an agent coming online beside {agents - 1:,} others (change_agent and its matching "
            f"round, {len(online_ms)} agents): p50",
            quantile(online_ms, 0.5),
            "ms",
        ),
        Figure(f"{label}: offered ({seconds} s)", float(rate), "cases/s"),
        Figure(f"{label}: achieved publish rate", len(offers.sent) / elapsed, "cases/s"),
        Figure(
            f"{label}: achieved offer rate (offers received until the last one)",
            len(offers.offered) / max(last_offer - offers.started, 1e-9),
            "cases/s",
        ),
        Figure(f"{label}: p50", quantile(latencies, 0.5), "ms"),
        Figure(f"{label}: p95", quantile(latencies, 0.95), "ms"),
        Figure(f"{label}: p99", quantile(latencies, 0.99), "ms"),
        Figure(f"{label}: max", quantile(latencies, 1.0), "ms"),
        Figure(f"{label}: cases published", float(len(offers.sent)), "cases"),
        Figure(f"{label}: offers received", float(len(offers.offered)), "cases"),
        Figure(f"{label}: no offer {_OFFERED_WITHIN_S} s after the last send", float(missing), "cases"),
        Figure(f"{label}: publish errors", float(failed), "batches"),
        Figure(f"{label}: undecodable events on {_ASSIGNMENTS}", float(offers.undecodable), "events"),
        Figure(f"{label}: other changes (waiting, expired, …)", float(sum(offers.other.values())), "events"),
    ]
