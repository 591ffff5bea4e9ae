"""Who gets what: the best eligible agent for a case, the best waiting case for an agent with room, and a
whole round that serves the highest-ranked cases first."""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from schemas.interactions import Channel
from schemas.routing import Decision, Rule
from services.routing.core.agents import Agent, WorkItem, WorkState
from services.routing.core.backlog import Backlog
from services.routing.core.cases import CaseState, QueuedCase
from services.routing.core.eligibility import ABSENCE_REASONS, misfit, settled_until, unavailability
from services.routing.core.rules import RoutingRules
from services.routing.core.score import score

_NEVER_IDLE = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Pick:
    case: QueuedCase
    agent: Agent
    decision: Decision


@dataclass(frozen=True)
class Unserved:
    """Nobody can take the case now."""

    ineligible: dict[str, int]
    present: int  # agents of the queue who are there, busy or not
    held_for: str | None = None  # it waits for the customer's previous agent (busy, within the window)


class Roster:
    """The agents at one instant; whether each is open for work is worked out once."""

    def __init__(self, agents: Iterable[Agent], now: datetime, rules: RoutingRules) -> None:
        self.now = now
        self.rules = rules
        self.by_id: dict[str, Agent] = {}
        self._closed: dict[str, str | None] = {}
        self._settled: dict[str, datetime] = {}
        self._by_queue: dict[str, list[str]] = {}
        self._with_room: dict[tuple[str, Channel], set[str]] = {}
        # Per queue: its open agents, and its closed ones counted by reason (a pick weighs only the open).
        self._open: dict[str, dict[str, Agent]] = {}
        self._closed_count: dict[str, Counter[str]] = {}
        for agent in agents:
            self.put(agent)

    def refresh(self, agents: Iterable[Agent], now: datetime) -> None:
        """The roster at a later ``now``: an agent is weighed again only when it changed (another object)
        or time alone may have changed whether it is open; a round with 1,000 agents then re-weighs few."""
        self.now = now
        for agent in agents:
            if self.by_id.get(agent.agent_id) is not agent or now >= self._settled[agent.agent_id]:
                self.put(agent)

    def put(self, agent: Agent) -> None:
        before = self.by_id.get(agent.agent_id)
        if before is None:
            for queue in agent.queues:
                self._by_queue.setdefault(queue, []).append(agent.agent_id)
        else:
            self._unindex(before)
        self.by_id[agent.agent_id] = agent
        reason = self._closed[agent.agent_id] = unavailability(agent, self.now, self.rules)
        self._settled[agent.agent_id] = settled_until(agent, self.now, self.rules)
        for queue in agent.queues:
            if reason is None:
                self._open.setdefault(queue, {})[agent.agent_id] = agent
            else:
                self._closed_count.setdefault(queue, Counter())[reason] += 1
        for (queue, channel), members in self._with_room.items():
            if queue in agent.queues:
                if self._closed[agent.agent_id] is None and agent.room_for(channel):
                    members.add(agent.agent_id)
                else:
                    members.discard(agent.agent_id)

    def _unindex(self, agent: Agent) -> None:
        reason = self._closed[agent.agent_id]
        for queue in agent.queues:
            if reason is None:
                self._open.get(queue, {}).pop(agent.agent_id, None)
            else:
                self._closed_count[queue][reason] -= 1

    def open_in(self, queue: str) -> list[Agent]:
        return list(self._open.get(queue, {}).values())

    def closed_in(self, queue: str) -> Counter[str]:
        """The queue's agents closed for work, by reason."""
        return +self._closed_count.get(queue, Counter())

    def with_room(self, queue: str, channel: Channel) -> set[str]:
        """The open agents of the queue with room for one more item of the channel (kept as offers
        fill them, so a round skips at once what nobody can take)."""
        key = (queue, channel)
        members = self._with_room.get(key)
        if members is None:
            members = self._with_room[key] = {
                agent.agent_id for agent in self.open_in(queue) if agent.room_for(channel)
            }
        return members

    def closed_because(self, agent_id: str) -> str | None:
        return self._closed.get(agent_id, "unknown")

    def ineligibility(self, agent: Agent, case: QueuedCase) -> str | None:
        return self._closed[agent.agent_id] or misfit(agent, case)


def held_for_previous(case: QueuedCase, roster: Roster) -> str | None:
    """The previous agent the case waits for: open, fitting but for room, within the tier's window."""
    previous = roster.by_id.get(case.last_agent) if case.last_agent else None
    if previous is None or roster.closed_because(previous.agent_id) is not None:
        return None
    if misfit(previous, case) != "capacity":
        return None
    if roster.now - case.waiting_since >= roster.rules.sticky_wait.get(case.tier, timedelta(0)):
        return None
    return previous.agent_id


def _weigh(case: QueuedCase, roster: Roster) -> tuple[list[Agent], Counter[str], int]:
    """The eligible agents, the others counted by the first rule they fail, and how many were looked at."""
    ineligible = roster.closed_in(case.queue)
    eligible: list[Agent] = []
    for agent in roster.open_in(case.queue):
        reason = misfit(agent, case)
        if reason is None:
            eligible.append(agent)
        else:
            ineligible[reason] += 1
    return eligible, ineligible, len(eligible) + sum(ineligible.values())


def choose_agent(case: QueuedCase, roster: Roster) -> Pick | Unserved:
    eligible, ineligible, considered = _weigh(case, roster)
    # Present: there, even if not open for new work this minute (winding down, not responding).
    present = considered - sum(count for reason, count in ineligible.items() if reason in ABSENCE_REASONS)
    previous = next((agent for agent in eligible if agent.agent_id == case.last_agent), None)
    if previous is not None:
        return Pick(
            case,
            previous,
            _decision(
                case,
                roster,
                Rule.STICKY,
                eligible=len(eligible),
                considered=considered,
                ineligible=ineligible,
            ),
        )
    if (held := held_for_previous(case, roster)) is not None:
        return Unserved(dict(ineligible), present, held_for=held)
    if not eligible:
        return Unserved(dict(ineligible), present)
    ordered = heapq.nsmallest(2, eligible, key=_preference)
    rule = _deciding_rule(ordered)
    return Pick(
        case,
        ordered[0],
        _decision(case, roster, rule, eligible=len(eligible), considered=considered, ineligible=ineligible),
    )


def choose_case(agent: Agent, backlog: Backlog, roster: Roster) -> Pick | None:
    """The best waiting case this agent may take (it just got room, came on shift or became available)."""
    if roster.closed_because(agent.agent_id) is not None:
        return None

    def takes(case: QueuedCase) -> bool:
        if misfit(agent, case) is not None:
            return False
        held = held_for_previous(case, roster)
        return held is None or held == agent.agent_id

    room = [channel for channel in agent.channels if agent.room_for(channel)]
    case = backlog.best(takes, roster.now, agent.queues, room)
    if case is None:
        return None
    rule = Rule.STICKY if case.last_agent == agent.agent_id else Rule.NEXT_FREE
    eligible, ineligible, considered = _weigh(case, roster)
    return Pick(
        case,
        agent,
        _decision(case, roster, rule, eligible=len(eligible), considered=considered, ineligible=ineligible),
    )


def plan_round(roster: Roster, backlog: Backlog) -> list[Pick]:
    """Offer waiting cases best-ranked first, each to its best eligible agent, until no agent has room.
    The roster and backlog are updated as if the offers were made."""
    picks: list[Pick] = []
    for case in backlog.ranked(roster.now):
        candidates = roster.with_room(case.queue, case.channel)
        if not any(misfit(roster.by_id[agent_id], case) is None for agent_id in candidates):
            continue  # nobody could take it: no need to weigh every agent of the queue
        outcome = choose_agent(case, roster)
        if isinstance(outcome, Pick):
            picks.append(outcome)
            offered_case, offered_agent = make_offer(outcome, roster.rules)
            roster.put(offered_agent)
            backlog.remove(offered_case.case_id)
    return picks


def offer_id(case: QueuedCase) -> str:
    """Deterministic, so two routers racing for the same case name the same offer."""
    return f"{case.case_id}.{case.offers_made + 1}"


def make_offer(pick: Pick, rules: RoutingRules) -> tuple[QueuedCase, Agent]:
    """The case and the agent once the offer is made: the agent's capacity is held until it is settled."""
    case, agent, now = pick.case, pick.agent, pick.decision.decided_at
    queue = rules.queue(case.queue)
    limit = agent.capacity.limits[case.channel]
    identifier = offer_id(case)
    expires_at = now + queue.offer_timeout
    item = WorkItem(identifier, case.case_id, case.channel, limit.cost, WorkState.OFFERED, now, expires_at)
    offered = replace(
        case,
        state=CaseState.OFFERED,
        offer_id=identifier,
        agent_id=agent.agent_id,
        offers_made=case.offers_made + 1,
        offer_expires_at=expires_at,
        decision=pick.decision,
        unserved_since=None,
    )
    return offered, replace(agent, work=(*agent.work, item))


def _preference(agent: Agent) -> tuple[float, datetime, str]:
    # Least loaded, then longest idle (never idle sorts last), then id: every router picks the same.
    return (agent.load, agent.idle_since or _NEVER_IDLE, agent.agent_id)


def _deciding_rule(ordered: list[Agent]) -> Rule:
    if len(ordered) == 1:
        return Rule.ONLY_ELIGIBLE
    first, second = _preference(ordered[0]), _preference(ordered[1])
    if first[0] != second[0]:
        return Rule.LEAST_LOADED
    if first[1] != second[1]:
        return Rule.LONGEST_IDLE
    return Rule.AGENT_ID


def _decision(
    case: QueuedCase,
    roster: Roster,
    rule: Rule,
    *,
    eligible: int,
    considered: int,
    ineligible: Counter[str],
) -> Decision:
    queue = roster.rules.queue(case.queue)
    return Decision(
        rule=rule,
        eligible=eligible,
        considered=considered,
        ineligible=dict(sorted(ineligible.items())),
        score=score(case, queue, roster.rules.weights, roster.now),
        weights=roster.rules.weights.published(),
        decided_at=roster.now,
    )
