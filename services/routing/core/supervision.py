"""What a supervisor watches, computed from one instant's state: per queue its figures, the unassigned
cases by category and the spread of first-response and close times over the last hour; agents present,
not responding or absent; and the cases at risk of breaching their queue's SLA.

Pure: the read model (``services/routing/dashboard.py``) fetches the state and the clock's ``now``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from math import ceil

from schemas.routing import QueueStats
from services.routing.core.agents import Agent, WorkState
from services.routing.core.cases import CaseState, QueuedCase
from services.routing.core.eligibility import absence, unavailability
from services.routing.core.rules import RoutingRules
from services.routing.core.stats import Throughput, queue_stats

# A case not yet accepted that has used this share of its queue's SLA is at risk.
AT_RISK_SHARE = 0.75


@dataclass(frozen=True)
class Spread:
    """Durations in seconds: how many, and the nearest-rank 50th and 90th percentiles and the largest
    (each an observed value; ``None`` when there are none)."""

    count: int
    p50: float | None
    p90: float | None
    max: float | None


def spread(values: Sequence[float]) -> Spread:
    if not values:
        return Spread(0, None, None, None)
    ordered = sorted(values)
    return Spread(len(ordered), _nearest_rank(ordered, 0.5), _nearest_rank(ordered, 0.9), ordered[-1])


def _nearest_rank(ordered: Sequence[float], share: float) -> float:
    return ordered[max(0, ceil(share * len(ordered)) - 1)]


class Presence(StrEnum):
    PRESENT = "present"  # there: status available, heartbeat fresh, on shift, not on leave
    NOT_RESPONDING = "not_responding"  # there, but let an offer expire (until they set a status again)
    ABSENT = "absent"


@dataclass(frozen=True)
class AgentPresence:
    agent: Agent
    presence: Presence
    # Absent: why (status, heartbeat, leave, off_shift). Present: why no new work comes, if any (wind_down).
    reason: str | None
    open_for_work: bool

    @property
    def offered(self) -> int:
        return sum(1 for item in self.agent.work if item.state is WorkState.OFFERED)

    @property
    def accepted(self) -> int:
        return sum(1 for item in self.agent.work if item.state is WorkState.ACCEPTED)


def agent_presence(agent: Agent, now: datetime, rules: RoutingRules) -> AgentPresence:
    closed = unavailability(agent, now, rules)
    if (reason := absence(agent, now, rules)) is not None:
        return AgentPresence(agent, Presence.ABSENT, reason, open_for_work=False)
    if agent.not_responding:
        return AgentPresence(agent, Presence.NOT_RESPONDING, "not_responding", open_for_work=False)
    return AgentPresence(agent, Presence.PRESENT, closed, open_for_work=closed is None)


class Risk(StrEnum):
    AT_RISK = "at_risk"  # at least AT_RISK_SHARE of the SLA used
    BREACHED = "breached"  # waited past the SLA and still not accepted


@dataclass(frozen=True)
class CaseAtRisk:
    case: QueuedCase
    waited_seconds: float
    sla_seconds: float
    risk: Risk

    @property
    def sla_share(self) -> float:
        return self.waited_seconds / self.sla_seconds if self.sla_seconds > 0 else float("inf")


def cases_at_risk(
    cases: Sequence[QueuedCase], rules: RoutingRules, now: datetime, *, share: float = AT_RISK_SHARE
) -> list[CaseAtRisk]:
    """Cases no agent has accepted yet (waiting, or offered and unanswered) that have waited at least
    ``share`` of their queue's SLA, the most overdue first. Cases of queues no longer configured have
    no SLA and are left out."""
    slas = {queue.name: queue.sla.total_seconds() for queue in rules.queues}
    found: list[CaseAtRisk] = []
    for case in cases:
        sla = slas.get(case.queue)
        if sla is None or case.state not in {CaseState.WAITING, CaseState.OFFERED}:
            continue
        waited = max(0.0, (now - case.waiting_since).total_seconds())
        if waited >= share * sla:
            risk = Risk.BREACHED if waited >= sla else Risk.AT_RISK
            found.append(CaseAtRisk(case, waited, sla, risk))
    return sorted(found, key=lambda item: (-item.sla_share, item.case.waiting_since, item.case.case_id))


def unassigned_by_category(cases: Sequence[QueuedCase], queue: str) -> dict[str, int]:
    """The queue's waiting cases counted per category, the largest count first."""
    counts = Counter(
        case.category.value for case in cases if case.queue == queue and case.state is CaseState.WAITING
    )
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


@dataclass(frozen=True)
class QueueBoard:
    stats: QueueStats
    assigned: int
    unassigned_by_category: Mapping[str, int]
    first_response: Spread  # arrival to an agent's acceptance, of the cases accepted in the last hour
    close: Spread  # acceptance to completion, of the cases completed in the last hour


@dataclass(frozen=True)
class Board:
    as_of: datetime
    queues: tuple[QueueBoard, ...]
    agents: tuple[AgentPresence, ...]  # by agent id
    at_risk: tuple[CaseAtRisk, ...]


def board(
    rules: RoutingRules,
    agents: Sequence[Agent],
    cases: Sequence[QueuedCase],
    last_hour: Mapping[str, Throughput],
    now: datetime,
) -> Board:
    """``cases`` are the active ones; ``last_hour`` is each queue's throughput over the last hour."""
    queues = []
    for queue in rules.queues:
        hour = last_hour.get(queue.name, Throughput())
        queues.append(
            QueueBoard(
                stats=queue_stats(queue, agents, cases, hour, rules=rules, now=now),
                assigned=sum(
                    1 for case in cases if case.queue == queue.name and case.state is CaseState.ASSIGNED
                ),
                unassigned_by_category=unassigned_by_category(cases, queue.name),
                first_response=spread(hour.first_response_seconds),
                close=spread(hour.handle_seconds),
            )
        )
    return Board(
        as_of=now,
        queues=tuple(queues),
        agents=tuple(
            agent_presence(agent, now, rules) for agent in sorted(agents, key=lambda agent: agent.agent_id)
        ),
        at_risk=tuple(cases_at_risk(cases, rules, now)),
    )
