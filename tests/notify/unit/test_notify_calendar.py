"""A queue's calendar: weekends, Norwegian, Swedish and Danish holidays, split and overnight hours, one-off
closures and DST, with a controlled clock; and properties of open time over random calendars."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.notify.core.calendar import (
    Closure,
    Country,
    Opening,
    OpeningHours,
    QueueCalendar,
    add_open_time,
    current_stretch,
    interval_around,
    is_open,
    next_opening,
    open_intervals,
    open_time,
)

OSLO = ZoneInfo("Europe/Oslo")
MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY = range(7)
WEEKDAYS = range(MONDAY, SATURDAY)
modest = settings(max_examples=150, deadline=None)


def oslo(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock time in Oslo, as the UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=OSLO).astimezone(UTC)


def calendar(
    by_weekday: dict[int, list[tuple[str, str]]],
    country: Country | None = None,
    closures: tuple[Closure, ...] = (),
    zone: str = "Europe/Oslo",
    categories: tuple[str, ...] | None = None,
) -> QueueCalendar:
    return QueueCalendar(zone, OpeningHours.weekly(by_weekday), country, closures, categories)


OFFICE = calendar({day: [("08:00", "16:00")] for day in WEEKDAYS}, "NO")


def hours_of(intervals: list[tuple[datetime, datetime]]) -> float:
    return sum((end - start for start, end in intervals), timedelta(0)) / timedelta(hours=1)


# --- weekends -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "open_"),
    [
        (oslo(2026, 1, 16, 7, 59), False),  # Friday before opening
        (oslo(2026, 1, 16, 8, 0), True),
        (oslo(2026, 1, 16, 15, 59), True),
        (oslo(2026, 1, 16, 16, 0), False),  # closing is exclusive
        (oslo(2026, 1, 17, 12, 0), False),  # Saturday
        (oslo(2026, 1, 18, 12, 0), False),  # Sunday
        (oslo(2026, 1, 19, 8, 0), True),  # Monday
    ],
)
def test_an_office_week_is_open_on_weekdays_only(instant: datetime, open_: bool) -> None:
    assert is_open(OFFICE, instant) is open_


def test_friday_evening_opens_next_on_monday_morning() -> None:
    assert next_opening(OFFICE, oslo(2026, 1, 16, 19, 30)) == oslo(2026, 1, 19, 8)


def test_next_opening_is_now_while_open() -> None:
    assert next_opening(OFFICE, oslo(2026, 1, 14, 10, 17)) == oslo(2026, 1, 14, 10, 17)


def test_work_left_at_friday_closing_carries_over_the_weekend() -> None:
    assert add_open_time(OFFICE, oslo(2026, 1, 16, 15, 30), timedelta(hours=1)) == oslo(2026, 1, 19, 8, 30)
    assert open_time(OFFICE, oslo(2026, 1, 16, 15, 30), oslo(2026, 1, 19, 8, 30)) == timedelta(hours=1)


def test_work_ending_exactly_at_closing_ends_then_not_at_the_next_opening() -> None:
    assert add_open_time(OFFICE, oslo(2026, 1, 16, 15), timedelta(hours=1)) == oslo(2026, 1, 16, 16)


def test_a_week_of_work_from_monday_morning_ends_on_friday_at_closing() -> None:
    assert add_open_time(OFFICE, oslo(2026, 1, 12, 8), timedelta(hours=40)) == oslo(2026, 1, 16, 16)


# --- Norwegian holidays ---------------------------------------------------------------------------------


def test_the_holidays_package_knows_the_norwegian_days_this_calendar_relies_on() -> None:
    norway = holidays.country_holidays("NO", years=2026)

    assert date(2026, 5, 17) in norway  # constitution day, a Sunday in 2026
    assert date(2026, 12, 25) in norway
    assert date(2026, 12, 26) in norway
    assert {date(2026, 4, 2), date(2026, 4, 3), date(2026, 4, 6)} <= set(norway)  # Easter
    assert date(2026, 12, 24) not in norway  # Christmas Eve is no public holiday in Norway


def test_easter_closes_from_maundy_thursday_to_easter_monday() -> None:
    assert next_opening(OFFICE, oslo(2026, 4, 1, 16)) == oslo(2026, 4, 7, 8)
    assert not is_open(OFFICE, oslo(2026, 4, 6, 10))  # Easter Monday
    # Two weeks of ten weekdays, three of them Easter holidays.
    assert open_time(OFFICE, oslo(2026, 3, 30), oslo(2026, 4, 11)) == timedelta(hours=8 * 7)


def test_constitution_day_closes_a_queue_open_every_day() -> None:
    every_day = calendar({day: [("10:00", "18:00")] for day in range(7)}, "NO")

    assert is_open(every_day, oslo(2026, 5, 16, 12))
    assert not is_open(every_day, oslo(2026, 5, 17, 12))
    assert next_opening(every_day, oslo(2026, 5, 16, 18)) == oslo(2026, 5, 18, 10)


def test_christmas_day_is_closed_and_christmas_eve_only_by_a_one_off_closure() -> None:
    christmas_eve = Closure.on_day(date(2026, 12, 24), "julaften")
    closed_on_the_eve = calendar({day: [("08:00", "16:00")] for day in WEEKDAYS}, "NO", (christmas_eve,))

    assert is_open(OFFICE, oslo(2026, 12, 24, 10))
    assert not is_open(closed_on_the_eve, oslo(2026, 12, 24, 10))
    assert not is_open(OFFICE, oslo(2026, 12, 25, 10))
    # Christmas Day on Friday, Boxing Day on Saturday: next open on Monday 28th.
    assert next_opening(closed_on_the_eve, oslo(2026, 12, 23, 16)) == oslo(2026, 12, 28, 8)


def test_a_calendar_without_a_country_keeps_no_holidays() -> None:
    no_country = calendar({day: [("08:00", "16:00")] for day in WEEKDAYS})

    assert is_open(no_country, oslo(2026, 12, 25, 10))


# --- Swedish and Danish holidays ------------------------------------------------------------------------


def test_swedish_midsummer_eve_is_a_de_facto_holiday_and_closes_by_default() -> None:
    assert date(2026, 6, 19) not in holidays.country_holidays("SE", years=2026)
    assert date(2026, 6, 19) in holidays.country_holidays("SE", years=2026, categories=("de_facto",))
    stockholm = {day: [("08:00", "16:00")] for day in WEEKDAYS}
    swedish = calendar(stockholm, "SE", zone="Europe/Stockholm")
    law_days_only = calendar(stockholm, "SE", zone="Europe/Stockholm", categories=("public",))

    assert not is_open(swedish, oslo(2026, 6, 19, 10))  # Friday, midsummer eve
    assert next_opening(swedish, oslo(2026, 6, 18, 16)) == oslo(2026, 6, 22, 8)
    assert is_open(law_days_only, oslo(2026, 6, 19, 10))
    assert is_open(swedish, oslo(2026, 6, 18, 10))  # the day before is an ordinary Thursday


def test_danish_constitution_day_is_optional_in_holidays_and_closes_by_default() -> None:
    assert date(2026, 6, 5) not in holidays.country_holidays("DK", years=2026)
    assert date(2026, 6, 5) in holidays.country_holidays("DK", years=2026, categories=("optional",))
    danish = calendar({day: [("08:00", "16:00")] for day in WEEKDAYS}, "DK", zone="Europe/Copenhagen")

    assert not is_open(danish, oslo(2026, 6, 5, 10))  # Friday, Grundlovsdag
    assert next_opening(danish, oslo(2026, 6, 4, 17)) == oslo(2026, 6, 8, 8)


# --- split hours ----------------------------------------------------------------------------------------

SPLIT = calendar({day: [("08:00", "11:00"), ("12:00", "16:00")] for day in WEEKDAYS}, "NO")


@pytest.mark.parametrize(
    ("hour", "minute", "open_"),
    [
        (7, 59, False),
        (8, 0, True),
        (10, 59, True),
        (11, 0, False),
        (11, 30, False),
        (12, 0, True),
        (16, 0, False),
    ],
)
def test_split_hours_close_for_lunch(hour: int, minute: int, open_: bool) -> None:
    assert is_open(SPLIT, oslo(2026, 1, 14, hour, minute)) is open_


def test_split_hours_are_two_intervals_and_work_skips_the_break() -> None:
    assert open_intervals(SPLIT, oslo(2026, 1, 14), oslo(2026, 1, 15)) == [
        (oslo(2026, 1, 14, 8), oslo(2026, 1, 14, 11)),
        (oslo(2026, 1, 14, 12), oslo(2026, 1, 14, 16)),
    ]
    assert add_open_time(SPLIT, oslo(2026, 1, 14, 10, 30), timedelta(hours=1)) == oslo(2026, 1, 14, 12, 30)
    assert next_opening(SPLIT, oslo(2026, 1, 14, 11, 5)) == oslo(2026, 1, 14, 12)
    assert current_stretch(SPLIT, oslo(2026, 1, 14, 9)) == (oslo(2026, 1, 14, 8), oslo(2026, 1, 14, 11))


def test_touching_openings_are_one_stretch_even_across_midnight() -> None:
    touching = calendar(
        {MONDAY: [("12:00", "16:00"), ("08:00", "12:00"), ("20:00", "00:00")], TUESDAY: [("00:00", "08:00")]}
    )

    assert open_intervals(touching, oslo(2026, 1, 12), oslo(2026, 1, 14)) == [
        (oslo(2026, 1, 12, 8), oslo(2026, 1, 12, 16)),
        (oslo(2026, 1, 12, 20), oslo(2026, 1, 13, 8)),
    ]


def test_intervals_are_clipped_to_the_window_asked_about() -> None:
    assert open_intervals(SPLIT, oslo(2026, 1, 14, 9), oslo(2026, 1, 14, 13)) == [
        (oslo(2026, 1, 14, 9), oslo(2026, 1, 14, 11)),
        (oslo(2026, 1, 14, 12), oslo(2026, 1, 14, 13)),
    ]
    assert open_intervals(SPLIT, oslo(2026, 1, 14, 13), oslo(2026, 1, 14, 9)) == []


# --- overnight hours ------------------------------------------------------------------------------------

EVENINGS = calendar({day: [("20:00", "02:00")] for day in range(7)}, "NO")


@pytest.mark.parametrize(
    ("instant", "open_"),
    [
        (oslo(2026, 1, 14, 19, 59), False),
        (oslo(2026, 1, 14, 20, 0), True),
        (oslo(2026, 1, 14, 23, 59), True),
        (oslo(2026, 1, 15, 1, 59), True),  # the evening that began on Wednesday
        (oslo(2026, 1, 15, 2, 0), False),
        (oslo(2026, 1, 15, 12, 0), False),
    ],
)
def test_an_overnight_opening_runs_past_midnight(instant: datetime, open_: bool) -> None:
    assert is_open(EVENINGS, instant) is open_


def test_work_from_late_evening_resumes_the_next_evening() -> None:
    assert add_open_time(EVENINGS, oslo(2026, 1, 14, 23), timedelta(hours=4)) == oslo(2026, 1, 15, 21)


def test_an_overnight_opening_belongs_to_the_day_it_starts_on_holidays() -> None:
    # Christmas Eve is no Norwegian holiday: its evening runs into Christmas Day. Christmas Day's evening
    # is dropped whole, its small hours on Boxing Day too; Boxing Day's evening likewise.
    assert is_open(EVENINGS, oslo(2026, 12, 25, 1))
    assert not is_open(EVENINGS, oslo(2026, 12, 25, 21))
    assert not is_open(EVENINGS, oslo(2026, 12, 26, 1))
    assert not is_open(EVENINGS, oslo(2026, 12, 27, 1))
    assert next_opening(EVENINGS, oslo(2026, 12, 25, 2)) == oslo(2026, 12, 27, 20)


def test_an_opening_that_closes_when_it_opens_lasts_a_whole_day() -> None:
    round_the_clock = calendar({MONDAY: [("08:00", "08:00")]})

    assert open_intervals(round_the_clock, oslo(2026, 1, 12), oslo(2026, 1, 14)) == [
        (oslo(2026, 1, 12, 8), oslo(2026, 1, 13, 8))
    ]


# --- one-off closures -----------------------------------------------------------------------------------


def test_a_closure_interval_cuts_a_meeting_out_of_the_day() -> None:
    meeting = Closure.between(oslo(2026, 1, 14, 12), oslo(2026, 1, 14, 13), "all hands")
    with_meeting = calendar({day: [("08:00", "16:00")] for day in WEEKDAYS}, "NO", (meeting,))

    assert open_intervals(with_meeting, oslo(2026, 1, 14), oslo(2026, 1, 15)) == [
        (oslo(2026, 1, 14, 8), oslo(2026, 1, 14, 12)),
        (oslo(2026, 1, 14, 13), oslo(2026, 1, 14, 16)),
    ]
    assert not is_open(with_meeting, oslo(2026, 1, 14, 12, 30))
    assert add_open_time(with_meeting, oslo(2026, 1, 14, 11), timedelta(hours=2)) == oslo(2026, 1, 14, 14)


def test_a_closure_given_in_another_zone_is_the_same_instants() -> None:
    new_york = ZoneInfo("America/New_York")
    outage = Closure.between(
        datetime(2026, 1, 14, 3, tzinfo=new_york), datetime(2026, 1, 14, 5, tzinfo=new_york)
    )

    assert outage.start == oslo(2026, 1, 14, 9)
    assert outage.start is not None
    assert outage.start.tzinfo is UTC


def test_a_closed_day_drops_the_openings_that_begin_on_it() -> None:
    stocktaking = Closure.on_day(date(2026, 1, 14), "stocktaking")
    closed = calendar({day: [("20:00", "02:00")] for day in range(7)}, closures=(stocktaking,))

    assert is_open(closed, oslo(2026, 1, 14, 1))  # Tuesday's evening, into Wednesday
    assert not is_open(closed, oslo(2026, 1, 14, 21))
    assert not is_open(closed, oslo(2026, 1, 15, 1))


def test_a_closure_longer_than_the_search_gives_no_opening() -> None:
    renovation = Closure.between(oslo(2026, 2, 1), oslo(2026, 4, 1))
    closed = calendar({day: [("08:00", "16:00")] for day in WEEKDAYS}, "NO", (renovation,))

    assert next_opening(closed, oslo(2026, 2, 2)) is None
    assert add_open_time(closed, oslo(2026, 1, 30, 15), timedelta(hours=2)) is None
    assert next_opening(closed, oslo(2026, 3, 20)) == oslo(2026, 4, 1, 8)


def test_no_opening_hours_never_open() -> None:
    never = QueueCalendar()

    assert not is_open(never, oslo(2026, 1, 14, 12))
    assert next_opening(never, oslo(2026, 1, 14, 12)) is None
    assert add_open_time(never, oslo(2026, 1, 14, 12), timedelta(0)) == oslo(2026, 1, 14, 12)
    assert add_open_time(never, oslo(2026, 1, 14, 12), timedelta(seconds=1)) is None


# --- DST ------------------------------------------------------------------------------------------------


def test_an_opening_starts_at_local_time_on_both_sides_of_the_spring_switch() -> None:
    # Clocks go forward on Sunday 29 March 2026: 08:00 is 07:00 UTC before and 06:00 UTC after.
    assert next_opening(OFFICE, oslo(2026, 3, 27, 16)) == datetime(2026, 3, 30, 6, tzinfo=UTC)
    assert add_open_time(OFFICE, oslo(2026, 3, 27, 15), timedelta(hours=2)) == datetime(
        2026, 3, 30, 7, tzinfo=UTC
    )


def test_open_time_across_the_spring_switch_counts_real_elapsed_time() -> None:
    nights = calendar({SATURDAY: [("22:00", "06:00")]})
    start = oslo(2026, 3, 28, 22)

    assert open_time(nights, start, start + timedelta(days=1)) == timedelta(hours=7)
    assert add_open_time(nights, start, timedelta(hours=7)) == datetime(
        2026, 3, 29, 4, tzinfo=UTC
    )  # 06:00 CEST
    assert add_open_time(nights, start, timedelta(hours=3)) == datetime(
        2026, 3, 29, 0, tzinfo=UTC
    )  # 01:00 CET
    assert add_open_time(nights, start, timedelta(hours=4)) == datetime(
        2026, 3, 29, 1, tzinfo=UTC
    )  # 03:00 CEST


def test_open_time_across_the_autumn_switch_counts_the_doubled_hour_twice() -> None:
    nights = calendar({SATURDAY: [("22:00", "06:00")]})
    start = oslo(2026, 10, 24, 22)

    assert open_time(nights, start, start + timedelta(days=1)) == timedelta(hours=9)
    assert is_open(nights, datetime(2026, 10, 25, 0, 30, tzinfo=UTC))  # 02:30 CEST
    assert is_open(nights, datetime(2026, 10, 25, 1, 30, tzinfo=UTC))  # 02:30 CET
    assert add_open_time(nights, start, timedelta(hours=9)) == datetime(2026, 10, 25, 5, tzinfo=UTC)


def test_an_opening_in_the_skipped_hour_starts_when_the_clocks_have_jumped() -> None:
    early = calendar({SUNDAY: [("02:30", "04:00")]})

    # 02:30 does not exist on 29 March; it is read with the winter offset, as 03:30 summer time.
    assert open_intervals(early, oslo(2026, 3, 29), oslo(2026, 3, 30)) == [
        (datetime(2026, 3, 29, 1, 30, tzinfo=UTC), datetime(2026, 3, 29, 2, tzinfo=UTC))
    ]


# --- validation -----------------------------------------------------------------------------------------


def test_nonsense_is_refused() -> None:
    with pytest.raises(ValueError, match="weekday"):
        Opening(7, time(8), time(16))
    with pytest.raises(ValueError, match="either a day or an interval"):
        Closure(day=date(2026, 1, 1), start=oslo(2026, 1, 1), end=oslo(2026, 1, 2))
    with pytest.raises(ValueError, match="end after"):
        Closure.between(oslo(2026, 1, 2), oslo(2026, 1, 1))
    with pytest.raises(ValueError, match="is a date"):
        Closure.on_day(oslo(2026, 1, 1))
    with pytest.raises(ValueError, match="time zone"):
        Closure.between(datetime(2026, 1, 1), datetime(2026, 1, 2))
    with pytest.raises(ValueError, match="no holidays known"):
        QueueCalendar(country="FI")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="time zone"):
        is_open(OFFICE, datetime(2026, 1, 14, 12))
    with pytest.raises(ValueError, match="negative"):
        add_open_time(OFFICE, oslo(2026, 1, 14), timedelta(seconds=-1))
    with pytest.raises(KeyError):
        QueueCalendar("Europe/Nowhere")


def test_weekly_hours_read_configuration_strings() -> None:
    hours = OpeningHours.weekly({FRIDAY: [("08:00", "11:00"), (time(12), "16:30")]})

    assert hours.on(FRIDAY) == [(time(8), time(11)), (time(12), time(16, 30))]
    assert hours.on(MONDAY) == []


# --- properties -----------------------------------------------------------------------------------------

BASE = datetime(2026, 1, 14, 12, tzinfo=UTC)
ZONES = ("Europe/Oslo", "Europe/Stockholm", "UTC", "America/New_York", "Asia/Kolkata")

_quarters = st.integers(min_value=0, max_value=95)
_openings = st.builds(
    lambda weekday, opens, closes: Opening(
        weekday, time(opens // 4, opens % 4 * 15), time(closes // 4, closes % 4 * 15)
    ),
    st.integers(min_value=0, max_value=6),
    _quarters,
    _quarters,
)
_minutes = st.integers(min_value=-400 * 1440, max_value=400 * 1440)
_closed_days = st.integers(min_value=-400, max_value=400).map(
    lambda days: Closure.on_day(BASE.date() + timedelta(days=days))
)
_closed_spans = st.tuples(_minutes, st.integers(min_value=1, max_value=3 * 1440)).map(
    lambda span: Closure.between(
        BASE + timedelta(minutes=span[0]), BASE + timedelta(minutes=span[0] + span[1])
    )
)
calendars = st.builds(
    QueueCalendar,
    st.sampled_from(ZONES),
    st.lists(_openings, max_size=8).map(lambda openings: OpeningHours(tuple(openings))),
    st.sampled_from([None, "NO", "SE", "DK"]),
    st.lists(_closed_days | _closed_spans, max_size=3).map(tuple),
)
# Minute-aligned instants across both DST switches of 2026, and some with odd seconds.
instants = st.tuples(_minutes, st.sampled_from([0, 0, 0, 17, 59])).map(
    lambda offset: BASE + timedelta(minutes=offset[0], seconds=offset[1])
)
durations = st.integers(min_value=0, max_value=5 * 24 * 3600).map(lambda seconds: timedelta(seconds=seconds))


@modest
@given(calendars, instants, durations)
def test_add_open_time_ends_after_exactly_that_much_open_time(
    cal: QueueCalendar, start: datetime, duration: timedelta
) -> None:
    end = add_open_time(cal, start, duration)
    if end is None:
        assert open_time(cal, start, start + timedelta(days=31)) < duration
        return
    assert end >= start
    assert abs(open_time(cal, start, end) - duration) <= timedelta(seconds=1)
    if duration > timedelta(0):
        assert is_open(cal, end - timedelta(microseconds=1))  # the first such instant, not a later one


@modest
@given(calendars, instants)
def test_is_open_agrees_with_open_intervals(cal: QueueCalendar, now: datetime) -> None:
    inside = any(
        start <= now < end
        for start, end in open_intervals(cal, now - timedelta(days=2), now + timedelta(days=2))
    )

    assert is_open(cal, now) is inside
    assert (current_stretch(cal, now) is not None) is inside


@modest
@given(calendars, instants)
def test_next_opening_is_open_with_nothing_open_before_it(cal: QueueCalendar, now: datetime) -> None:
    opening = next_opening(cal, now)
    if opening is None:
        assert open_intervals(cal, now, now + timedelta(days=31)) == []
        return
    assert opening >= now
    assert is_open(cal, opening)
    assert open_time(cal, now, opening) == timedelta(0)
    assert interval_around(cal, opening) is not None


@modest
@given(calendars, instants, instants)
def test_open_intervals_are_sorted_disjoint_and_inside_the_window(
    cal: QueueCalendar, first: datetime, second: datetime
) -> None:
    start, end = min(first, second), min(max(first, second), min(first, second) + timedelta(days=20))
    intervals = open_intervals(cal, start, end)

    assert all(start <= s < e <= end for s, e in intervals)
    assert all(earlier[1] < later[0] for earlier, later in pairwise(intervals))
    assert hours_of(intervals) * 3600 == pytest.approx(open_time(cal, start, end).total_seconds())
