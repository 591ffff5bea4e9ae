"""Agents, cases and rosters for the routing core's tests, plus the hypothesis strategies that draw them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from schemas.cases import CaseCategory
from schemas.customers import Tier
from schemas.interactions import Channel
from schemas.routing import AgentStatus
from services.routing.core.agents import Agent, Capacity, ChannelLimit, WorkItem, WorkState
from services.routing.core.cases import QueuedCase
from services.routing.core.rules import RoutingRules
from services.routing.core.schedule import Leave, Schedule, Shift

NOW = datetime(2026, 1, 14, 12, 0, tzinfo=UTC)  # a Wednesday in winter: Oslo is UTC+1
RULES = RoutingRules()
OSLO = ZoneInfo("Europe/Oslo")

# Every day 00:00 to 00:00 the next day: one unbroken stretch, never near its end.
ALWAYS = Schedule("UTC", tuple(Shift(day, time(0), time(0)) for day in range(7)))

CHAT_ONLY = {Channel.CHAT: ChannelLimit(cost=33, cap=3)}
# One budget shared by every channel: a phone call takes all of it.
SHARED = {
    Channel.CHAT: ChannelLimit(cost=33, cap=3),
    Channel.PHONE: ChannelLimit(cost=100, cap=1),
    Channel.EMAIL: ChannelLimit(cost=10, cap=5),
}


def oslo(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock time in Oslo, as the UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=OSLO).astimezone(UTC)


def agent(
    agent_id: str = "a1",
    *,
    queues: tuple[str, ...] = ("chat",),
    limits: dict[Channel, ChannelLimit] | None = None,
    budget: int = 100,
    status: AgentStatus = AgentStatus.AVAILABLE,
    heartbeat_at: datetime | None = NOW,
    schedule: Schedule = ALWAYS,
    **fields: Any,
) -> Agent:
    """An agent open for chat work now, unless told otherwise."""
    return Agent(
        agent_id=agent_id,
        queues=frozenset(queues),
        capacity=Capacity(budget=budget, limits=dict(CHAT_ONLY if limits is None else limits)),
        status=status,
        heartbeat_at=heartbeat_at,
        schedule=schedule,
        **fields,
    )


def case(
    case_id: str = "c1",
    *,
    queue: str = "chat",
    channel: Channel = Channel.CHAT,
    tier: Tier = Tier.STANDARD,
    waited: timedelta = timedelta(seconds=30),
    predicted_value: str = "0",
    category: CaseCategory = CaseCategory.ORDER,
    language: str | None = None,
    needs_recovery: bool = False,
    last_agent: str | None = None,
    now: datetime = NOW,
    **fields: Any,
) -> QueuedCase:
    """A waiting chat case that has waited ``waited`` at ``now``."""
    return QueuedCase(
        case_id=case_id,
        customer_id=f"cust-{case_id}",
        queue=queue,
        channel=channel,
        category=category,
        language=language,
        tier=tier,
        predicted_value=Decimal(predicted_value),
        needs_recovery=needs_recovery,
        last_agent=last_agent,
        waiting_since=now - waited,
        **fields,
    )


def holding(holder: Agent, *channels: Channel, state: WorkState = WorkState.ACCEPTED) -> Agent:
    """The agent with one more item of work per channel given (at the channel's cost)."""
    work = list(holder.work)
    for channel in channels:
        number = len(work) + 1
        cost = holder.capacity.limits[channel].cost
        work.append(WorkItem(f"w{number}#1", f"w{number}", channel, cost, state, NOW - timedelta(minutes=5)))
    return replace(holder, work=tuple(work))


# --- hypothesis strategies -------------------------------------------------------------------------
# Built once at import: drawing from ready strategies keeps the property tests fast.

QUEUE_NAMES = ("phone", "chat", "messaging", "email")
QUEUE_CHANNEL = {
    "phone": Channel.PHONE,
    "chat": Channel.CHAT,
    "messaging": Channel.SMS,
    "email": Channel.EMAIL,
}
LANGUAGES = ("nb", "en", "sv")
ZONES = ("Europe/Oslo", "UTC", "America/New_York", "Asia/Kolkata")
CHANNELS = (Channel.PHONE, Channel.CHAT, Channel.SMS, Channel.EMAIL)
CATEGORIES = tuple(category.value for category in CaseCategory)

_weekdays = st.integers(min_value=0, max_value=6)
_quarters = st.integers(min_value=0, max_value=95)
_quarters_by_day = _quarters.filter(lambda quarter: not 4 <= quarter < 16)
_zones = st.sampled_from(ZONES)
_queue_sets = st.sets(st.sampled_from(QUEUE_NAMES), min_size=1, max_size=3)
_extra_channels = st.sets(st.sampled_from(CHANNELS), max_size=1)
_costs = st.sampled_from([0, 10, 25, 33, 50, 100])
_caps = st.integers(min_value=1, max_value=3)
_budgets = st.sampled_from([100, 60])
_skill_sets = st.sampled_from([frozenset[str]()] * 2) | st.frozensets(st.sampled_from(CATEGORIES), max_size=4)
_language_sets = st.sampled_from([frozenset[str]()] * 2) | st.frozensets(
    st.sampled_from(LANGUAGES), max_size=2
)
_leave_spans = st.lists(
    st.tuples(st.integers(min_value=-600, max_value=600), st.integers(min_value=0, max_value=600)), max_size=1
)
_statuses = st.sampled_from([AgentStatus.AVAILABLE] * 10 + [AgentStatus.AWAY, AgentStatus.OFFLINE])
_heartbeats = st.sampled_from([0, 5, 20, 40, 55, 59, 60, None, 61, 90]) | st.integers(
    min_value=0, max_value=60
)
_flags = st.sampled_from([False] * 6 + [True])
_idle = st.none() | st.integers(min_value=0, max_value=600)
_work_states = st.sampled_from(list(WorkState))
_categories = st.sampled_from(list(CaseCategory))
_case_languages = st.none() | st.sampled_from(LANGUAGES)
_tiers = st.sampled_from(list(Tier))
_values = st.sampled_from([-500, 0, 1500, 12000, 40000])
_waits = st.sampled_from([-30, 0, 30, 90, 120, 600, 3600, 6000, 40000])


def instants(days: int = 400) -> st.SearchStrategy[datetime]:
    """Minute-aligned instants around ``NOW``, across both DST switches of 2026."""
    return st.integers(min_value=-days * 1440, max_value=days * 1440).map(
        lambda minutes: NOW + timedelta(minutes=minutes)
    )


@st.composite
def shifts(draw: st.DrawFn, *, avoid_small_hours: bool = False) -> Shift:
    """A shift on whole quarter hours; ``avoid_small_hours`` keeps both ends out of 01:00-04:00, where
    the DST switches make a wall-clock time missing or doubled."""
    quarters = _quarters_by_day if avoid_small_hours else _quarters
    start, end = draw(quarters), draw(quarters)
    return Shift(draw(_weekdays), time(start // 4, start % 4 * 15), time(end // 4, end % 4 * 15))


@st.composite
def schedules(draw: st.DrawFn, *, avoid_small_hours: bool = False) -> Schedule:
    return Schedule(
        draw(_zones), tuple(draw(st.lists(shifts(avoid_small_hours=avoid_small_hours), max_size=6)))
    )


_schedules = st.one_of(st.just(ALWAYS), st.just(ALWAYS), schedules())


@st.composite
def agents(draw: st.DrawFn, agent_id: str, now: datetime) -> Agent:
    """Any agent: mostly open for work, sometimes away, stale, on leave, off shift or winding down, with
    limits mostly for the channels of its queues and some work already held."""
    queues = draw(_queue_sets)
    channels = {QUEUE_CHANNEL[queue] for queue in queues if draw(_flags) is False} | draw(_extra_channels)
    capacity = Capacity(
        budget=draw(_budgets),
        limits={channel: ChannelLimit(cost=draw(_costs), cap=draw(_caps)) for channel in sorted(channels)},
    )
    heartbeat = draw(_heartbeats)
    idle = draw(_idle)
    held = Agent(
        agent_id=agent_id,
        queues=frozenset(queues),
        capacity=capacity,
        skills=draw(_skill_sets),
        languages=draw(_language_sets),
        schedule=draw(_schedules),
        leaves=tuple(
            Leave(now + timedelta(minutes=start), now + timedelta(minutes=start + length))
            for start, length in draw(_leave_spans)
        ),
        status=draw(_statuses),
        heartbeat_at=None if heartbeat is None else now - timedelta(seconds=heartbeat),
        not_responding=draw(_flags),
        idle_since=None if idle is None else now - timedelta(seconds=idle),
    )
    # Work it already holds, within its capacity.
    if channels:
        for channel in draw(st.lists(st.sampled_from(sorted(channels)), max_size=3)):
            if held.room_for(channel):
                held = holding(held, channel, state=draw(_work_states))
    return held


@st.composite
def queued_cases(draw: st.DrawFn, case_id: str, now: datetime, agent_ids: tuple[str, ...] = ()) -> QueuedCase:
    """Any waiting case, mostly on its queue's channel; ages, values and tiers come from small sets so
    ties happen."""
    queue = draw(st.sampled_from(QUEUE_NAMES))
    channel = draw(st.sampled_from(CHANNELS)) if draw(_flags) else QUEUE_CHANNEL[queue]
    others = st.sampled_from(agent_ids) if agent_ids else st.nothing()
    return QueuedCase(
        case_id=case_id,
        customer_id=f"cust-{case_id}",
        queue=queue,
        channel=channel,
        category=draw(_categories),
        language=draw(_case_languages),
        tier=draw(_tiers),
        predicted_value=Decimal(draw(_values)),
        needs_recovery=draw(st.booleans()),
        last_agent=draw(st.none() | others),
        waiting_since=now - timedelta(seconds=draw(_waits)),
        passed_over=frozenset(draw(st.lists(others, max_size=1))) if draw(_flags) else frozenset(),
    )
