"""The hard rule: who may be offered a case, this minute. Each check names the first rule that failed,
so a decision can say how many agents were left out and why."""

from __future__ import annotations

from datetime import datetime

from schemas.routing import AgentStatus
from services.routing.core.agents import Agent
from services.routing.core.cases import QueuedCase
from services.routing.core.rules import RoutingRules
from services.routing.core.schedule import on_leave


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


def misfit(agent: Agent, case: QueuedCase) -> str | None:
    """Why this open agent cannot take this case (``None``: fits, with room for it)."""
    checks = (
        ("queue", case.queue in agent.queues),
        ("channel", case.channel in agent.capacity.limits),
        ("skill", not agent.skills or case.category.value in agent.skills),
        ("language", not agent.languages or case.language is None or case.language in agent.languages),
        ("passed_over", agent.agent_id not in case.passed_over),
        # Another router's offer of this very case holds the agent already.
        ("holding", all(item.case_id != case.case_id for item in agent.work)),
        ("capacity", agent.room_for(case.channel)),
    )
    return next((reason for reason, fits in checks if not fits), None)


def ineligibility(agent: Agent, case: QueuedCase, now: datetime, rules: RoutingRules) -> str | None:
    return unavailability(agent, now, rules) or misfit(agent, case)
