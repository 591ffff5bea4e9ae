"""What routing publishes: ``AssignmentChanged`` on ``assignments.v1`` (keyed by customer id, so profile
adds it to the customer's timeline in order) and ``QueueStats`` on ``queue-stats.v1`` (keyed by queue),
what notify needs to promise an honest answer time."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.cases import CaseCategory
from schemas.customers import Tier
from schemas.envelope import Payload, UtcDatetime
from schemas.interactions import Channel


class AgentStatus(StrEnum):
    AVAILABLE = "available"
    AWAY = "away"
    OFFLINE = "offline"


class AssignmentChange(StrEnum):
    OFFERED = "offered"  # an agent was chosen; capacity is held until accepted, declined or expired
    ACCEPTED = "accepted"
    DECLINED = "declined"  # back to the queue, keeping its age
    EXPIRED = "expired"  # not accepted in time: the agent is marked not responding, the case goes on
    WITHDRAWN = "withdrawn"  # the agent went absent or the case closed before the agent took it
    COMPLETED = "completed"
    WAITING = "waiting"  # nobody eligible: the situation, for an honest message to the customer
    OVERFLOWED = "overflowed"  # moved to another queue, keeping its age
    CALLBACK_OFFERED = "callback_offered"  # nobody can answer live; the case waits in the callback queue


class Rule(StrEnum):
    """What decided between the eligible agents."""

    STICKY = "sticky"  # the customer's previous agent
    ONLY_ELIGIBLE = "only_eligible"
    LEAST_LOADED = "least_loaded"
    LONGEST_IDLE = "longest_idle"
    AGENT_ID = "agent_id"  # a tie on load and idle time, broken by id so every router agrees
    NEXT_FREE = "next_free"  # the case waited; this agent was the first eligible one to have room


class ScoreParts(Payload):
    """The priority score of a case and how it was made: ``total`` is the sum of the parts; a starving
    case (waited past the cap) ranks above every case that is not."""

    tier: float
    value: float
    channel: float
    aging: float
    sla: float
    recovery: float
    total: float
    starving: bool


class Decision(Payload):
    """Why this agent: the record kept and published with every offer."""

    rule: Rule
    eligible: int = Field(ge=0, description="Agents eligible for the case at the moment of the pick.")
    considered: int = Field(ge=0, description="Agents looked at.")
    ineligible: dict[str, int] = Field(
        default_factory=dict, description="Agents left out, counted by the first rule they failed."
    )
    score: ScoreParts
    weights: dict[str, float] = Field(description="The configured weights the score was made with.")
    decided_at: UtcDatetime


class AssignmentChanged(Payload):
    change: AssignmentChange
    case_id: str = Field(min_length=1, max_length=100)
    customer_id: str = Field(min_length=1, max_length=100)
    queue: str = Field(min_length=1, max_length=100)
    channel: Channel
    category: CaseCategory
    tier: Tier
    offer_id: str | None = Field(default=None, max_length=200, description="The offer, once one was made.")
    agent_id: str | None = Field(default=None, max_length=200)
    decision: Decision | None = Field(default=None, description="Set on offers.")
    reason: str | None = Field(
        default=None,
        max_length=200,
        description="Why it changed, e.g. offer_timeout, agent_absent, case_closed, no_agent_present, "
        "all_agents_busy.",
    )
    waiting_since: UtcDatetime = Field(
        description="When the case started to wait (its age survives requeues)."
    )
    occurred_at: UtcDatetime


class HourForecast(Payload):
    hour_start: UtcDatetime
    agents_scheduled: int = Field(ge=0)


class QueueStats(Payload):
    """One queue's load, published on every routing tick that changed it."""

    queue: str = Field(min_length=1, max_length=100)
    backlog: int = Field(ge=0, description="Cases waiting for an agent (not yet offered).")
    offered: int = Field(ge=0, description="Cases offered and not yet accepted.")
    oldest_wait_seconds: float = Field(ge=0)
    arrivals_last_hour: int = Field(ge=0)
    completions_last_hour: int = Field(ge=0)
    mean_handle_seconds: float | None = Field(
        default=None, ge=0, description="Accepted to completed, last hour."
    )
    agents_eligible_now: int = Field(
        ge=0, description="Agents of this queue open for new work now, with room for its channels."
    )
    agents_present_now: int = Field(
        ge=0,
        description="Agents of this queue who are there (on shift, available, alive), open for work or not.",
    )
    scheduled: list[HourForecast] = Field(default_factory=list, max_length=48, description="The next hours.")
    sla_seconds: float = Field(gt=0, description="The queue's first-response target.")
    as_of: UtcDatetime
