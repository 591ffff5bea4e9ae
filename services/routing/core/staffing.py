"""How many agents a queue needs per hour for a chosen service level, against how many are on shift.

Erlang C (M/M/N: Poisson arrivals, exponential handle times, nobody abandons) gives the probability that a
contact has to wait and, from it, the share answered within the target. It is the planning convention of the
trade; it overstates need a little when customers abandon, which errs on the side of service.

Agents serving several chats at once are modelled as ``concurrency`` servers each, every server slower than
a single-chat agent because attention is shared: the effective handle time is
``handle * (1 + slowdown * (concurrency - 1))``. With the default slowdown of 0.25 an agent on three chats
takes 1.5 times as long per chat, so three chats at once still do twice the work of one. Servers are then
rounded up to whole agents. The factor is a parameter because it depends on the work; measure it from the
handle times of agents at different loads when there is data.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.routing.core.agents import Agent
from services.routing.core.schedule import DAYS_LOOKED_BACK, Schedule, on_leave

SECONDS_PER_HOUR = 3600.0
DEFAULT_SLOWDOWN = 0.25
# Far beyond any contact centre; a search that reaches it means the inputs are wrong, not the model.
MAX_SERVERS = 1_000_000


def erlang_c(traffic_erlangs: float, agents: int) -> float:
    """The probability that a contact waits, with ``agents`` serving ``traffic_erlangs`` of offered load.

    Computed through the Erlang B recursion, which never forms the factorials and powers that overflow.
    With no more agents than the load the queue grows without bound, so everyone waits.
    """
    _check_non_negative("traffic_erlangs", traffic_erlangs)
    if agents < 0:
        raise ValueError(f"agents must not be negative, got {agents}")
    if traffic_erlangs == 0:
        return 0.0
    if agents <= traffic_erlangs:
        return 1.0
    blocking = 1.0
    for servers in range(1, agents + 1):
        blocking = _next_blocking(traffic_erlangs, servers, blocking)
    return _waiting(traffic_erlangs, agents, blocking)


def service_level(traffic: float, agents: int, handle_seconds: float, target_seconds: float) -> float:
    """The share of contacts answered within ``target_seconds``: 1 - C * exp(-(N - A) * t / h).

    Zero when the agents cannot keep up with the load, since the wait then grows without bound.
    """
    _check_positive("handle_seconds", handle_seconds)
    _check_non_negative("target_seconds", target_seconds)
    waits = erlang_c(traffic, agents)
    if waits == 0.0:
        return 1.0
    if agents <= traffic:
        return 0.0
    return _within_target(traffic, agents, waits, handle_seconds, target_seconds)


def effective_handle_seconds(
    handle_seconds: float, concurrency: int = 1, slowdown: float = DEFAULT_SLOWDOWN
) -> float:
    """The handle time of one of an agent's ``concurrency`` parallel servers (see the module docstring)."""
    _check_positive("handle_seconds", handle_seconds)
    _check_concurrency(concurrency)
    _check_non_negative("slowdown", slowdown)
    return handle_seconds * (1.0 + slowdown * (concurrency - 1))


def required_agents(
    arrivals_per_hour: float,
    handle_seconds: float,
    target_seconds: float,
    service_level_goal: float,
    *,
    concurrency: int = 1,
    slowdown: float = DEFAULT_SLOWDOWN,
) -> int:
    """The fewest agents that answer ``service_level_goal`` of contacts within ``target_seconds``.

    ``service_level_goal`` is a share strictly between 0 and 1: Erlang C never promises every contact.
    """
    _check_non_negative("arrivals_per_hour", arrivals_per_hour)
    _check_non_negative("target_seconds", target_seconds)
    if not 0.0 < service_level_goal < 1.0:
        raise ValueError(f"service_level_goal must lie strictly between 0 and 1, got {service_level_goal}")
    handle = effective_handle_seconds(handle_seconds, concurrency, slowdown)
    if arrivals_per_hour == 0:
        return 0
    traffic = arrivals_per_hour * handle / SECONDS_PER_HOUR
    if traffic >= MAX_SERVERS:
        raise ValueError(f"an offered load of {traffic:.0f} erlangs is beyond any plausible queue")
    for servers, blocking in _erlang_b(traffic):
        if servers > MAX_SERVERS:
            break
        if servers <= traffic:
            continue
        waits = _waiting(traffic, servers, blocking)
        if _within_target(traffic, servers, waits, handle, target_seconds) >= service_level_goal:
            return math.ceil(servers / concurrency)
    raise ValueError(f"no staffing up to {MAX_SERVERS} servers meets a service level of {service_level_goal}")


def scheduled_agents(agents: Iterable[Agent], queue: str, hour_start: datetime) -> int:
    """Agents serving ``queue`` who are on shift and not on leave at the middle of the hour.

    The middle, not the start, so a shift starting or ending on the half hour counts for the hour it mostly
    covers and a shift ending on the hour does not count for the hour after.
    """
    return scheduled_per_hour(agents, queue, [hour_start])[0]


def scheduled_per_hour(agents: Iterable[Agent], queue: str, hour_starts: Sequence[datetime]) -> list[int]:
    """``scheduled_agents`` for many hours, working out each agent's shifts once (not once per hour)."""
    middles = [_middle(hour_start) for hour_start in hour_starts]
    counts = [0] * len(middles)
    if not middles:
        return counts
    first, last = min(middles), max(middles)
    # Agents share schedules: each schedule's hours are worked out once.
    hours_of: dict[Schedule, list[bool]] = {}
    for agent in agents:
        if queue not in agent.queues:
            continue
        worked = hours_of.get(agent.schedule)
        if worked is None:
            zone = ZoneInfo(agent.schedule.time_zone)
            start_day = first.astimezone(zone).date() - timedelta(days=DAYS_LOOKED_BACK)
            days = (last.astimezone(zone).date() - start_day).days + 2
            stretches = agent.schedule.stretches(start_day, days)
            worked = hours_of[agent.schedule] = [
                any(start <= middle < end for start, end in stretches) for middle in middles
            ]
        for index, middle in enumerate(middles):
            if worked[index] and not (agent.leaves and on_leave(agent.leaves, middle)):
                counts[index] += 1
    return counts


@dataclass(frozen=True)
class HourStaffing:
    """One hour of the plan; a negative ``gap`` is the number of agents short."""

    hour_start: datetime
    arrivals_per_hour: float
    required: int
    scheduled: int
    gap: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "gap", self.scheduled - self.required)


def staffing_plan(
    agents: Iterable[Agent],
    queue: str,
    day_hours: Sequence[datetime],
    arrivals_per_hour: Mapping[datetime, float] | float,
    *,
    handle_seconds: float,
    target_seconds: float,
    service_level_goal: float,
    concurrency: int = 1,
    slowdown: float = DEFAULT_SLOWDOWN,
) -> list[HourStaffing]:
    """Required against scheduled agents for each hour in ``day_hours``.

    ``arrivals_per_hour`` is the forecast per hour start, or one rate for every hour. An hour missing from
    the forecast expects no contacts: forecasts leave out the hours a queue is closed.
    """
    scheduled = scheduled_per_hour(agents, queue, day_hours)
    plan: list[HourStaffing] = []
    for hour_start, on_shift in zip(day_hours, scheduled, strict=True):
        if isinstance(arrivals_per_hour, Mapping):
            arrivals = float(arrivals_per_hour.get(hour_start, 0.0))
        else:
            arrivals = float(arrivals_per_hour)
        required = required_agents(
            arrivals,
            handle_seconds,
            target_seconds,
            service_level_goal,
            concurrency=concurrency,
            slowdown=slowdown,
        )
        plan.append(HourStaffing(hour_start, arrivals, required, on_shift))
    return plan


def _erlang_b(traffic: float) -> Iterator[tuple[int, float]]:
    """Erlang B blocking for 1, 2, 3, ... servers, each from the last."""
    blocking = 1.0
    servers = 0
    while True:
        servers += 1
        blocking = _next_blocking(traffic, servers, blocking)
        yield servers, blocking


def _next_blocking(traffic: float, servers: int, blocking: float) -> float:
    return traffic * blocking / (servers + traffic * blocking)


def _waiting(traffic: float, servers: int, blocking: float) -> float:
    """Erlang C from Erlang B; only for ``servers > traffic``."""
    return servers * blocking / (servers - traffic * (1.0 - blocking))


def _within_target(
    traffic: float, servers: int, waits: float, handle_seconds: float, target_seconds: float
) -> float:
    return 1.0 - waits * math.exp(-(servers - traffic) * target_seconds / handle_seconds)


def _middle(hour_start: datetime) -> datetime:
    if hour_start.utcoffset() is None:
        raise ValueError("hour_start must carry a time zone")
    return hour_start + timedelta(minutes=30)


def _check_concurrency(concurrency: int) -> None:
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")


def _check_positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value}")


def _check_non_negative(name: str, value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a non-negative number, got {value}")
