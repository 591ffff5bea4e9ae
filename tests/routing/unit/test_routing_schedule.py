"""Working time: split and overnight shifts, DST, joined stretches, wind-down, leave and the next start."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.routing.core.schedule import Leave, Schedule, Shift, on_leave
from tests.routing.unit.routing_builders import instants, oslo, schedules

MONDAY, TUESDAY, SATURDAY = 0, 1, 5
TEN_MINUTES = timedelta(minutes=10)
modest = settings(max_examples=100, deadline=None)


def oslo_schedule(*shifts: Shift) -> Schedule:
    return Schedule("Europe/Oslo", shifts)


def shift(weekday: int, start: str, end: str) -> Shift:
    return Shift(weekday, time.fromisoformat(start), time.fromisoformat(end))


# --- split shifts -----------------------------------------------------------------------------------

SPLIT = oslo_schedule(shift(MONDAY, "08:00", "12:00"), shift(MONDAY, "13:00", "17:00"))


@pytest.mark.parametrize(
    ("hour", "minute", "working"),
    [
        (7, 59, False),
        (8, 0, True),
        (11, 59, True),
        (12, 0, False),
        (12, 30, False),
        (13, 0, True),
        (16, 59, True),
        (17, 0, False),
    ],
)
def test_a_split_shift_has_a_break(hour: int, minute: int, working: bool) -> None:
    assert SPLIT.on_shift(oslo(2026, 1, 12, hour, minute)) is working


def test_a_split_shift_is_two_stretches_each_with_its_own_wind_down() -> None:
    assert SPLIT.stretches(datetime(2026, 1, 12).date(), 1) == [
        (oslo(2026, 1, 12, 8), oslo(2026, 1, 12, 12)),
        (oslo(2026, 1, 12, 13), oslo(2026, 1, 12, 17)),
    ]
    assert not SPLIT.on_shift(oslo(2026, 1, 12, 11, 55), TEN_MINUTES)
    assert SPLIT.on_shift(oslo(2026, 1, 12, 11, 49), TEN_MINUTES)


def test_a_shift_only_counts_on_its_weekday() -> None:
    assert not SPLIT.on_shift(oslo(2026, 1, 13, 9))  # a Tuesday
    assert SPLIT.on_shift(oslo(2026, 1, 19, 9))  # the next Monday


# --- overnight shifts -------------------------------------------------------------------------------

NIGHTS = oslo_schedule(shift(MONDAY, "22:00", "06:00"))


@pytest.mark.parametrize(
    ("day", "hour", "minute", "working"),
    [
        (12, 21, 59, False),
        (12, 22, 0, True),
        (12, 23, 59, True),
        (13, 1, 0, True),  # 01:00 the next day, in the agent's zone
        (13, 5, 59, True),
        (13, 6, 0, False),
        (13, 22, 30, False),  # Tuesday night is not a shift
        (12, 1, 0, False),  # nor is the small hours of the Monday itself
    ],
)
def test_an_overnight_shift_runs_into_the_next_day(day: int, hour: int, minute: int, working: bool) -> None:
    assert NIGHTS.on_shift(oslo(2026, 1, day, hour, minute)) is working


def test_an_overnight_shift_is_read_in_the_agents_zone_not_utc() -> None:
    # 00:30 UTC on Tuesday is 01:30 in Oslo (on shift) and 19:30 on Monday in New York (not).
    instant = datetime(2026, 1, 13, 0, 30, tzinfo=UTC)
    assert NIGHTS.on_shift(instant)
    assert not Schedule("America/New_York", NIGHTS.shifts).on_shift(instant)


def test_a_shift_ending_when_it_starts_lasts_a_whole_day() -> None:
    day_and_night = oslo_schedule(shift(MONDAY, "08:00", "08:00"))

    assert day_and_night.stretches(datetime(2026, 1, 12).date(), 1) == [
        (oslo(2026, 1, 12, 8), oslo(2026, 1, 13, 8))
    ]
    assert day_and_night.on_shift(oslo(2026, 1, 13, 7, 59))
    assert not day_and_night.on_shift(oslo(2026, 1, 13, 8))


def test_an_overnight_shift_lasts_seven_hours_when_the_clocks_go_forward() -> None:
    saturday_night = oslo_schedule(shift(SATURDAY, "22:00", "06:00"))

    ((start, end),) = saturday_night.stretches(datetime(2026, 3, 28).date(), 1)

    assert start == datetime(2026, 3, 28, 21, 0, tzinfo=UTC)  # 22:00 CET
    assert end == datetime(2026, 3, 29, 4, 0, tzinfo=UTC)  # 06:00 CEST
    assert end - start == timedelta(hours=7)


def test_an_overnight_shift_lasts_nine_hours_when_the_clocks_go_back() -> None:
    saturday_night = oslo_schedule(shift(SATURDAY, "22:00", "06:00"))

    ((start, end),) = saturday_night.stretches(datetime(2026, 10, 24).date(), 1)

    assert end - start == timedelta(hours=9)
    # The hour 02:00-03:00 happens twice that night; both are worked.
    assert saturday_night.on_shift(datetime(2026, 10, 25, 0, 30, tzinfo=UTC))  # 02:30 CEST
    assert saturday_night.on_shift(datetime(2026, 10, 25, 1, 30, tzinfo=UTC))  # 02:30 CET


# --- DST ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("monday", "start_utc"),
    [
        (datetime(2026, 1, 12), datetime(2026, 1, 12, 7, 0, tzinfo=UTC)),  # winter: UTC+1
        (datetime(2026, 7, 13), datetime(2026, 7, 13, 6, 0, tzinfo=UTC)),  # summer: UTC+2
    ],
)
def test_a_shift_starts_at_local_wall_clock_time_in_winter_and_summer(
    monday: datetime, start_utc: datetime
) -> None:
    mornings = oslo_schedule(shift(MONDAY, "08:00", "16:00"))

    assert mornings.stretches(monday.date(), 1) == [(start_utc, start_utc + timedelta(hours=8))]
    assert not mornings.on_shift(start_utc - timedelta(minutes=1))
    assert mornings.on_shift(start_utc)


def test_the_same_shift_is_an_hour_earlier_in_utc_after_the_clocks_go_forward() -> None:
    every_monday = oslo_schedule(shift(MONDAY, "08:00", "16:00"))
    before = every_monday.next_start(datetime(2026, 3, 21, tzinfo=UTC))
    after = every_monday.next_start(datetime(2026, 3, 28, tzinfo=UTC))

    assert before == datetime(2026, 3, 23, 7, 0, tzinfo=UTC)
    assert after == datetime(2026, 3, 30, 6, 0, tzinfo=UTC)


# --- joined stretches and wind-down -------------------------------------------------------------------


def test_wind_down_stops_new_work_near_the_end_of_a_shift() -> None:
    day = oslo_schedule(shift(MONDAY, "08:00", "16:00"))

    assert day.on_shift(oslo(2026, 1, 12, 15, 55))
    assert not day.on_shift(oslo(2026, 1, 12, 15, 55), TEN_MINUTES)
    assert not day.on_shift(oslo(2026, 1, 12, 15, 50), TEN_MINUTES)  # exactly ten minutes left
    assert day.on_shift(oslo(2026, 1, 12, 15, 49), TEN_MINUTES)
    assert not day.on_shift(oslo(2026, 1, 12, 16, 0))


def test_touching_shifts_are_one_stretch_so_wind_down_applies_only_at_the_real_end() -> None:
    touching = oslo_schedule(shift(MONDAY, "12:00", "16:00"), shift(MONDAY, "08:00", "12:00"))

    assert touching.stretches(datetime(2026, 1, 12).date(), 1) == [
        (oslo(2026, 1, 12, 8), oslo(2026, 1, 12, 16))
    ]
    assert touching.on_shift(oslo(2026, 1, 12, 11, 55), TEN_MINUTES)
    assert touching.on_shift(oslo(2026, 1, 12, 12, 0), TEN_MINUTES)
    assert not touching.on_shift(oslo(2026, 1, 12, 15, 55), TEN_MINUTES)


def test_overlapping_shifts_join_too() -> None:
    overlapping = oslo_schedule(shift(MONDAY, "08:00", "13:00"), shift(MONDAY, "12:00", "16:00"))

    assert overlapping.stretch_at(oslo(2026, 1, 12, 12, 55)) == (oslo(2026, 1, 12, 8), oslo(2026, 1, 12, 16))
    assert overlapping.on_shift(oslo(2026, 1, 12, 12, 55), TEN_MINUTES)


def test_a_night_shift_joins_the_next_mornings_shift_across_midnight() -> None:
    night_then_morning = oslo_schedule(shift(MONDAY, "22:00", "06:00"), shift(TUESDAY, "06:00", "10:00"))

    assert night_then_morning.stretch_at(oslo(2026, 1, 13, 5, 55)) == (
        oslo(2026, 1, 12, 22),
        oslo(2026, 1, 13, 10),
    )
    assert night_then_morning.on_shift(oslo(2026, 1, 13, 5, 55), TEN_MINUTES)
    assert not night_then_morning.on_shift(oslo(2026, 1, 13, 9, 55), TEN_MINUTES)


def test_no_shifts_means_never_on_shift() -> None:
    nothing = oslo_schedule()

    assert nothing.stretch_at(oslo(2026, 1, 12, 12)) is None
    assert not nothing.on_shift(oslo(2026, 1, 12, 12))
    assert nothing.next_start(oslo(2026, 1, 12, 12)) is None


# --- leave ------------------------------------------------------------------------------------------


def test_leave_covers_its_start_but_not_its_end() -> None:
    start, end = oslo(2026, 1, 12, 8), oslo(2026, 1, 12, 16)
    leave = Leave(start, end)

    assert not leave.covers(start - timedelta(microseconds=1))
    assert leave.covers(start)
    assert leave.covers(end - timedelta(microseconds=1))
    assert not leave.covers(end)


def test_on_leave_when_any_leave_covers_now() -> None:
    leaves = (
        Leave(oslo(2026, 1, 12, 8), oslo(2026, 1, 12, 10)),
        Leave(oslo(2026, 1, 14), oslo(2026, 1, 16)),
    )

    assert on_leave(leaves, oslo(2026, 1, 12, 9))
    assert on_leave(leaves, oslo(2026, 1, 15, 12))
    assert not on_leave(leaves, oslo(2026, 1, 13, 9))
    assert not on_leave((), oslo(2026, 1, 13, 9))


# --- next start ---------------------------------------------------------------------------------------


def test_next_start_is_the_next_stretch_later_today() -> None:
    assert SPLIT.next_start(oslo(2026, 1, 12, 7)) == oslo(2026, 1, 12, 8)
    assert SPLIT.next_start(oslo(2026, 1, 12, 12, 30)) == oslo(2026, 1, 12, 13)


def test_next_start_skips_the_stretch_already_running() -> None:
    assert SPLIT.next_start(oslo(2026, 1, 12, 8)) == oslo(2026, 1, 12, 13)
    assert SPLIT.next_start(oslo(2026, 1, 12, 14)) == oslo(2026, 1, 19, 8)


def test_next_start_is_not_a_shift_that_only_continues_last_nights_stretch() -> None:
    night_then_morning = oslo_schedule(shift(MONDAY, "22:00", "06:00"), shift(TUESDAY, "06:00", "10:00"))

    # At 05:00 on Tuesday the agent has worked since 22:00 and goes on until 10:00: the Tuesday 06:00
    # shift starts nothing. The next start is the next Monday night.
    assert night_then_morning.next_start(oslo(2026, 1, 13, 5)) == oslo(2026, 1, 19, 22)


def test_next_start_looks_no_further_than_asked() -> None:
    assert SPLIT.next_start(oslo(2026, 1, 12, 14), within_days=3) is None


# --- properties -------------------------------------------------------------------------------------


def _wall_clock_on_shift(schedule: Schedule, now: datetime) -> bool:
    """Independently of the UTC intervals: the local weekday and time against each shift."""
    local = now.astimezone(ZoneInfo(schedule.time_zone))
    weekday, clock = local.weekday(), local.time().replace(tzinfo=None, fold=0)
    for item in schedule.shifts:
        if item.overnight:
            if (item.weekday == weekday and clock >= item.start) or (
                item.weekday == (weekday - 1) % 7 and clock < item.end
            ):
                return True
        elif item.weekday == weekday and item.start <= clock < item.end:
            return True
    return False


@modest
@given(schedule=schedules(avoid_small_hours=True), now=instants())
def test_on_shift_agrees_with_the_local_wall_clock(schedule: Schedule, now: datetime) -> None:
    assert schedule.on_shift(now) is _wall_clock_on_shift(schedule, now)


@modest
@given(schedule=schedules(), now=instants(), minutes=st.integers(min_value=1, max_value=45))
def test_wind_down_means_on_shift_for_every_minute_up_to_it(
    schedule: Schedule, now: datetime, minutes: int
) -> None:
    # Shift ends are minute-aligned in every zone drawn, so sampling by the minute is exact.
    expected = all(schedule.on_shift(now + timedelta(minutes=step)) for step in range(minutes + 1))

    assert schedule.on_shift(now, timedelta(minutes=minutes)) is expected


@settings(max_examples=40, deadline=None)
@given(schedule=schedules(), now=instants())
def test_next_start_is_the_first_moment_work_begins(schedule: Schedule, now: datetime) -> None:
    step = timedelta(minutes=15)  # every shift starts on a quarter hour, in every zone drawn
    now = now.replace(minute=now.minute - now.minute % 15)
    horizon = 2 * 24 * 4
    first = next(
        (
            now + step * index
            for index in range(1, horizon)
            if schedule.on_shift(now + step * index) and not schedule.on_shift(now + step * (index - 1))
        ),
        None,
    )

    found = schedule.next_start(now, within_days=3)

    if first is not None:
        assert found == first
    else:
        assert found is None or found > now + step * (horizon - 1)
