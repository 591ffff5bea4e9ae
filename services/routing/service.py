"""Routing's service layer: cases from ``cases.v1``, agents' actions from the API and the clock's tick,
each turned into compare-and-set writes and assignment events.

Two routers may run at once. Neither trusts what it read: an offer first reserves capacity on a fresh copy
of the agent, re-checked for eligibility and written only if the agent's version is unchanged; then the
case moves from waiting to offered under its own version. Whoever loses a race gives back what it held.
Every event is written with the case it describes (an outbox) and published after the write; what a crash
left unpublished goes out on the next tick.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from schemas.cases import CaseChanged
from schemas.catalog import event_type_of
from schemas.envelope import Event
from schemas.routing import AssignmentChange, AssignmentChanged, QueueStats
from services.routing.agents_copy import AgentsCopy
from services.routing.core.agents import Agent, WorkState
from services.routing.core.backlog import Backlog
from services.routing.core.cases import CaseState, QueuedCase
from services.routing.core.eligibility import absence, ineligibility
from services.routing.core.flow import (
    Refusal,
    accepted,
    arrived,
    assignment_changed,
    closed_by,
    closed_unseen,
    closes,
    completed,
    declined,
    expired_offer,
    released,
    requeued,
    took,
)
from services.routing.core.pick import (
    Pick,
    Roster,
    Unserved,
    choose_agent,
    choose_case,
    make_offer,
    plan_round,
)
from services.routing.core.rules import RoutingRules, WhenNobody
from services.routing.core.stats import closed_reasons, queue_stats
from services.routing.ports import AssignmentFeed, RoutingStore, StatsFeed

SOURCE = "/routing"
_log = logging.getLogger(__name__)
# A work item whose case no longer names it is given back after this long (a router that crashed
# between reserving an agent and writing the case).
_ORPHAN_AFTER = timedelta(seconds=30)
# Every this many ticks the whole outbox is swept (scans the active cases) and done cases archived.
SWEEP_EVERY_TICKS = 30
# A case in these states holds no agent: a work item pointing at it is an orphan.
_NOT_HOLDING = frozenset({CaseState.WAITING, CaseState.DONE})


class ConflictError(RuntimeError):
    """Other writers kept winning the compare-and-set; the caller retries later."""


@dataclass(frozen=True)
class TickOutcome:
    expired: int
    requeued: int
    offered: int
    republished: int


def case_of(offer_id: str) -> str:
    """Offer ids are ``<case id>.<n>`` (URL-safe, no encoding needed in paths)."""
    return offer_id.rpartition(".")[0]


class RoutingService:
    def __init__(
        self,
        store: RoutingStore,
        feed: AssignmentFeed,
        stats_feed: StatsFeed,
        clock: Callable[[], datetime],
        *,
        rules: RoutingRules | None = None,
        attempts: int = 8,
        agents_fresh_for: float = 0.0,
    ) -> None:
        """``agents_fresh_for``: how long the planning copy of the agents serves (``AgentsCopy``)."""
        self._store = store
        self._feed = feed
        self._stats_feed = stats_feed
        self._clock = clock
        self.rules = rules or RoutingRules()
        self._attempts = attempts
        self._unpublished: set[str] = set()
        self._arrived: list[QueuedCase] = []
        self._ticks = 0
        self._agents = AgentsCopy(store, agents_fresh_for)
        # One round at a time per router: the tick and a batch planning the same cases would only race.
        self._round = asyncio.Lock()
        # Kept between rounds (refreshed, not rebuilt); plan_round marks its offers in it, and the next
        # refresh replaces those agents with what was really written.
        self._roster: Roster | None = None
        self._queue_names = frozenset(queue.name for queue in self.rules.queues)

    # ----- cases.v1

    async def handle_cases(self, changes: Sequence[CaseChanged]) -> int:
        """Apply a batch of case changes, then match their queues; returns offers made."""
        by_case: dict[str, list[CaseChanged]] = {}
        for changed in changes:
            by_case.setdefault(changed.case_id, []).append(changed)
        known = {case.case_id: case for case in await self._store.cases(by_case)}

        async def in_order(case_changes: list[CaseChanged]) -> set[str]:
            touched = set()
            for index, changed in enumerate(case_changes):
                read = known.get(changed.case_id) if index == 0 else await self._store.case(changed.case_id)
                if (queue := await self._apply(changed, read)) is not None:
                    touched.add(queue)
            return touched

        # Different cases are written concurrently; one case's changes stay in their order.
        touched = await asyncio.gather(*(in_order(case_changes) for case_changes in by_case.values()))
        queues = set().union(*touched)
        offered = await self.match(queues) if queues else 0
        # Figures for queue-stats, after the offers: never between a case and its agent.
        arrived, self._arrived = self._arrived, []
        await asyncio.gather(*(self._store.record_arrival(case) for case in arrived))
        return offered

    async def _apply(self, changed: CaseChanged, read: QueuedCase | None) -> str | None:
        """``read``: the case as last read (it is read again after a lost compare-and-set)."""
        for attempt in range(self._attempts):
            known = read if attempt == 0 else await self._store.case(changed.case_id)
            if closes(changed):
                if known is None:
                    if await self._store.save_case(closed_unseen(changed, self.rules)) is not None:
                        return None
                    continue
                if known.state is CaseState.DONE:
                    return None
                if await self._close(known, changed):
                    return known.queue
                continue
            updated = arrived(changed, known, self.rules)
            if updated is None or updated == known:
                return None
            again = known is not None and known.state is CaseState.DONE  # reopened: back to the active set
            saved = await (self._store.restore(updated) if again else self._store.save_case(updated))
            if saved is None:
                continue
            if known is None or again:
                self._arrived.append(saved)
            return saved.queue
        raise ConflictError(f"case {changed.case_id}")

    async def _close(self, case: QueuedCase, changed: CaseChanged) -> bool:
        """Profile closed the case: an offer is withdrawn, an assignment completed, capacity returned."""
        now = self._clock()
        events = []
        if case.state is CaseState.OFFERED:
            events.append(self._event(case, AssignmentChange.WITHDRAWN, now, "case_closed"))
        elif case.state is CaseState.ASSIGNED:
            events.append(self._event(case, AssignmentChange.COMPLETED, now, "case_closed"))
        done = closed_by(changed, case)
        if await self._save(done, events) is None:
            return False
        if case.agent_id and case.offer_id:
            await self._change_agent(case.agent_id, _releasing(case.offer_id or "", now))
        if case.state is CaseState.ASSIGNED and case.assigned_at is not None:
            await self._store.record_completion(done, (now - case.assigned_at).total_seconds())
        return True

    # ----- matching

    async def match(self, queues: Collection[str] | None = None) -> int:
        """One round: the best-ranked waiting cases to their best eligible agents; the queue's policy for
        what nobody can take. Returns offers made."""
        return await self._round_of(queues, plan_round)

    async def match_agent(self, agent: Agent) -> int:
        """The agent got room, came on shift or became available: the best waiting cases it may take,
        while it has room. Returns offers made."""

        def for_the_agent(roster: Roster, backlog: Backlog) -> list[Pick]:
            picks = []
            while (pick := choose_case(roster.by_id[agent.agent_id], backlog, roster)) is not None:
                offered, holding = make_offer(pick, self.rules)
                roster.put(holding)
                backlog.remove(offered.case_id)
                picks.append(pick)
            return picks

        return await self._round_of(agent.queues, for_the_agent)

    async def _round_of(
        self, queues: Collection[str] | None, plan: Callable[[Roster, Backlog], list[Pick]]
    ) -> int:
        async with self._round:
            now = self._clock()
            agents = await self._agents.current()
            waiting = [
                await self._rehome(case) if case.queue not in self._queue_names else case
                for case in await self._store.active_cases(queues, waiting_only=True)
            ]
            if self._roster is None or now < self._roster.now:
                self._roster = Roster(agents, now, self.rules)
            else:
                self._roster.refresh(agents, now)
            roster = self._roster
            backlog = Backlog(waiting, self.rules)
            by_agent: dict[str, list[Pick]] = {}
            for pick in plan(roster, backlog):
                by_agent.setdefault(pick.agent.agent_id, []).append(pick)

            async def offer_in_turn(picks: list[Pick]) -> list[tuple[str, list[Event[AssignmentChanged]]]]:
                return [made for pick in picks if (made := await self._offer(pick)) is not None]

            # Agents at once (their writes never meet), each agent's offers in turn (they share its version).
            made = await asyncio.gather(*(offer_in_turn(picks) for picks in by_agent.values()))
            offers = [offer for agent_offers in made for offer in agent_offers]
            await self._publish_many(offers)
            # The roster holds the round's offers as planned: close enough to judge what nobody can take.
            for case in backlog:
                await self._unserved(case, roster, now)
            return len(offers)

    async def _rehome(self, case: QueuedCase) -> QueuedCase:
        """A case waiting in a queue the configuration no longer has goes to its channel's queue,
        keeping its age (published as an overflow, so nobody wonders where it went)."""
        moved = replace(case, queue=self.rules.queue_for(case.channel).name, unserved_since=None)
        event = self._event(moved, AssignmentChange.OVERFLOWED, self._clock(), f"queue_removed:{case.queue}")
        saved = await self._save(moved, [event])
        return saved or moved

    async def _save_agent(self, agent: Agent) -> Agent | None:
        saved = await self._store.save_agent(agent)
        if saved is not None:
            self._agents.saw(saved)
        return saved

    async def _offer(self, pick: Pick) -> tuple[str, list[Event[AssignmentChanged]]] | None:
        """Hold the agent, then the case; the events to publish once the round's offers are made."""
        offered, holding = make_offer(pick, self.rules)
        item = holding.work[-1]
        now = pick.decision.decided_at
        # First this router's copy of the agent as last read or written (not the roster's, which holds the
        # round's planned offers): the write succeeds only while its version is still the stored one, so
        # then it was fresh and its eligibility holds (a read saved per offer). Otherwise, and after a
        # refused write, the agent as stored now.
        copy = self._agents.get(pick.agent.agent_id)
        for attempt in range(self._attempts + 1):
            from_copy = attempt == 0 and copy is not None
            fresh = copy if from_copy else await self._store.agent(pick.agent.agent_id)
            if fresh is None:
                return None
            if ineligibility(fresh, pick.case, now, self.rules) is not None:
                if from_copy:
                    continue  # the copy may be stale: the stored agent decides
                self._agents.saw(fresh)
                return None  # changed between pick and commit: the next round decides again
            if await self._save_agent(replace(fresh, work=(*fresh.work, item))) is not None:
                break
        else:
            return None
        events = [self._event(offered, AssignmentChange.OFFERED, now)]
        if await self._store.save_case(offered, events) is None:
            await self._change_agent(pick.agent.agent_id, _releasing(item.offer_id, now))
            return None
        return offered.case_id, events

    async def _unserved(self, case: QueuedCase, roster: Roster, now: datetime) -> None:
        queue = self.rules.queue(case.queue)
        if case.unserved_since is not None and (
            queue.when_nobody is WhenNobody.WAIT or now - case.unserved_since < queue.policy_after
        ):
            return
        outcome = choose_agent(case, roster)
        if not isinstance(outcome, Unserved):
            return  # an agent is free for it: the next round offers it
        if case.unserved_since is None:
            reason = _why_unserved(outcome)
            waiting = replace(case, unserved_since=now)
            await self._save(waiting, [self._event(waiting, AssignmentChange.WAITING, now, reason)])
            return
        target = self.rules.callback_queue if queue.when_nobody is WhenNobody.CALLBACK else queue.overflow_to
        if target is None or target == case.queue:
            return
        moved = replace(case, queue=target, unserved_since=None)
        change = (
            AssignmentChange.CALLBACK_OFFERED
            if queue.when_nobody is WhenNobody.CALLBACK
            else AssignmentChange.OVERFLOWED
        )
        await self._save(moved, [self._event(moved, change, now, f"from:{case.queue}")])

    # ----- the agent's answers

    async def accept(self, offer_id: str, agent_id: str | None = None) -> QueuedCase | Refusal:
        """The agent takes the offer (``agent_id``, when given, must be the one it was made to)."""
        for _ in range(self._attempts):
            now = self._clock()
            case = await self._store.case(case_of(offer_id))
            if case is None:
                return Refusal("not_offered")
            result = accepted(case, offer_id, agent_id, now)
            if isinstance(result, Refusal):
                if result.reason == "expired":
                    await self._expire(case, now)
                return result
            if result is case:
                return case
            saved = await self._save(result, [self._event(result, AssignmentChange.ACCEPTED, now)])
            if saved is not None:
                await self._change_agent(case.agent_id or "", _taking(offer_id))
                await self._store.record_answer(saved, (now - case.waiting_since).total_seconds())
                return saved
        raise ConflictError(offer_id)

    async def decline(self, offer_id: str, agent_id: str | None = None) -> QueuedCase | Refusal:
        for _ in range(self._attempts):
            now = self._clock()
            case = await self._store.case(case_of(offer_id))
            if case is None:
                return Refusal("not_offered")
            if _declined_before(case, offer_id, agent_id):
                return case  # a retry of a decline already made
            result = declined(case, offer_id, agent_id)
            if isinstance(result, Refusal):
                return result
            if await self._save(result, [self._event(case, AssignmentChange.DECLINED, now)]) is not None:
                await self._change_agent(case.agent_id or "", _releasing(offer_id, now))
                await self.match({case.queue})
                return result
        raise ConflictError(offer_id)

    async def complete(self, offer_id: str) -> QueuedCase | Refusal:
        for _ in range(self._attempts):
            now = self._clock()
            case = await self._store.case(case_of(offer_id))
            if case is None:
                return Refusal("not_offered")
            if case.state is CaseState.DONE and case.offer_id == offer_id:
                return case  # completed already: a retry
            result = completed(case, offer_id, now)
            if isinstance(result, Refusal):
                return result
            if await self._save(result, [self._event(case, AssignmentChange.COMPLETED, now)]) is not None:
                agent_id = case.agent_id or ""
                agent = await self._change_agent(agent_id, _releasing(offer_id, now))
                if case.assigned_at is not None:
                    await self._store.record_completion(result, (now - case.assigned_at).total_seconds())
                if agent is not None:
                    await self.match_agent(agent)
                return result
        raise ConflictError(offer_id)

    # ----- agents

    async def change_agent(self, agent_id: str, change: Callable[[Agent | None], Agent]) -> Agent:
        """Apply an agent's own change (profile, schedule, leave, status, heartbeat); match their queues."""
        for _ in range(self._attempts):
            current = await self._store.agent(agent_id)
            saved = await self._save_agent(change(current))
            if saved is not None:
                await self.match_agent(saved)
                return saved
        raise ConflictError(agent_id)

    async def _change_agent(self, agent_id: str, change: Callable[[Agent], Agent]) -> Agent | None:
        for _ in range(self._attempts):
            current = await self._store.agent(agent_id)
            if current is None:
                return None
            updated = change(current)
            if updated == current:
                return current
            saved = await self._save_agent(updated)
            if saved is not None:
                return saved
        raise ConflictError(agent_id)

    # ----- the clock

    async def tick(self) -> TickOutcome:
        """Expire offers nobody took, move work off agents absent past the grace, give back orphaned
        holds, publish what a crash left in the outbox, then match every queue (shifts start, leave ends
        and sticky windows close with time alone)."""
        now = self._clock()
        self._ticks += 1
        sweep = self._ticks % SWEEP_EVERY_TICKS == 1
        expired = 0
        for case in await self._store.expired_offers(now):
            if expired_offer(case, now):
                expired += await self._expire(case, now)
        moved = await self._look_after_agents(now, sweep=sweep)
        republished = await self._republish(sweep=sweep)
        offered = await self.match()
        return TickOutcome(expired, moved, offered, republished)

    async def _expire(self, case: QueuedCase, now: datetime) -> int:
        waiting = requeued(case, passed_over=True)
        if (
            await self._save(waiting, [self._event(case, AssignmentChange.EXPIRED, now, "offer_timeout")])
            is None
        ):
            return 0
        offer_id = case.offer_id or ""

        def ignored(agent: Agent) -> Agent:
            return replace(released(agent, offer_id, now), not_responding=True)

        await self._change_agent(case.agent_id or "", ignored)
        return 1

    async def _look_after_agents(self, now: datetime, *, sweep: bool) -> int:
        """Notice agents going absent or coming back; move an absent agent's offers once the grace is
        over; on a sweep, give back holds whose case no longer names them (a router that crashed between
        its two writes) and finish acceptances whose agent write was lost."""
        # The planning copy of the agents is enough to notice who needs looking after; each change
        # re-reads the agent it writes.
        agents = await self._agents.current()
        absent: dict[str, str | None] = {}
        wanted: set[str] = set()
        for agent in agents:
            reason = absent[agent.agent_id] = absence(agent, now, self.rules)
            if (reason is None) != (agent.absent_since is None):
                noticed = now if reason is not None else None
                await self._change_agent(agent.agent_id, _noticing_absence(noticed))
            grace_over = (
                agent.absent_since is not None and now - agent.absent_since >= self.rules.absent_grace
            )
            wanted |= {
                item.case_id
                for item in agent.work
                if (reason is not None and grace_over and item.state is WorkState.OFFERED)
                or (sweep and now - item.since >= _ORPHAN_AFTER)
            }
        if not wanted:
            return 0
        cases = {case.case_id: case for case in await self._store.cases(wanted)}
        moved = 0
        for agent in agents:
            reason = absent[agent.agent_id]
            for item in agent.work:
                if item.case_id not in wanted:
                    continue
                case = cases.get(item.case_id)
                if case is None or case.state in _NOT_HOLDING or case.offer_id != item.offer_id:
                    if now - item.since >= _ORPHAN_AFTER:
                        await self._change_agent(agent.agent_id, _releasing(item.offer_id, now))
                    continue
                if case.state is CaseState.ASSIGNED and item.state is WorkState.OFFERED:
                    await self._change_agent(agent.agent_id, _taking(item.offer_id))
                    continue
                grace_over = (
                    agent.absent_since is not None and now - agent.absent_since >= self.rules.absent_grace
                )
                if reason is not None and grace_over and case.state is CaseState.OFFERED:
                    moved += await self._withdraw(case, now)
        return moved

    async def _withdraw(self, case: QueuedCase, now: datetime) -> int:
        waiting = requeued(case, passed_over=False)
        if (
            await self._save(waiting, [self._event(case, AssignmentChange.WITHDRAWN, now, "agent_absent")])
            is None
        ):
            return 0
        offer_id = case.offer_id or ""
        await self._change_agent(case.agent_id or "", _releasing(offer_id, now))
        return 1

    # ----- figures

    async def stats(self, *, planning_copy: bool = False) -> list[QueueStats]:
        """Every queue's figures now (from the agents as stored, or as this router last read them: what
        the tick publishes every few seconds need not pay for reading every agent)."""
        now = self._clock()
        agents = await self._agents.current() if planning_copy else await self._store.agents()
        cases = await self._store.active_cases()
        since = now - timedelta(hours=1)
        closed = closed_reasons(agents, rules=self.rules, now=now)
        return [
            queue_stats(
                queue,
                agents,
                cases,
                await self._store.throughput(queue.name, since),
                rules=self.rules,
                now=now,
                closed=closed,
            )
            for queue in self.rules.queues
        ]

    async def publish_stats(self) -> list[QueueStats]:
        figures = await self.stats(planning_copy=True)
        await self._stats_feed.publish_stats(figures)
        return figures

    # ----- writes and events

    def _event(
        self, case: QueuedCase, change: AssignmentChange, now: datetime, reason: str | None = None
    ) -> Event[AssignmentChanged]:
        payload = assignment_changed(case, change, now, reason)
        basis = f"{case.case_id}:{change.value}:{case.offer_id or ''}:{case.version}"
        return Event[AssignmentChanged](
            id=basis,
            source=SOURCE,
            type=event_type_of(AssignmentChanged).name,
            subject=case.case_id,
            time=now,
            key=case.customer_id,
            data=payload,
        )

    async def _save(self, case: QueuedCase, events: Sequence[Event[AssignmentChanged]]) -> QueuedCase | None:
        saved = await self._store.save_case(case, events)
        if saved is None:
            return None
        published = await self._publish(case.case_id, events) if events else True
        if saved.state is CaseState.DONE and published:
            await self._store.archive(saved)  # the active set stays small; a late message still finds it
        return saved

    async def _publish(self, case_id: str, events: Sequence[Event[AssignmentChanged]]) -> bool:
        return await self._publish_many([(case_id, list(events))])

    async def _publish_many(self, batch: Sequence[tuple[str, list[Event[AssignmentChanged]]]]) -> bool:
        """One publish for the cases' events (the broker acknowledges them together), then each case's
        outbox emptied; what fails stays in the outboxes for the next tick."""
        if not batch:
            return True
        try:
            await self._feed.publish([event for _, events in batch for event in events])
        except Exception as error:  # the outbox keeps them
            _log.warning("assignment events left for the next tick: %s", type(error).__name__)
            self._unpublished.update(case_id for case_id, _ in batch)
            return False
        self._unpublished.difference_update(case_id for case_id, _ in batch)
        await asyncio.gather(
            *(self._store.published(case_id, [event.id for event in events]) for case_id, events in batch)
        )
        return True

    async def _republish(self, *, sweep: bool) -> int:
        """What this router failed to publish, each tick; everything any router left (a crash between a
        write and its publish) on a sweep, when done cases are archived too."""
        if not sweep and not self._unpublished:
            return 0
        count = 0
        for case_id, events in await self._store.unpublished(None if sweep else set(self._unpublished)):
            if await self._publish(case_id, events):
                count += len(events)
        if sweep:
            await self._store.archive_done()
        return count


def _declined_before(case: QueuedCase, offer_id: str, agent_id: str | None) -> bool:
    """An earlier offer of this case, to an agent who is not asked again (declined or ignored it)."""
    _, _, number = offer_id.rpartition(".")
    earlier = number.isdigit() and 0 < int(number) <= case.offers_made and offer_id != case.offer_id
    return earlier and (agent_id is None or agent_id in case.passed_over)


def _why_unserved(outcome: Unserved) -> str:
    if outcome.held_for is not None:
        return "waiting_for_previous_agent"
    return "no_agent_present" if outcome.present == 0 else "all_agents_busy"


def _releasing(offer_id: str, now: datetime) -> Callable[[Agent], Agent]:
    return lambda agent: released(agent, offer_id, now)


def _taking(offer_id: str) -> Callable[[Agent], Agent]:
    return lambda agent: took(agent, offer_id)


def _noticing_absence(since: datetime | None) -> Callable[[Agent], Agent]:
    return lambda agent: replace(agent, absent_since=since)
