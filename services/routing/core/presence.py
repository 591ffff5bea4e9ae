"""How an agent's own actions change them: profile, schedule, leave, status and heartbeat."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from schemas.routing import AgentStatus
from services.routing.core.agents import Agent, Capacity
from services.routing.core.schedule import Leave, Schedule

# Leave that ended this long ago is forgotten, so the agent document does not grow forever.
_LEAVE_KEPT_AFTER_END_DAYS = 90


def with_profile(
    current: Agent | None,
    agent_id: str,
    *,
    queues: frozenset[str],
    capacity: Capacity,
    skills: frozenset[str],
    languages: frozenset[str],
    time_zone: str,
) -> Agent:
    """A new agent (offline until they say otherwise), or the agent with a new profile: their presence,
    leave and the work they hold are kept."""
    if current is None:
        return Agent(
            agent_id,
            queues=queues,
            capacity=capacity,
            skills=skills,
            languages=languages,
            schedule=Schedule(time_zone=time_zone),
        )
    return replace(
        current,
        queues=queues,
        capacity=capacity,
        skills=skills,
        languages=languages,
        schedule=replace(current.schedule, time_zone=time_zone),
    )


def with_schedule(agent: Agent, schedule: Schedule) -> Agent:
    return replace(agent, schedule=schedule)


def with_leave(agent: Agent, leave: Leave, now: datetime) -> Agent:
    kept = tuple(
        existing
        for existing in agent.leaves
        if (now - existing.end).days < _LEAVE_KEPT_AFTER_END_DAYS and existing != leave
    )
    return replace(agent, leaves=tuple(sorted((*kept, leave), key=lambda item: item.start)))


def with_status(agent: Agent, status: AgentStatus, now: datetime) -> Agent:
    """Going available is a sign of life and ends "not responding"; away or offline starts the grace
    after which work not yet started moves to others."""
    if status is AgentStatus.AVAILABLE:
        return replace(agent, status=status, heartbeat_at=now, not_responding=False, absent_since=None)
    return replace(agent, status=status, absent_since=agent.absent_since or now)


def with_heartbeat(agent: Agent, now: datetime) -> Agent:
    return replace(agent, heartbeat_at=now)
