"""The expected answer time: throughput and its fallbacks, placement onto the calendar over weekends,
holidays, split and overnight hours and DST, the rounding to what a person would say, the live-queue
estimate, and when a given estimate will be missed; with a controlled clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.routing import HourForecast, QueueStats
from services.notify.core.calendar import (
    Closure,
    Country,
    Opening,
    OpeningHours,
    QueueCalendar,
    is_open,
    next_opening,
)
from services.notify.core.eta import (
    Estimate,
    EstimateKind,
    EtaRules,
    ceil_to,
    ceil_to_hour,
    estimate,
    floor_to,
    floor_to_hour,
    per_open_hour,
    relative_step,
    round_estimate,
    will_miss,
    work_ahead,
)

OSLO = ZoneInfo("Europe/Oslo")
WEEKDAYS = range(5)
SATURDAY = 5
MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)
modest = settings(max_examples=150, deadline=None)


def oslo(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock time in Oslo, as the UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=OSLO).astimezone(UTC)


def office(
    country: Country | None = "NO",
    zone: str = "Europe/Oslo",
    closures: tuple[Closure, ...] = (),
    hours: tuple[str, str] = ("08:00", "16:00"),
) -> QueueCalendar:
    return QueueCalendar(zone, OpeningHours.weekly({day: [hours] for day in WEEKDAYS}), country, closures)


OFFICE = office()


def stats(
    now: datetime,
    *,
    backlog: int = 0,
    completions: int = 0,
    handle: float | None = None,
    eligible: int = 0,
    present: int = 0,
    scheduled: tuple[tuple[datetime, int], ...] = (),
) -> QueueStats:
    return QueueStats(
        queue="email",
        backlog=backlog,
        offered=0,
        oldest_wait_seconds=0.0,
        arrivals_last_hour=0,
        completions_last_hour=completions,
        mean_handle_seconds=handle,
        agents_eligible_now=eligible,
        agents_present_now=present,
        scheduled=[HourForecast(hour_start=start, agents_scheduled=agents) for start, agents in scheduled],
        sla_seconds=3600.0,
        as_of=now,
    )


def ends(result: Estimate) -> tuple[datetime | None, datetime | None]:
    return result.earliest, result.latest


# --- closed now: the next opening, over weekends and holidays -------------------------------------------
# Two emails and nothing observed: the default four an hour makes 30 minutes of work, said as a range
# from 15 to 45 minutes after opening, rounded out to the opening and the next whole hour.


def test_a_friday_evening_email_is_answered_monday_after_opening() -> None:
    now = oslo(2026, 1, 16, 19, 30)

    result = estimate(stats(now, backlog=2), OFFICE, now)

    assert result.kind is EstimateKind.AFTER_OPENING
    assert ends(result) == (oslo(2026, 1, 19, 8), oslo(2026, 1, 19, 9))
    assert result.as_of == now
    assert result.time_zone == "Europe/Oslo"


def test_a_thursday_evening_email_is_answered_tomorrow_after_opening() -> None:
    now = oslo(2026, 1, 15, 21)

    assert ends(estimate(stats(now, backlog=2), OFFICE, now)) == (oslo(2026, 1, 16, 8), oslo(2026, 1, 16, 9))


def test_easter_holds_an_email_until_the_tuesday_after_easter_monday() -> None:
    now = oslo(2026, 4, 1, 17)

    assert ends(estimate(stats(now, backlog=2), OFFICE, now)) == (oslo(2026, 4, 7, 8), oslo(2026, 4, 7, 9))


def test_christmas_with_the_eve_closed_holds_an_email_until_the_monday_after() -> None:
    now = oslo(2026, 12, 23, 18)
    closed_eve = office(closures=(Closure.on_day(date(2026, 12, 24), "julaften"),))

    assert ends(estimate(stats(now, backlog=2), closed_eve, now)) == (
        oslo(2026, 12, 28, 8),
        oslo(2026, 12, 28, 9),
    )
    assert ends(estimate(stats(now, backlog=2), OFFICE, now)) == (
        oslo(2026, 12, 24, 8),
        oslo(2026, 12, 24, 9),
    )


def test_swedish_midsummer_eve_holds_an_email_until_monday() -> None:
    now = oslo(2026, 6, 18, 17)
    swedish = office("SE", "Europe/Stockholm")

    assert ends(estimate(stats(now, backlog=2), swedish, now)) == (oslo(2026, 6, 22, 8), oslo(2026, 6, 22, 9))


def test_danish_constitution_day_holds_an_email_until_monday() -> None:
    now = oslo(2026, 6, 4, 17)
    danish = office("DK", "Europe/Copenhagen")

    assert ends(estimate(stats(now, backlog=2), danish, now)) == (oslo(2026, 6, 8, 8), oslo(2026, 6, 8, 9))


def test_the_earliest_is_anchored_to_an_opening_that_is_not_on_the_hour() -> None:
    now = oslo(2026, 1, 16, 19)
    half_past = office(hours=("08:30", "16:00"))

    assert ends(estimate(stats(now, backlog=2), half_past, now)) == (
        oslo(2026, 1, 19, 8, 30),
        oslo(2026, 1, 19, 10),
    )


def test_a_monday_morning_after_the_spring_switch_is_an_hour_earlier_in_utc() -> None:
    now = oslo(2026, 3, 27, 19)  # Friday; the clocks go forward on Sunday

    result = estimate(stats(now, backlog=2), OFFICE, now)

    assert ends(result) == (datetime(2026, 3, 30, 6, tzinfo=UTC), datetime(2026, 3, 30, 7, tzinfo=UTC))


# --- open now: within a relative range, or by a day and clock time --------------------------------------

WEDNESDAY_MORNING = oslo(2026, 1, 14, 10, 7)


def test_twelve_emails_at_six_an_hour_are_within_about_one_to_three_hours() -> None:
    result = estimate(stats(WEDNESDAY_MORNING, backlog=12, completions=6), OFFICE, WEDNESDAY_MORNING)

    assert result.kind is EstimateKind.WITHIN
    assert ends(result) == (WEDNESDAY_MORNING + HOUR, WEDNESDAY_MORNING + 3 * HOUR)


def test_a_short_wait_is_said_in_quarter_hours() -> None:
    # One email at six an hour: 5 to 35 minutes (the minimum span), said as within 45 minutes.
    result = estimate(stats(WEDNESDAY_MORNING, backlog=1, completions=6), OFFICE, WEDNESDAY_MORNING)

    assert result.kind is EstimateKind.WITHIN
    assert ends(result) == (WEDNESDAY_MORNING, WEDNESDAY_MORNING + 45 * MINUTE)


def test_a_position_in_the_queue_counts_instead_of_the_backlog() -> None:
    queue = stats(WEDNESDAY_MORNING, backlog=40, completions=6)

    assert estimate(queue, OFFICE, WEDNESDAY_MORNING, position=12) == estimate(
        stats(WEDNESDAY_MORNING, backlog=12, completions=6), OFFICE, WEDNESDAY_MORNING
    )
    with pytest.raises(ValueError, match="from 1"):
        estimate(queue, OFFICE, WEDNESDAY_MORNING, position=0)


def test_a_range_running_past_closing_is_by_a_clock_time_tomorrow() -> None:
    # Three hours of work at 14:00: from 15:30 today to 10:30 tomorrow, said as by 11:00 tomorrow.
    now = oslo(2026, 1, 14, 14)

    result = estimate(stats(now, backlog=18, completions=6), OFFICE, now)

    assert result.kind is EstimateKind.BY
    assert ends(result) == (oslo(2026, 1, 14, 15), oslo(2026, 1, 15, 11))


def test_work_that_cannot_start_before_closing_is_after_tomorrows_opening_though_open_now() -> None:
    now = oslo(2026, 1, 14, 15, 30)

    result = estimate(stats(now, backlog=12, completions=6), OFFICE, now)

    assert result.kind is EstimateKind.AFTER_OPENING
    assert ends(result) == (oslo(2026, 1, 15, 8), oslo(2026, 1, 15, 11))


def test_a_relative_range_that_would_reach_past_closing_is_by_the_closing_time() -> None:
    # One email at six an hour, ten minutes before closing: 5 to 35 minutes would read as "within 45
    # minutes", past the 16:00 closing; the earliest is before closing, so it is by a clock time instead.
    now = oslo(2026, 1, 14, 15, 50)

    result = estimate(stats(now, backlog=1, completions=6), OFFICE, now)

    assert result.kind is EstimateKind.BY
    assert ends(result) == (now + 5 * MINUTE, oslo(2026, 1, 15, 9))


def test_a_long_wait_in_a_queue_that_never_closes_is_by_a_clock_time() -> None:
    always = QueueCalendar(
        "Europe/Oslo", OpeningHours(tuple(Opening(day, time(0), time(0)) for day in range(7)))
    )
    now = oslo(2026, 1, 14, 10, 7)

    result = estimate(stats(now, backlog=60, completions=6), always, now)  # 5 to 15 hours

    assert result.kind is EstimateKind.BY
    assert ends(result) == (now + 5 * HOUR, oslo(2026, 1, 15, 2))


def test_split_hours_push_the_range_past_lunch() -> None:
    split = QueueCalendar(
        "Europe/Oslo",
        OpeningHours.weekly({day: [("08:00", "11:00"), ("12:00", "16:00")] for day in WEEKDAYS}),
        "NO",
    )
    now = oslo(2026, 1, 14, 10)

    result = estimate(stats(now, backlog=12, completions=6), split, now)  # 1 to 3 hours of open time

    assert result.kind is EstimateKind.BY  # the range runs past the lunch break
    assert ends(result) == (oslo(2026, 1, 14, 11), oslo(2026, 1, 14, 14))


def test_an_overnight_queue_counts_real_hours_across_the_spring_switch() -> None:
    nights = QueueCalendar("Europe/Oslo", OpeningHours.weekly({SATURDAY: [("22:00", "06:00")]}))
    now = oslo(2026, 3, 28, 23)  # 22:00 UTC; at 02:00 the clocks jump to 03:00

    result = estimate(stats(now, backlog=4, completions=1), nights, now)  # 2 to 6 hours

    assert result.kind is EstimateKind.WITHIN
    assert ends(result) == (now + 2 * HOUR, now + 6 * HOUR)
    assert result.latest == oslo(2026, 3, 29, 6)  # six real hours is 06:00 summer time, at closing


# --- nothing open within the horizon --------------------------------------------------------------------


def test_a_closure_longer_than_the_horizon_is_unknown() -> None:
    renovation = Closure.between(oslo(2026, 2, 1), oslo(2026, 4, 1), "renovation")
    now = oslo(2026, 2, 2, 10)

    result = estimate(stats(now, backlog=2), office(closures=(renovation,)), now)

    assert result == Estimate(EstimateKind.UNKNOWN, now, "Europe/Oslo")


def test_more_work_than_the_horizon_holds_is_unknown() -> None:
    result = estimate(stats(WEDNESDAY_MORNING, backlog=5000, completions=1), OFFICE, WEDNESDAY_MORNING)

    assert result.kind is EstimateKind.UNKNOWN
    assert ends(result) == (None, None)


# --- throughput and its fallbacks -----------------------------------------------------------------------


def test_observed_completions_come_first() -> None:
    assert (
        per_open_hour(
            stats(WEDNESDAY_MORNING, completions=9, present=3, handle=600),
            WEDNESDAY_MORNING,
            WEDNESDAY_MORNING,
        )
        == 9
    )


def test_without_completions_the_agents_there_clear_an_hour_divided_by_handle_time() -> None:
    queue = stats(WEDNESDAY_MORNING, present=3, eligible=1, handle=600)

    assert per_open_hour(queue, WEDNESDAY_MORNING, WEDNESDAY_MORNING) == 18


def test_when_closed_the_agents_scheduled_for_the_opening_hour_count() -> None:
    now = oslo(2026, 1, 15, 20)
    opening = oslo(2026, 1, 16, 8)
    queue = stats(now, present=2, handle=900, scheduled=((opening - HOUR, 9), (opening, 3)))

    assert per_open_hour(queue, opening, now) == 12  # three agents at 900 s, not the two there now
    # 24 emails at 12 an hour: 1 to 3 hours after opening.
    assert ends(estimate(stats(now, backlog=24, handle=900, scheduled=((opening, 3),)), OFFICE, now)) == (
        oslo(2026, 1, 16, 9),
        oslo(2026, 1, 16, 11),
    )


def test_without_anything_observed_the_default_applies() -> None:
    assert per_open_hour(stats(WEDNESDAY_MORNING), WEDNESDAY_MORNING, WEDNESDAY_MORNING) == 4.0
    assert (
        per_open_hour(
            stats(WEDNESDAY_MORNING), WEDNESDAY_MORNING, WEDNESDAY_MORNING, EtaRules(default_per_hour=10)
        )
        == 10
    )
    assert work_ahead(stats(WEDNESDAY_MORNING, backlog=8), WEDNESDAY_MORNING, WEDNESDAY_MORNING) == 2 * HOUR


def test_an_unobserved_handle_time_falls_back_to_the_default() -> None:
    queue = stats(WEDNESDAY_MORNING, present=2)

    assert per_open_hour(queue, WEDNESDAY_MORNING, WEDNESDAY_MORNING) == 2 * 3600 / (8 * 60)


# --- live queues ----------------------------------------------------------------------------------------


def test_a_chat_with_a_free_agent_is_within_five_minutes() -> None:
    queue = stats(WEDNESDAY_MORNING, backlog=1, present=2, eligible=1, handle=300)

    result = estimate(queue, OFFICE, WEDNESDAY_MORNING, live=True)

    assert result.kind is EstimateKind.WITHIN
    assert ends(result) == (WEDNESDAY_MORNING, WEDNESDAY_MORNING + 5 * MINUTE)


def test_a_chat_waits_for_agents_to_finish_in_five_minute_steps() -> None:
    # Fifth in line, two busy agents at 300 s: 750 s of waiting, 375 to 1125 s, said as 5 to 20 minutes.
    queue = stats(WEDNESDAY_MORNING, backlog=7, present=2, handle=300)

    assert work_ahead(queue, WEDNESDAY_MORNING, WEDNESDAY_MORNING, position=5, live=True) == timedelta(
        seconds=750
    )
    assert ends(estimate(queue, OFFICE, WEDNESDAY_MORNING, position=5, live=True)) == (
        WEDNESDAY_MORNING + 5 * MINUTE,
        WEDNESDAY_MORNING + 20 * MINUTE,
    )


def test_a_live_queue_with_nobody_there_falls_back_to_throughput() -> None:
    queue = stats(WEDNESDAY_MORNING, backlog=2, completions=6)

    assert work_ahead(queue, WEDNESDAY_MORNING, WEDNESDAY_MORNING, live=True) == 20 * MINUTE


def test_a_chat_after_closing_waits_for_the_opening() -> None:
    now = oslo(2026, 1, 16, 17)

    result = estimate(stats(now, backlog=3, handle=300), OFFICE, now, live=True)

    assert result.kind is EstimateKind.AFTER_OPENING
    assert result.earliest == oslo(2026, 1, 19, 8)


# --- rounding -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ahead", "step"),
    [
        (timedelta(0), 5 * MINUTE),
        (30 * MINUTE, 5 * MINUTE),
        (31 * MINUTE, 15 * MINUTE),
        (HOUR, 15 * MINUTE),
        (HOUR + MINUTE, HOUR),
        (20 * HOUR, HOUR),
    ],
)
def test_relative_steps(ahead: timedelta, step: timedelta) -> None:
    assert relative_step(ahead) == step


def test_floor_and_ceil_to_a_step() -> None:
    assert floor_to(timedelta(minutes=23), 5 * MINUTE) == 20 * MINUTE
    assert ceil_to(timedelta(minutes=23), 5 * MINUTE) == 25 * MINUTE
    assert ceil_to(timedelta(minutes=25), 5 * MINUTE) == 25 * MINUTE
    assert floor_to(timedelta(hours=2, seconds=1), HOUR) == 2 * HOUR
    assert ceil_to(timedelta(hours=2, seconds=1), HOUR) == 3 * HOUR


def test_whole_hours_are_local_and_stay_inside_the_opening() -> None:
    early_close = office(hours=("08:30", "15:45"))

    assert floor_to_hour(early_close, oslo(2026, 1, 14, 8, 40)) == oslo(2026, 1, 14, 8, 30)
    assert floor_to_hour(early_close, oslo(2026, 1, 14, 9, 40)) == oslo(2026, 1, 14, 9)
    assert ceil_to_hour(early_close, oslo(2026, 1, 14, 15, 20)) == oslo(2026, 1, 14, 15, 45)
    assert ceil_to_hour(early_close, oslo(2026, 1, 14, 14, 20)) == oslo(2026, 1, 14, 15)
    assert ceil_to_hour(early_close, oslo(2026, 1, 14, 14)) == oslo(2026, 1, 14, 14)
    # Kolkata is UTC+05:30: its whole hours are half past in UTC.
    kolkata = office(None, "Asia/Kolkata")
    assert ceil_to_hour(kolkata, datetime(2026, 1, 14, 5, 10, tzinfo=UTC)) == datetime(
        2026, 1, 14, 5, 30, tzinfo=UTC
    )


def test_a_range_ending_on_a_step_gets_one_step_of_room() -> None:
    result = round_estimate(OFFICE, WEDNESDAY_MORNING, WEDNESDAY_MORNING, WEDNESDAY_MORNING)

    assert ends(result) == (WEDNESDAY_MORNING, WEDNESDAY_MORNING + 5 * MINUTE)


def test_a_range_must_run_forward_from_now() -> None:
    with pytest.raises(ValueError, match="forward"):
        round_estimate(OFFICE, WEDNESDAY_MORNING, WEDNESDAY_MORNING - MINUTE, WEDNESDAY_MORNING)
    with pytest.raises(ValueError, match="forward"):
        Estimate(EstimateKind.WITHIN, WEDNESDAY_MORNING, "UTC", WEDNESDAY_MORNING + HOUR, WEDNESDAY_MORNING)
    with pytest.raises(ValueError, match="UNKNOWN"):
        Estimate(EstimateKind.UNKNOWN, WEDNESDAY_MORNING, "UTC", WEDNESDAY_MORNING, WEDNESDAY_MORNING)
    with pytest.raises(ValueError, match="UNKNOWN"):
        Estimate(EstimateKind.WITHIN, WEDNESDAY_MORNING, "UTC")
    with pytest.raises(ValueError, match="low <= 1 <= high"):
        EtaRules(low=1.2)


# --- a given estimate will be missed --------------------------------------------------------------------

PROMISED = Estimate(
    EstimateKind.WITHIN,
    WEDNESDAY_MORNING,
    "Europe/Oslo",
    WEDNESDAY_MORNING + HOUR,
    WEDNESDAY_MORNING + 3 * HOUR,
)


def later(by: timedelta) -> Estimate:
    assert PROMISED.earliest is not None
    assert PROMISED.latest is not None
    return Estimate(
        EstimateKind.BY, WEDNESDAY_MORNING + HOUR, "Europe/Oslo", PROMISED.earliest + by, PROMISED.latest + by
    )


def test_an_unchanged_estimate_is_not_missed() -> None:
    assert not will_miss(PROMISED, PROMISED, WEDNESDAY_MORNING + HOUR)


def test_a_slip_within_the_margin_is_not_missed() -> None:
    # The margin is a quarter of the three hours promised: 45 minutes.
    assert not will_miss(PROMISED, later(45 * MINUTE), WEDNESDAY_MORNING + HOUR)
    assert will_miss(PROMISED, later(46 * MINUTE), WEDNESDAY_MORNING + HOUR)


def test_a_promise_whose_latest_has_passed_is_missed() -> None:
    assert PROMISED.latest is not None
    assert not will_miss(PROMISED, PROMISED, PROMISED.latest)
    assert will_miss(PROMISED, PROMISED, PROMISED.latest + timedelta(seconds=1))


def test_an_estimate_that_became_unknown_is_missed_and_an_unknown_promise_never_is() -> None:
    unknown = Estimate(EstimateKind.UNKNOWN, WEDNESDAY_MORNING, "Europe/Oslo")

    assert will_miss(PROMISED, unknown, WEDNESDAY_MORNING + HOUR)
    assert not will_miss(unknown, PROMISED, WEDNESDAY_MORNING + HOUR)


def test_rising_load_misses_the_estimate_given_earlier() -> None:
    promised = estimate(stats(WEDNESDAY_MORNING, backlog=12, completions=6), OFFICE, WEDNESDAY_MORNING)
    an_hour_on = WEDNESDAY_MORNING + HOUR

    steady = estimate(stats(an_hour_on, backlog=6, completions=6), OFFICE, an_hour_on)
    rising = estimate(stats(an_hour_on, backlog=6, completions=2), OFFICE, an_hour_on)

    assert not will_miss(promised, steady, an_hour_on)
    assert will_miss(promised, rising, an_hour_on)


# --- properties -----------------------------------------------------------------------------------------

BASE = datetime(2026, 1, 14, 12, tzinfo=UTC)
_quarters = st.integers(min_value=0, max_value=95)
_openings = st.builds(
    lambda weekday, opens, closes: Opening(
        weekday, time(opens // 4, opens % 4 * 15), time(closes // 4, closes % 4 * 15)
    ),
    st.integers(min_value=0, max_value=6),
    _quarters,
    _quarters,
)
calendars = st.builds(
    QueueCalendar,
    st.sampled_from(("Europe/Oslo", "Europe/Stockholm", "UTC", "Asia/Kolkata")),
    st.lists(_openings, max_size=6).map(lambda openings: OpeningHours(tuple(openings))),
    st.sampled_from([None, "NO", "SE", "DK"]),
)
instants = st.integers(min_value=-400 * 1440, max_value=400 * 1440).map(
    lambda minutes: BASE + timedelta(minutes=minutes)
)


@st.composite
def loads(draw: st.DrawFn, now: datetime) -> QueueStats:
    return stats(
        now,
        backlog=draw(st.integers(min_value=0, max_value=300)),
        completions=draw(st.sampled_from([0, 0, 1, 5, 30])),
        handle=draw(st.sampled_from([None, 0.0, 60.0, 600.0, 3600.0])),
        eligible=draw(st.integers(min_value=0, max_value=3)),
        present=draw(st.integers(min_value=0, max_value=10)),
        scheduled=((now.replace(minute=0) + HOUR, draw(st.integers(min_value=0, max_value=5))),),
    )


@modest
@given(calendars, instants, st.data())
def test_an_estimate_runs_forward_from_now_and_not_before_the_next_opening(
    cal: QueueCalendar, now: datetime, data: st.DataObject
) -> None:
    queue = data.draw(loads(now))
    position = data.draw(st.none() | st.integers(min_value=1, max_value=50))

    result = estimate(queue, cal, now, position=position, live=data.draw(st.booleans()))

    if result.kind is EstimateKind.UNKNOWN:
        assert result.earliest is None
        assert result.latest is None
        return
    assert result.earliest is not None
    assert result.latest is not None
    assert now <= result.earliest < result.latest
    opening = next_opening(cal, now)
    assert opening is not None
    assert result.earliest >= opening
    if result.kind is EstimateKind.WITHIN:
        assert is_open(cal, now)


@modest
@given(
    calendars,
    instants,
    st.integers(min_value=0, max_value=3 * 24 * 60),
    st.integers(min_value=0, max_value=3 * 24 * 60),
)
def test_rounding_only_widens_the_range(cal: QueueCalendar, now: datetime, first: int, second: int) -> None:
    earliest, latest = now + min(first, second) * MINUTE, now + max(first, second) * MINUTE

    result = round_estimate(cal, now, earliest, latest)

    assert result.earliest is not None
    assert result.latest is not None
    assert now <= result.earliest <= earliest
    assert latest <= result.latest


@modest
@given(calendars, instants, st.integers(min_value=1, max_value=200), st.integers(min_value=0, max_value=50))
def test_more_work_ahead_never_promises_an_earlier_latest(
    cal: QueueCalendar, now: datetime, backlog: int, more: int
) -> None:
    """So a rising load is always seen as a slip by ``will_miss``, also where the rounding switches from
    relative to a clock time near closing."""
    fewer = estimate(stats(now, backlog=backlog, completions=5), cal, now)
    more_ahead = estimate(stats(now, backlog=backlog + more, completions=5), cal, now)

    if fewer.latest is not None and more_ahead.latest is not None:
        assert more_ahead.latest >= fewer.latest
