"""The hard rule: who may be offered a case, this minute. Each check names the first rule that failed,
so a decision can say how many agents were left out and why."""

from __future__ import annotations

from datetime import datetime, timedelta

from schemas.routing import AgentStatus
from services.routing.core.agents import Agent
from services.routing.core.cases import QueuedCase
from services.routing.core.rules import RoutingRules
from services.routing.core.schedule import on_leave

# What ``absence`` answers; anything else that closes an agent (not responding, winding down) leaves
# them present.
ABSENCE_REASONS = frozenset({"status", "heartbeat", "leave", "off_shift"})


def absence(agent: Agent, now: datetime, rules: RoutingRules) -> str | None:
    """Why the agent is not there at all (``None``: present). Work they hold is requeued after a grace."""
    if agent.status is not AgentStatus.AVAILABLE:
        return "status"
    if agent.heartbeat_at is None or now - agent.heartbeat_at > rules.heartbeat_ttl:
        return "heartbeat"
    if on_leave(agent.leaves, now):
        return "leave"
    if not agent.schedule.on_shift(now):
        return "off_shift"
    return None


def unavailability(agent: Agent, now: datetime, rules: RoutingRules) -> str | None:
    """Why the agent takes no new work now, whatever the case (``None``: open for work)."""
    if (reason := absence(agent, now, rules)) is not None:
        return reason
    if agent.not_responding:
        return "not_responding"
    if not agent.schedule.on_shift(now, rules.wind_down):
        return "wind_down"
    return None


def misfit(agent: Agent, case: QueuedCase) -> str | None:  # noqa: PLR0911 - one return per rule
    """Why this open agent cannot take this case (``None``: fits, with room for it). The first rule that
    fails decides; the cheap ones come first, since a pick asks this of every agent in the queue."""
    if case.queue not in agent.queues:
        return "queue"
    if case.channel not in agent.capacity.limits:
        return "channel"
    if agent.skills and case.category.value not in agent.skills:
        return "skill"
    if agent.languages and case.language is not None and case.language not in agent.languages:
        return "language"
    if agent.agent_id in case.passed_over:
        return "passed_over"
    if case.case_id in agent.cases_held:
        return "holding"  # another router's offer of this very case holds the agent already
    if not agent.room_for(case.channel):
        return "capacity"
    return None


def ineligibility(agent: Agent, case: QueuedCase, now: datetime, rules: RoutingRules) -> str | None:
    return unavailability(agent, now, rules) or misfit(agent, case)


def settled_until(agent: Agent, now: datetime, rules: RoutingRules) -> datetime:
    """Until when ``unavailability`` keeps its answer for this very agent, as time alone goes by: the
    next heartbeat expiry, leave boundary, wind-down, shift end or start (at most a day ahead)."""
    bounds = [now + _LONGEST_SETTLED]
    if agent.heartbeat_at is not None:
        # A heartbeat expires just after its time to live (``absence`` compares strictly).
        bounds.append(agent.heartbeat_at + rules.heartbeat_ttl + _JUST_AFTER)
    for leave in agent.leaves:
        bounds += [leave.start, leave.end]
    stretch = agent.schedule.stretch_at(now)
    if stretch is not None:
        bounds += [stretch[1] - rules.wind_down, stretch[1]]
    elif (start := agent.schedule.next_start(now)) is not None:
        bounds.append(start)
    return min(bound for bound in bounds if bound > now)


_LONGEST_SETTLED = timedelta(days=1)
_JUST_AFTER = timedelta(microseconds=1)
