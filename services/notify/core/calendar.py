"""When a queue is open: weekly opening hours in the queue's own time zone, public holidays and one-off
closures, and how much open time lies between two instants.

Opening hours are local wall-clock time, so a queue opening at 08:00 opens at 08:00 in summer and winter;
the instants are computed per day through the zone (DST-safe), and open time is real elapsed time (a
22:00-06:00 night is seven hours long when the clocks go forward). Openings that touch (08-12, 12-16, or
an evening running into the next morning) count as one stretch.

Closed days (public holidays and one-off closed dates) remove the openings that *begin* on them: an
opening belongs to the day it starts. A 20:00-02:00 evening that starts on the eve of a holiday is kept
whole, and one that starts on the holiday is dropped whole, including its hours after midnight. A one-off
closure given as a UTC interval cuts exactly that interval out of whatever is open.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal, get_args
from zoneinfo import ZoneInfo

import holidays

from services.common.intervals import Interval, joined

Country = Literal["NO", "SE", "DK"]

SEARCH_DAYS = 31  # how far ahead an opening or the end of the work is looked for before giving up
DAYS_LOOKED_BACK = 1  # an evening opening that began yesterday may still be running

# The ``holidays`` categories a queue is closed on, per country, unless the calendar names its own. Only
# Norway's law days are public in the package; Sweden's midsummer eve, Christmas Eve and New Year's Eve
# are "de facto" days off, and Denmark's constitution day, Christmas Eve, New Year's Eve and 1 May are
# "optional". Norwegian Christmas Eve and New Year's Eve are no holidays at all: a queue closed then says
# so with a one-off closure.
DEFAULT_HOLIDAY_CATEGORIES: Mapping[str, tuple[str, ...]] = {
    "NO": ("public",),
    "SE": ("public", "de_facto"),
    "DK": ("public", "optional"),
}


@dataclass(frozen=True)
class Opening:
    weekday: int  # 0 = Monday, as ``date.weekday()``
    opens: time
    closes: time  # at or before ``opens``: open past midnight into the next day

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), not {self.weekday}")
        if self.opens.tzinfo is not None or self.closes.tzinfo is not None:
            raise ValueError("opening hours are local wall-clock times, without a time zone")

    @property
    def overnight(self) -> bool:
        return self.closes <= self.opens


@dataclass(frozen=True)
class OpeningHours:
    openings: tuple[Opening, ...] = ()

    @classmethod
    def weekly(cls, by_weekday: Mapping[int, Iterable[tuple[time | str, time | str]]]) -> OpeningHours:
        """From weekday to (open, close) pairs, as configuration writes them: ``{0: [("08:00", "16:00")]}``
        is Mondays 08-16."""
        return cls(
            tuple(
                Opening(weekday, _time(opens), _time(closes))
                for weekday, pairs in sorted(by_weekday.items())
                for opens, closes in pairs
            )
        )

    def on(self, weekday: int) -> list[tuple[time, time]]:
        """The (open, close) pairs that begin on ``weekday``."""
        return [(o.opens, o.closes) for o in self.openings if o.weekday == weekday]


@dataclass(frozen=True)
class Closure:
    """A one-off closure: a whole local day (its openings are dropped, as on a holiday) or a UTC interval."""

    day: date | None = None
    start: datetime | None = None
    end: datetime | None = None
    label: str = ""

    def __post_init__(self) -> None:
        if self.day is not None:
            if isinstance(self.day, datetime):
                raise ValueError("a closed day is a date; a closure at given instants is start and end")
            if self.start is not None or self.end is not None:
                raise ValueError("a closure is either a day or an interval, not both")
            return
        if self.start is None or self.end is None:
            raise ValueError("a closure needs a day, or both a start and an end")
        _require_aware(self.start)
        _require_aware(self.end)
        if self.end <= self.start:
            raise ValueError("a closure must end after it starts")
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        object.__setattr__(self, "end", self.end.astimezone(UTC))

    @classmethod
    def on_day(cls, day: date, label: str = "") -> Closure:
        return cls(day=day, label=label)

    @classmethod
    def between(cls, start: datetime, end: datetime, label: str = "") -> Closure:
        return cls(start=start, end=end, label=label)


@dataclass(frozen=True)
class QueueCalendar:
    time_zone: str = "Europe/Oslo"
    hours: OpeningHours = field(default_factory=OpeningHours)
    country: Country | None = None  # whose public holidays close the queue; None: no holidays
    closures: tuple[Closure, ...] = ()
    holiday_categories: tuple[str, ...] | None = None  # None: ``DEFAULT_HOLIDAY_CATEGORIES[country]``
    # Hashed once: the caches below are asked about the same calendar for every estimate.
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ZoneInfo(self.time_zone)  # an unknown zone fails here, not in the middle of an estimate
        if self.country is not None and self.country not in get_args(Country):
            raise ValueError(f"no holidays known for {self.country!r}; use one of {get_args(Country)}")
        fields = (self.time_zone, self.hours, self.country, self.closures, self.holiday_categories)
        object.__setattr__(self, "_hash", hash(fields))

    def __hash__(self) -> int:
        return self._hash

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def closed_on(self, day: date) -> bool:
        """A public holiday or a one-off closed day: no opening begins on it."""
        return any(closure.day == day for closure in self.closures) or (
            self.country is not None and day in _holidays(self.country, day.year, self._categories)
        )

    @property
    def _categories(self) -> tuple[str, ...]:
        if self.holiday_categories is not None:
            return self.holiday_categories
        return DEFAULT_HOLIDAY_CATEGORIES.get(self.country or "", ("public",))

    @property
    def closed_intervals(self) -> list[Interval]:
        """The one-off closures given as UTC intervals."""
        return [(c.start, c.end) for c in self.closures if c.start is not None and c.end is not None]


def is_open(calendar: QueueCalendar, now: datetime) -> bool:
    """Open at ``now``: an opening's start counts as open, its close as closed."""
    _require_aware(now)
    return any(start <= now < end for start, end in _stretches(calendar, now, now))


def open_intervals(calendar: QueueCalendar, start: datetime, end: datetime) -> list[Interval]:
    """The open UTC intervals within ``start`` .. ``end``, holidays and closures removed, touching
    intervals joined, clipped to the window."""
    _require_aware(start)
    _require_aware(end)
    if end <= start:
        return []
    return [
        (max(s, start).astimezone(UTC), min(e, end).astimezone(UTC))
        for s, e in _stretches(calendar, start, end)
        if s < end and e > start
    ]


def open_time(calendar: QueueCalendar, start: datetime, end: datetime) -> timedelta:
    """How much open time lies between two instants (real elapsed time, so DST counts)."""
    return sum((e - s for s, e in open_intervals(calendar, start, end)), timedelta(0))


def current_stretch(calendar: QueueCalendar, now: datetime) -> Interval | None:
    """The open stretch ``now`` falls in (closures already cut out), if the queue is open now; a stretch
    running past the search horizon ends at the horizon."""
    _require_aware(now)
    horizon = now + timedelta(days=SEARCH_DAYS)
    for start, end in _stretches(calendar, now, horizon):
        if start <= now < end:
            return start.astimezone(UTC), min(end, horizon).astimezone(UTC)
    return None


def next_opening(calendar: QueueCalendar, now: datetime, within_days: int = SEARCH_DAYS) -> datetime | None:
    """The first instant at or after ``now`` when the queue is open: ``now`` itself while it is open, and
    None when nothing opens within ``within_days`` (a long closure, or no opening hours at all)."""
    intervals = open_intervals(calendar, now, now + timedelta(days=within_days))
    return intervals[0][0] if intervals else None


def add_open_time(
    calendar: QueueCalendar, start: datetime, duration: timedelta, within_days: int = SEARCH_DAYS
) -> datetime | None:
    """The first instant by which ``duration`` of open time has passed since ``start``: work placed onto the
    calendar. Work that ends exactly at closing ends then, not at the next opening. None when the open
    time within ``within_days`` of ``start`` is not enough."""
    _require_aware(start)
    if duration < timedelta(0):
        raise ValueError("open time to add cannot be negative")
    if duration == timedelta(0):
        return start.astimezone(UTC)
    left = duration
    for s, e in open_intervals(calendar, start, start + timedelta(days=within_days)):
        if e - s >= left:
            return s + left
        left -= e - s
    return None


def interval_around(calendar: QueueCalendar, instant: datetime) -> Interval | None:
    """The open interval ``instant`` is in, counting its end as in (where work placed onto the calendar
    may finish); None when the queue is closed then."""
    _require_aware(instant)
    for start, end in _stretches(calendar, instant - timedelta(days=1), instant + timedelta(days=1)):
        if start <= instant <= end:
            return start.astimezone(UTC), end.astimezone(UTC)
    return None


def _stretches(calendar: QueueCalendar, start: datetime, end: datetime) -> list[Interval]:
    """The joined open intervals of every local day that can reach into ``start`` .. ``end``, closures cut
    out; not clipped, so the first and last may reach outside the window."""
    zone = calendar.zone
    first_day = start.astimezone(zone).date() - timedelta(days=DAYS_LOOKED_BACK)
    last_day = end.astimezone(zone).date()
    raw = [
        interval
        for offset in range((last_day - first_day).days + 1)
        for interval in _day_openings(calendar, first_day + timedelta(days=offset))
    ]
    return _without(joined(raw), calendar.closed_intervals)


# Every estimate walks the same calendar day by day; a day's openings depend only on the calendar and the
# day, so they are worked out once.
@lru_cache(maxsize=8192)
def _day_openings(calendar: QueueCalendar, day: date) -> tuple[Interval, ...]:
    if calendar.closed_on(day):
        return ()
    zone = calendar.zone
    intervals: list[Interval] = []
    for opening in calendar.hours.openings:
        if opening.weekday != day.weekday():
            continue
        end_day = day + timedelta(days=1) if opening.overnight else day
        start = datetime.combine(day, opening.opens, zone).astimezone(UTC)
        end = datetime.combine(end_day, opening.closes, zone).astimezone(UTC)
        if end > start:  # an opening inside the hour the clocks skip can vanish
            intervals.append((start, end))
    return tuple(intervals)


@lru_cache(maxsize=256)
def _holidays(country: str, year: int, categories: tuple[str, ...]) -> frozenset[date]:
    """One country's closed days in one year; building them is slow enough to do once."""
    return frozenset(holidays.country_holidays(country, years=year, categories=categories))


def _without(intervals: Sequence[Interval], cuts: Sequence[Interval]) -> list[Interval]:
    """``intervals`` with every cut removed (a cut may split an interval in two)."""
    remaining = list(intervals)
    for cut_start, cut_end in cuts:
        pieces: list[Interval] = []
        for start, end in remaining:
            if cut_end <= start or cut_start >= end:
                pieces.append((start, end))
                continue
            if start < cut_start:
                pieces.append((start, cut_start))
            if cut_end < end:
                pieces.append((cut_end, end))
        remaining = pieces
    return remaining


def _time(value: time | str) -> time:
    return value if isinstance(value, time) else time.fromisoformat(value)


def _require_aware(instant: datetime) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"an instant must carry its time zone: {instant!r}")
