"""A queue's figures at one instant: what notify needs for an honest expected answer time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import fmean

from schemas.routing import HourForecast, QueueStats
from services.routing.core.agents import Agent
from services.routing.core.cases import CaseState, QueuedCase
from services.routing.core.eligibility import ABSENCE_REASONS, unavailability
from services.routing.core.rules import QueueRules, RoutingRules
from services.routing.core.staffing import scheduled_per_hour

FORECAST_HOURS = 12


@dataclass(frozen=True)
class Throughput:
    """A queue's traffic over a span (the last hour): arrivals, and the waits until an agent accepted
    (first response) and the handle times (accepted to completed) of the cases settled in it."""

    arrivals: int = 0
    first_response_seconds: tuple[float, ...] = ()
    handle_seconds: tuple[float, ...] = ()


def closed_reasons(agents: Sequence[Agent], *, rules: RoutingRules, now: datetime) -> dict[str, str | None]:
    return {agent.agent_id: unavailability(agent, now, rules) for agent in agents}


def queue_stats(
    queue: QueueRules,
    agents: Sequence[Agent],
    cases: Sequence[QueuedCase],
    hour: Throughput,
    *,
    rules: RoutingRules,
    now: datetime,
    closed: Mapping[str, str | None] | None = None,
) -> QueueStats:
    """``hour`` is the queue's throughput over the last hour; ``closed``, when given, is why each agent
    takes no new work now (``closed_reasons``), worked out once for every queue."""
    mine = [case for case in cases if case.queue == queue.name]
    waiting = [case for case in mine if case.state is CaseState.WAITING]
    serving = [agent for agent in agents if queue.name in agent.queues]
    reasons = closed if closed is not None else closed_reasons(serving, rules=rules, now=now)
    present = [agent for agent in serving if reasons[agent.agent_id] not in ABSENCE_REASONS]
    open_now = [agent for agent in present if reasons[agent.agent_id] is None]
    handles = hour.handle_seconds
    next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    forecast = [next_hour + timedelta(hours=offset) for offset in range(FORECAST_HOURS)]
    return QueueStats(
        queue=queue.name,
        backlog=len(waiting),
        offered=sum(1 for case in mine if case.state is CaseState.OFFERED),
        oldest_wait_seconds=max(
            (max(0.0, (now - c.waiting_since).total_seconds()) for c in waiting), default=0.0
        ),
        arrivals_last_hour=hour.arrivals,
        completions_last_hour=len(handles),
        mean_handle_seconds=round(fmean(handles), 3) if handles else None,
        agents_eligible_now=sum(
            1 for agent in open_now if any(agent.room_for(channel) for channel in queue.channels)
        ),
        agents_present_now=len(present),
        scheduled=[
            HourForecast(hour_start=hour, agents_scheduled=count)
            for hour, count in zip(forecast, scheduled_per_hour(serving, queue.name, forecast), strict=True)
        ],
        sla_seconds=queue.sla.total_seconds(),
        as_of=now,
    )
