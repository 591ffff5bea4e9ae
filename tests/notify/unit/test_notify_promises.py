"""Promises as pure decisions: made, renewed when they will be missed, settled, and callbacks moved."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from schemas.cases import CaseCategory, CaseStatus
from schemas.interactions import Channel
from schemas.routing import HourForecast, QueueStats
from services.notify.core.calendar import OpeningHours, QueueCalendar
from services.notify.core.eta import Estimate, EstimateKind
from services.notify.core.promises import (
    PromiseRules,
    answer_promise,
    callback_new_window,
    callback_promise,
    cancelled,
    needs_update,
    next_supplier_update,
    renewed,
    settled,
    supplier_promise,
    supplier_update_due,
)
from services.notify.core.records import CaseRecord, PromiseKind, PromiseState

NOW = datetime(2026, 1, 14, 10, 0, tzinfo=UTC)  # a Wednesday, 11:00 in Oslo
CASE = CaseRecord(
    case_id="case-1",
    customer_id="kari",
    queue="email",
    channel=Channel.EMAIL,
    category=CaseCategory.SHIPPING,
    status=CaseStatus.OPEN,
    opened_at=NOW,
)
OFFICE = QueueCalendar("Europe/Oslo", OpeningHours.weekly({d: [("08:00", "16:00")] for d in range(5)}), "NO")


def within(hours_low: float, hours_high: float, at: datetime = NOW) -> Estimate:
    return Estimate(
        EstimateKind.WITHIN,
        at,
        "Europe/Oslo",
        at + timedelta(hours=hours_low),
        at + timedelta(hours=hours_high),
    )


def figures(*, present: int = 0, scheduled: dict[datetime, int] | None = None) -> QueueStats:
    return QueueStats(
        queue="callback",
        backlog=1,
        offered=0,
        oldest_wait_seconds=0,
        arrivals_last_hour=0,
        completions_last_hour=0,
        agents_eligible_now=present,
        agents_present_now=present,
        scheduled=[HourForecast(hour_start=h, agents_scheduled=n) for h, n in (scheduled or {}).items()],
        sla_seconds=1800,
        as_of=NOW,
    )


def test_an_answer_promise_is_due_at_the_latest_said() -> None:
    promise = answer_promise(CASE, within(1, 3), NOW)
    assert promise is not None
    assert promise.kind is PromiseKind.ANSWER_BY
    assert (promise.starts_at, promise.due_at) == (NOW + timedelta(hours=1), NOW + timedelta(hours=3))
    assert promise.promise_id == "case-1:answer_by"


def test_no_time_said_is_no_promise() -> None:
    assert answer_promise(CASE, Estimate(EstimateKind.UNKNOWN, NOW, "Europe/Oslo"), NOW) is None


def test_a_promise_that_will_be_missed_by_more_than_the_margin_needs_an_update() -> None:
    promise = answer_promise(CASE, within(1, 3), NOW)
    assert promise is not None
    later = NOW + timedelta(minutes=30)
    assert not needs_update(promise, within(1, 3.2, later), later, time_zone="Europe/Oslo")  # a small slip
    assert needs_update(promise, within(4, 8, later), later, time_zone="Europe/Oslo")
    past_due = NOW + timedelta(hours=3, minutes=1)
    assert needs_update(promise, within(0, 1, past_due), past_due, time_zone="Europe/Oslo")


def test_updates_stop_after_the_maximum_and_for_settled_promises() -> None:
    promise = answer_promise(CASE, within(1, 3), NOW)
    assert promise is not None
    later = NOW + timedelta(minutes=30)
    tired = replace(promise, updates=3)
    assert not needs_update(tired, within(4, 8, later), later, time_zone="Europe/Oslo", rules=PromiseRules())
    kept = settled(promise, NOW + timedelta(hours=1))
    assert not needs_update(kept, within(4, 8, later), later, time_zone="Europe/Oslo")


def test_a_renewed_promise_moves_to_the_new_time_and_counts_the_update() -> None:
    promise = answer_promise(CASE, within(1, 3), NOW)
    assert promise is not None
    later = NOW + timedelta(minutes=30)
    moved = renewed(promise, within(4, 8, later), later)
    assert moved.due_at == later + timedelta(hours=8)
    assert moved.updates == 1
    assert moved.made_at == later
    unknown = renewed(promise, Estimate(EstimateKind.UNKNOWN, later, "Europe/Oslo"), later)
    assert unknown.due_at == promise.due_at
    assert unknown.updates == 1


@pytest.mark.parametrize(
    ("answered_after", "state"),
    [(timedelta(hours=2), PromiseState.KEPT), (timedelta(hours=4), PromiseState.BROKEN)],
)
def test_an_answer_keeps_or_breaks_the_promise_once(answered_after: timedelta, state: PromiseState) -> None:
    promise = answer_promise(CASE, within(1, 3), NOW)
    assert promise is not None
    done = settled(promise, NOW + answered_after)
    assert done.state is state
    assert settled(done, NOW + timedelta(hours=1)) == done  # settled once
    assert cancelled(done, NOW) == done


def test_a_case_closed_without_an_answer_cancels_the_promise() -> None:
    promise = answer_promise(CASE, within(1, 3), NOW)
    assert promise is not None
    assert cancelled(promise, NOW).state is PromiseState.CANCELLED


def test_a_callback_window_must_end_after_it_starts() -> None:
    with pytest.raises(ValueError, match="ends after"):
        callback_promise(CASE, NOW, NOW, NOW)


def test_a_staffed_callback_or_one_far_ahead_stays_as_agreed() -> None:
    promise = callback_promise(CASE, NOW + timedelta(minutes=30), NOW + timedelta(hours=1), NOW)
    hour = NOW.replace(minute=0)
    assert callback_new_window(promise, figures(scheduled={hour: 1}), OFFICE, NOW) is None
    assert callback_new_window(promise, figures(present=1), OFFICE, NOW) is None
    early = callback_promise(CASE, NOW + timedelta(hours=2), NOW + timedelta(hours=3), NOW)
    assert callback_new_window(early, figures(), OFFICE, NOW) is None  # not within the lead time yet


def test_a_callback_nobody_can_make_moves_to_the_first_staffed_hour_keeping_its_length() -> None:
    promise = callback_promise(CASE, NOW + timedelta(minutes=10), NOW + timedelta(minutes=40), NOW)
    staffed = NOW + timedelta(hours=3)
    window = callback_new_window(promise, figures(scheduled={staffed: 2}), OFFICE, NOW)
    assert window == (staffed, staffed + timedelta(minutes=30))


def test_a_callback_with_no_one_scheduled_moves_to_the_next_opening_after_its_window() -> None:
    late = datetime(2026, 1, 14, 14, 55, tzinfo=UTC)  # 15:55 in Oslo, closing at 16:00
    promise = callback_promise(CASE, late + timedelta(minutes=5), late + timedelta(minutes=35), late)
    window = callback_new_window(promise, figures(), OFFICE, late)
    assert window is not None
    assert window[0] == datetime(2026, 1, 15, 7, 0, tzinfo=UTC)  # Thursday 08:00 in Oslo
    assert window[1] - window[0] == timedelta(minutes=30)


def test_a_passed_callback_window_is_moved_even_when_staffed_now() -> None:
    promise = callback_promise(
        CASE, NOW - timedelta(hours=1), NOW - timedelta(minutes=30), NOW - timedelta(hours=2)
    )
    window = callback_new_window(promise, figures(present=2), OFFICE, NOW)
    assert window is not None
    assert window[0] >= NOW + PromiseRules().callback_lead
    assert window[0].minute % 15 == 0


def test_a_supplier_update_is_due_when_its_time_comes_and_the_next_is_as_far_ahead() -> None:
    promise = supplier_promise(CASE, NOW + timedelta(hours=4), NOW)
    assert promise.kind is PromiseKind.SUPPLIER_UPDATE
    assert not supplier_update_due(promise, NOW + timedelta(hours=3))
    assert supplier_update_due(promise, NOW + timedelta(hours=4))
    assert next_supplier_update(promise, NOW + timedelta(hours=4)) == NOW + timedelta(hours=8)
    short = supplier_promise(CASE, NOW + timedelta(minutes=10), NOW)
    assert next_supplier_update(short, NOW + timedelta(minutes=10)) == NOW + timedelta(minutes=70)


def test_supplier_updates_stop_when_kept_or_after_the_maximum() -> None:
    promise = supplier_promise(CASE, NOW + timedelta(hours=1), NOW)
    later = NOW + timedelta(hours=2)
    assert not supplier_update_due(settled(promise, NOW), later)
    assert not supplier_update_due(replace(promise, updates=3), later)


def test_a_supplier_update_is_promised_for_the_future() -> None:
    with pytest.raises(ValueError, match="future"):
        supplier_promise(CASE, NOW, NOW)
