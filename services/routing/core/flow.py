"""How a case and an agent change when something happens to an offer or a case, and what routing tells
the others about it. Each function returns the new state, or a ``Refusal`` naming why not."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from schemas.cases import CaseChange, CaseChanged, CaseStatus
from schemas.interactions import InteractionEvent
from schemas.routing import AssignmentChange, AssignmentChanged
from services.routing.core.agents import Agent, WorkState, primary_language
from services.routing.core.cases import CaseState, QueuedCase
from services.routing.core.rules import RoutingRules


@dataclass(frozen=True)
class Refusal:
    reason: str  # not_offered, not_yours, expired, not_assigned


def arrived(changed: CaseChanged, known: QueuedCase | None, rules: RoutingRules) -> QueuedCase | None:
    """The case after a ``cases.v1`` message that does not close it, or ``None`` when it changes nothing
    routing holds (a late message about a case that is done, a reopening seen already)."""
    if known is None:
        new = _new_case(changed, rules)
        # A reopening of a case routing never saw: queued like an opening, its wait starting now.
        reopening = changed.change is CaseChange.REOPENED
        return replace(new, waiting_since=changed.last_activity_at) if reopening else new
    if changed.change is CaseChange.REOPENED:
        return reopened(changed, known)
    if known.state is CaseState.DONE:
        return None
    return _refreshed(changed, known)


def reopened(changed: CaseChanged, known: QueuedCase) -> QueuedCase | None:
    """The case after a "reopened" (the customer said a closed case was not solved), or ``None``.

    A done case waits again, a fresh wait from the reopening (its boost comes with the customer's
    snapshot), for the agent who worked it first, with every agent askable again; its offers go on
    counting, so an offer id is never given twice. A reopening no newer than the close routing saw is
    late, and one no newer than the wait it started is a redelivery: both change nothing. A case that is
    still active (routing missed its close) only takes the snapshot."""
    at = changed.last_activity_at
    if known.state is not CaseState.DONE:
        return None if at <= known.waiting_since else _refreshed(changed, known)
    if known.done_at is not None and at <= known.done_at:
        return None
    worked_by = known.agent_id if known.assigned_at is not None else None
    return replace(
        _refreshed(changed, known),
        last_agent=worked_by or changed.customer.last_agent or known.last_agent,
        waiting_since=at,
        state=CaseState.WAITING,
        offer_id=None,
        agent_id=None,
        passed_over=frozenset(),
        unserved_since=None,
        offer_expires_at=None,
        assigned_at=None,
        done_at=None,
    )


def _refreshed(changed: CaseChanged, known: QueuedCase) -> QueuedCase:
    """The case with the customer's snapshot from the message."""
    view = changed.customer
    return replace(
        known,
        customer_id=changed.customer_id,
        tier=view.tier,
        predicted_value=view.predicted_lifetime_value,
        needs_recovery=view.needs_recovery,
        last_agent=known.last_agent or view.last_agent,
        language=primary_language(changed.language or view.language) or known.language,
    )


def closed_unseen(changed: CaseChanged, rules: RoutingRules) -> QueuedCase:
    """A case whose close arrives before anything else about it (it moved between customers, whose
    messages are ordered apart): kept as done, so its late "opened" cannot bring it back."""
    return replace(
        _new_case(changed, rules), state=CaseState.DONE, done_at=changed.closed_at or changed.last_activity_at
    )


def _new_case(changed: CaseChanged, rules: RoutingRules) -> QueuedCase:
    view = changed.customer
    callback = changed.contact is not None and changed.contact.step is InteractionEvent.CALLBACK_REQUESTED
    return QueuedCase(
        case_id=changed.case_id,
        customer_id=changed.customer_id,
        queue=rules.queue_for(changed.channel, callback=callback).name,
        channel=changed.channel,
        category=changed.category,
        language=primary_language(changed.language or view.language),
        tier=view.tier,
        predicted_value=view.predicted_lifetime_value,
        needs_recovery=view.needs_recovery,
        last_agent=view.last_agent,
        waiting_since=changed.opened_at,
    )


def closes(changed: CaseChanged) -> bool:
    return changed.status is CaseStatus.CLOSED or changed.change is CaseChange.CLOSED


def closed_by(changed: CaseChanged, case: QueuedCase) -> QueuedCase:
    """Done when profile closed it (not when routing got to hear it): a reopening is judged late or not
    against that, even after a backlog brought the close and the reopening together."""
    return replace(case, state=CaseState.DONE, done_at=changed.closed_at or changed.last_activity_at)


def _offered_to(case: QueuedCase, offer_id: str, agent_id: str | None) -> Refusal | None:
    if case.offer_id != offer_id or case.state not in {CaseState.OFFERED, CaseState.ASSIGNED}:
        return Refusal("not_offered")
    if agent_id is not None and case.agent_id != agent_id:
        return Refusal("not_yours")
    return None


def accepted(case: QueuedCase, offer_id: str, agent_id: str | None, now: datetime) -> QueuedCase | Refusal:
    if (refusal := _offered_to(case, offer_id, agent_id)) is not None:
        return refusal
    if case.state is CaseState.ASSIGNED:
        return case  # accepted already: a retry
    if case.offer_expires_at is not None and now >= case.offer_expires_at:
        return Refusal("expired")
    return replace(case, state=CaseState.ASSIGNED, assigned_at=now)


def requeued(case: QueuedCase, *, passed_over: bool) -> QueuedCase:
    """Back to waiting with its age kept; an agent who declined or ignored it is not asked again."""
    skipped = case.passed_over | {case.agent_id} if passed_over and case.agent_id else case.passed_over
    return replace(
        case,
        state=CaseState.WAITING,
        offer_id=None,
        agent_id=None,
        offer_expires_at=None,
        assigned_at=None,
        passed_over=frozenset(skipped),
    )


def declined(case: QueuedCase, offer_id: str, agent_id: str | None) -> QueuedCase | Refusal:
    if (refusal := _offered_to(case, offer_id, agent_id)) is not None:
        return refusal
    if case.state is not CaseState.OFFERED:
        return Refusal("accepted_already")
    return requeued(case, passed_over=True)


def completed(case: QueuedCase, offer_id: str, now: datetime) -> QueuedCase | Refusal:
    if (refusal := _offered_to(case, offer_id, None)) is not None:
        return refusal
    if case.state is not CaseState.ASSIGNED:
        return Refusal("not_assigned")
    return replace(case, state=CaseState.DONE, done_at=now)


def expired_offer(case: QueuedCase, now: datetime) -> bool:
    return (
        case.state is CaseState.OFFERED and case.offer_expires_at is not None and now >= case.offer_expires_at
    )


def released(agent: Agent, offer_id: str, now: datetime) -> Agent:
    """The agent without this work item; idle from now when it was the last one."""
    work = tuple(item for item in agent.work if item.offer_id != offer_id)
    if len(work) == len(agent.work):
        return agent
    return replace(agent, work=work, idle_since=now if not work else agent.idle_since)


def took(agent: Agent, offer_id: str) -> Agent:
    """The agent holding the offer as accepted work; accepting shows they respond."""
    work = tuple(
        replace(item, state=WorkState.ACCEPTED, expires_at=None) if item.offer_id == offer_id else item
        for item in agent.work
    )
    return replace(agent, work=work, not_responding=False)


def assignment_changed(
    case: QueuedCase, change: AssignmentChange, now: datetime, reason: str | None = None
) -> AssignmentChanged:
    """``case`` as it was when the change happened (a declined offer still names its agent)."""
    return AssignmentChanged(
        change=change,
        case_id=case.case_id,
        customer_id=case.customer_id,
        queue=case.queue,
        channel=case.channel,
        category=case.category,
        tier=case.tier,
        offer_id=case.offer_id,
        agent_id=case.agent_id,
        decision=case.decision if change is AssignmentChange.OFFERED else None,
        reason=reason,
        waiting_since=case.waiting_since,
        occurred_at=now,
    )
