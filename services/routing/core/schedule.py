"""Working time in the agent's own time zone: weekly shifts (split and overnight ones) and leave.

A shift is local wall-clock time, so a 08:00 shift starts at 08:00 in summer and in winter; the instants
are computed per day through the zone (DST-safe). Shifts that touch (08-12, 12-16) count as one
stretch, so the wind-down before a shift's end applies only where work really stops.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from services.common.intervals import joined

DAYS_LOOKED_BACK = 1  # an overnight shift that began yesterday may still be running


@dataclass(frozen=True)
class Shift:
    weekday: int  # 0 = Monday, as ``date.weekday()``
    start: time
    end: time  # at or before ``start``: the shift runs past midnight into the next day

    @property
    def overnight(self) -> bool:
        return self.end <= self.start


@dataclass(frozen=True)
class Leave:
    start: datetime
    end: datetime

    def covers(self, now: datetime) -> bool:
        return self.start <= now < self.end


@dataclass(frozen=True)
class Schedule:
    time_zone: str = "Europe/Oslo"
    shifts: tuple[Shift, ...] = ()
    # Hashed once: the caches below are asked about every agent's schedule in every round.
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.time_zone, self.shifts)))

    def __hash__(self) -> int:
        return self._hash

    def stretches(self, first_day: date, days: int) -> list[tuple[datetime, datetime]]:
        """The UTC intervals worked on the local days ``first_day`` .. ``first_day + days - 1`` (plus
        what overnight shifts carry into the next day), touching intervals joined."""
        return list(_stretches(self, first_day, days))

    def stretch_at(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The worked stretch ``now`` falls in, if any."""
        return _stretch_at(self, now)

    def on_shift(self, now: datetime, wind_down: timedelta = timedelta(0)) -> bool:
        """On shift this minute and not within ``wind_down`` of the stretch's end."""
        stretch = self.stretch_at(now)
        return stretch is not None and stretch[1] - now > wind_down

    def next_start(self, now: datetime, within_days: int = 8) -> datetime | None:
        """When the next stretch begins (a shift that only continues last night's stretch begins none)."""
        today = now.astimezone(ZoneInfo(self.time_zone)).date()
        first_day = today - timedelta(days=DAYS_LOOKED_BACK)
        starts = [
            start for start, _ in self.stretches(first_day, within_days + DAYS_LOOKED_BACK) if start > now
        ]
        return min(starts, default=None)


# Every round asks every agent "on shift now?": the intervals depend only on the schedule and the days,
# and many agents share a schedule.
@lru_cache(maxsize=8192)
def _stretches(schedule: Schedule, first_day: date, days: int) -> tuple[tuple[datetime, datetime], ...]:
    zone = ZoneInfo(schedule.time_zone)
    intervals: list[tuple[datetime, datetime]] = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        for shift in schedule.shifts:
            if shift.weekday != day.weekday():
                continue
            end_day = day + timedelta(days=1) if shift.overnight else day
            start = datetime.combine(day, shift.start, zone).astimezone(UTC)
            end = datetime.combine(end_day, shift.end, zone).astimezone(UTC)
            if end > start:
                intervals.append((start, end))
    return tuple(joined(intervals))


# A round asks it of every agent at one ``now``; agents sharing a schedule share the answer.
@lru_cache(maxsize=8192)
def _stretch_at(schedule: Schedule, now: datetime) -> tuple[datetime, datetime] | None:
    today = now.astimezone(ZoneInfo(schedule.time_zone)).date()
    for start, end in _stretches(schedule, today - timedelta(days=DAYS_LOOKED_BACK), DAYS_LOOKED_BACK + 2):
        if start <= now < end:
            return start, end
    return None


def on_leave(leaves: Iterable[Leave], now: datetime) -> bool:
    return any(leave.covers(now) for leave in leaves)
