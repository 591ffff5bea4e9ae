"""What routing's API reads: agents with their presence, offers, queues ranked by score, decisions and
the staffing plan."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from schemas.routing import ScoreParts
from services.routing.core.agents import Agent, WorkState
from services.routing.core.backlog import Backlog
from services.routing.core.cases import CaseState, QueuedCase
from services.routing.core.eligibility import unavailability
from services.routing.core.rules import RoutingRules
from services.routing.core.score import score
from services.routing.core.staffing import HourStaffing, staffing_plan
from services.routing.ports import RoutingStore


@dataclass(frozen=True)
class AgentView:
    agent: Agent
    closed_because: str | None  # None: open for work now


@dataclass(frozen=True)
class RankedCase:
    case: QueuedCase
    score: ScoreParts
    position: int | None  # 1 = served next; None once offered or assigned


@dataclass(frozen=True)
class StaffingQuestion:
    queue: str
    day: date
    time_zone: str
    service_level: float
    target_seconds: float
    handle_seconds: float
    concurrency: int


class RoutingQueries:
    def __init__(self, store: RoutingStore, clock: Callable[[], datetime], rules: RoutingRules) -> None:
        self._store = store
        self._clock = clock
        self.rules = rules

    async def agents(self) -> list[AgentView]:
        now = self._clock()
        return [
            AgentView(agent, unavailability(agent, now, self.rules))
            for agent in sorted(await self._store.agents(), key=lambda agent: agent.agent_id)
        ]

    async def agent(self, agent_id: str) -> AgentView | None:
        agent = await self._store.agent(agent_id)
        return None if agent is None else AgentView(agent, unavailability(agent, self._clock(), self.rules))

    async def offers(self, agent_id: str) -> list[QueuedCase] | None:
        """The cases offered to the agent and not yet answered (``None``: no such agent)."""
        agent = await self._store.agent(agent_id)
        if agent is None:
            return None
        offered = [item for item in agent.work if item.state is WorkState.OFFERED]
        cases = [await self._store.case(item.case_id) for item in offered]
        return [
            case
            for case, item in zip(cases, offered, strict=True)
            if case is not None and case.state is CaseState.OFFERED and case.offer_id == item.offer_id
        ]

    async def queue_cases(self, queue: str) -> list[RankedCase]:
        """The queue's cases: waiting ones in the order they will be served, then offered and assigned."""
        now = self._clock()
        rules = self.rules.queue(queue)
        cases = await self._store.active_cases([queue])
        backlog = Backlog([case for case in cases if case.state is CaseState.WAITING], self.rules)
        ranked = [
            RankedCase(case, score(case, rules, self.rules.weights, now), position)
            for position, case in enumerate(backlog.ranked(now), start=1)
        ]
        others = sorted(
            (case for case in cases if case.state is not CaseState.WAITING),
            key=lambda case: case.waiting_since,
        )
        return ranked + [
            RankedCase(case, score(case, rules, self.rules.weights, now), None) for case in others
        ]

    async def case(self, case_id: str) -> QueuedCase | None:
        return await self._store.case(case_id)

    async def staffing(self, question: StaffingQuestion) -> list[HourStaffing]:
        """Required against scheduled agents for each hour of the day in the given zone; the forecast is
        the queue's arrivals over the last hour (the simplest honest forecast until history is kept)."""
        zone = ZoneInfo(question.time_zone)
        midnight = datetime.combine(question.day, time(0), zone)
        hours = [(midnight + timedelta(hours=offset)).astimezone(UTC) for offset in range(24)]
        now = self._clock()
        arrivals = (await self._store.throughput(question.queue, now - timedelta(hours=1))).arrivals
        return staffing_plan(
            await self._store.agents(),
            question.queue,
            hours,
            float(arrivals),
            handle_seconds=question.handle_seconds,
            target_seconds=question.target_seconds,
            service_level_goal=question.service_level,
            concurrency=question.concurrency,
        )
