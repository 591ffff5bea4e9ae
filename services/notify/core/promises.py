"""Promises to customers, as pure decisions: made from an estimate or a callback window, renewed when
load says they will be missed, kept or broken when the case is answered, and callbacks found at risk
while there is still time to tell the customer a new time."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from schemas.routing import QueueStats
from services.notify.core.calendar import QueueCalendar, next_opening
from services.notify.core.eta import DEFAULT_RULES, Estimate, EstimateKind, EtaRules, will_miss
from services.notify.core.records import CaseRecord, PromiseKind, PromiseRecord, PromiseState

HOUR = timedelta(hours=1)
_QUARTER = timedelta(minutes=15)


@dataclass(frozen=True)
class PromiseRules:
    max_updates: int = 3  # status updates per promise: more is noise, not honesty
    callback_lead: timedelta = timedelta(minutes=15)  # tell the customer before the window starts


DEFAULT_PROMISE_RULES = PromiseRules()


def promise_id(case_id: str, kind: PromiseKind) -> str:
    return f"{case_id}:{kind.value}"


def answer_promise(case: CaseRecord, estimate: Estimate, now: datetime) -> PromiseRecord | None:
    """The first answer, promised by the latest of the estimate; none when no time was said."""
    if estimate.latest is None:
        return None
    return PromiseRecord(
        promise_id=promise_id(case.case_id, PromiseKind.ANSWER_BY),
        case_id=case.case_id,
        customer_id=case.customer_id,
        kind=PromiseKind.ANSWER_BY,
        queue=case.queue,
        made_at=now,
        due_at=estimate.latest,
        starts_at=estimate.earliest,
    )


def callback_promise(case: CaseRecord, start: datetime, end: datetime, now: datetime) -> PromiseRecord:
    """A call back in the window the customer asked for."""
    if end <= start:
        raise ValueError("a callback window ends after it starts")
    return PromiseRecord(
        promise_id=promise_id(case.case_id, PromiseKind.CALLBACK),
        case_id=case.case_id,
        customer_id=case.customer_id,
        kind=PromiseKind.CALLBACK,
        queue=case.queue,
        made_at=now,
        due_at=end,
        starts_at=start,
    )


def supplier_promise(case: CaseRecord, due_at: datetime, now: datetime) -> PromiseRecord:
    """An agent told the customer: we wait for the supplier and will update you by ``due_at``."""
    if due_at <= now:
        raise ValueError("a promised update is due in the future")
    return PromiseRecord(
        promise_id=promise_id(case.case_id, PromiseKind.SUPPLIER_UPDATE),
        case_id=case.case_id,
        customer_id=case.customer_id,
        kind=PromiseKind.SUPPLIER_UPDATE,
        queue=case.queue,
        made_at=now,
        due_at=due_at,
        starts_at=now,
    )


def supplier_update_due(
    promise: PromiseRecord, now: datetime, rules: PromiseRules = DEFAULT_PROMISE_RULES
) -> bool:
    """An open supplier promise whose time came while we still wait: the customer hears so (at most
    ``max_updates`` times)."""
    return (
        promise.kind is PromiseKind.SUPPLIER_UPDATE
        and promise.state is PromiseState.OPEN
        and now >= promise.due_at
        and promise.updates < rules.max_updates
    )


def next_supplier_update(promise: PromiseRecord, now: datetime) -> datetime:
    """The next update is promised as far ahead as the last one was (at least an hour)."""
    return now + max(promise.due_at - promise.made_at, HOUR)


def as_estimate(promise: PromiseRecord, time_zone: str) -> Estimate:
    """The promise as the estimate it was made from (what ``will_miss`` compares)."""
    earliest = max(promise.made_at, promise.starts_at or promise.made_at)
    return Estimate(
        EstimateKind.WITHIN, promise.made_at, time_zone, min(earliest, promise.due_at), promise.due_at
    )


def needs_update(
    promise: PromiseRecord,
    current: Estimate,
    now: datetime,
    *,
    time_zone: str,
    rules: PromiseRules = DEFAULT_PROMISE_RULES,
    eta_rules: EtaRules = DEFAULT_RULES,
) -> bool:
    """Whether an open answer-by promise will be missed by more than the margin, so the customer gets
    the new time (at most ``max_updates`` times)."""
    if promise.kind is not PromiseKind.ANSWER_BY or promise.state is not PromiseState.OPEN:
        return False
    if promise.updates >= rules.max_updates:
        return False
    return will_miss(as_estimate(promise, time_zone), current, now, eta_rules)


def renewed(promise: PromiseRecord, current: Estimate, now: datetime) -> PromiseRecord:
    """The promise moved to the new estimate the customer is being told."""
    if current.latest is None:
        # Nothing honest to promise: the promise stays due when it was, and counts as updated.
        return replace(promise, updates=promise.updates + 1)
    return replace(
        promise, made_at=now, due_at=current.latest, starts_at=current.earliest, updates=promise.updates + 1
    )


def rescheduled(promise: PromiseRecord, start: datetime, end: datetime, now: datetime) -> PromiseRecord:
    return replace(promise, made_at=now, starts_at=start, due_at=end, updates=promise.updates + 1)


def settled(promise: PromiseRecord, at: datetime) -> PromiseRecord:
    """Answered at ``at``: kept when in time, broken when late. A settled promise stays as it was."""
    if promise.state is not PromiseState.OPEN:
        return promise
    state = PromiseState.KEPT if at <= promise.due_at else PromiseState.BROKEN
    return replace(promise, state=state, settled_at=at)


def cancelled(promise: PromiseRecord, at: datetime) -> PromiseRecord:
    """The case closed without needing the answer (spam, a duplicate, nothing to answer)."""
    if promise.state is not PromiseState.OPEN:
        return promise
    return replace(promise, state=PromiseState.CANCELLED, settled_at=at)


def callback_new_window(
    promise: PromiseRecord,
    stats: QueueStats | None,
    calendar: QueueCalendar,
    now: datetime,
    rules: PromiseRules = DEFAULT_PROMISE_RULES,
) -> tuple[datetime, datetime] | None:
    """A new window when an open callback cannot happen as agreed, else None.

    It cannot when its window starts within the lead time (or has started) and nobody of the callback
    queue is there now nor scheduled in any hour of the window, or when the window has passed. The new
    window has the same length and starts at the first hour someone is scheduled, else at the queue's next
    opening after the old window, on a quarter hour."""
    if promise.kind is not PromiseKind.CALLBACK or promise.state is not PromiseState.OPEN:
        return None
    start = promise.starts_at or promise.made_at
    length = promise.due_at - start
    if now < start - rules.callback_lead:
        return None
    passed = now >= promise.due_at
    if not passed and _staffed(stats, start, promise.due_at, now):
        return None
    begin = max(now, promise.due_at if passed else start)
    candidate = _first_scheduled(stats, begin) or next_opening(calendar, begin)
    if candidate is None:
        return None
    new_start = _ceil_quarter(max(candidate, now + rules.callback_lead))
    return new_start, new_start + length


def _staffed(stats: QueueStats | None, start: datetime, end: datetime, now: datetime) -> bool:
    if stats is None:
        return False
    if stats.agents_present_now > 0 and now >= start - HOUR:
        return True
    return any(
        hour.agents_scheduled > 0 and hour.hour_start < end and hour.hour_start + HOUR > start
        for hour in stats.scheduled
    )


def _first_scheduled(stats: QueueStats | None, after: datetime) -> datetime | None:
    if stats is None:
        return None
    starts = [
        max(hour.hour_start, after)
        for hour in stats.scheduled
        if hour.agents_scheduled > 0 and hour.hour_start + HOUR > after
    ]
    return min(starts, default=None)


def _ceil_quarter(instant: datetime) -> datetime:
    floored = instant.replace(minute=instant.minute // 15 * 15, second=0, microsecond=0)
    return floored if floored == instant else floored + _QUARTER
