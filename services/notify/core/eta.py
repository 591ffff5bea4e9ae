"""An honest expected answer time: the work ahead of a case, from the queue's observed load, placed onto
the queue's calendar and said as a rounded range.

Written queues (email, forms) answer at the rate the queue clears cases per open hour, so the work ahead
is the cases ahead divided by that rate: the completions of the last hour, else the agents there times
what one agent clears an hour (3600 / mean handle time), else a configured default. Live queues (chat,
phone) answer when an agent comes free: (mean handle time / agents there) per case ahead that no free
agent takes at once. Either way the work is open time, placed from now (or the next opening, when
closed) with ``add_open_time``, so it stops overnight, at weekends and on holidays.

The range is the work times ``low`` .. ``high`` (at least ``min_span`` apart), then rounded outward to
steps a person would say. Relative to now while the rounded range ends before closing and within
``relative_for``: in 5 minutes up to half an hour, 15 minutes up to an hour, whole hours beyond ("within
about 2-4 hours"). Otherwise in local whole hours, the earliest anchored to the opening it falls in
("Monday after 08:00") and the latest never later than the closing it falls before ("by 15:45").
Rounding only ever moves the earliest earlier and the latest later, never before now. No words here:
the templates say it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from schemas.routing import QueueStats
from services.notify.core.calendar import (
    QueueCalendar,
    add_open_time,
    current_stretch,
    interval_around,
    next_opening,
)

HOUR = timedelta(hours=1)


class EstimateKind(StrEnum):
    # Open now, and the rounded range ends before closing: relative to now ("within about 2-4 hours").
    WITHIN = "within"
    # Open now and the earliest is before closing, but a relative range would reach past closing or too far
    # ahead to count in hours: the latest as a day and clock time ("by 16:00", "by tomorrow 10:00").
    BY = "by"
    AFTER_OPENING = "after_opening"  # not before a later opening ("tomorrow after 08:00")
    UNKNOWN = "unknown"  # nothing opens within the horizon, or the work does not fit in it


@dataclass(frozen=True)
class Estimate:
    kind: EstimateKind
    as_of: datetime  # the ``now`` it was made at: WITHIN is relative to it
    time_zone: str  # the queue's, for saying the day and clock time
    earliest: datetime | None = None  # UTC; None only when UNKNOWN
    latest: datetime | None = None

    def __post_init__(self) -> None:
        if (self.kind is EstimateKind.UNKNOWN) != (self.earliest is None or self.latest is None):
            raise ValueError("an estimate has both ends exactly when it is not UNKNOWN")
        if (
            self.earliest is not None
            and self.latest is not None
            and not self.as_of <= self.earliest <= self.latest
        ):
            raise ValueError(f"an estimate runs forward from now: {self!r}")


@dataclass(frozen=True)
class EtaRules:
    default_per_hour: float = 4.0  # cases an open hour clears when nothing was observed
    default_handle: timedelta = timedelta(minutes=8)  # when no handle time was observed
    low: float = 0.5  # the range around the expected work
    high: float = 1.5
    min_span: timedelta = timedelta(minutes=30)  # of open time, for written queues
    live_min_span: timedelta = timedelta(minutes=5)
    relative_for: timedelta = timedelta(hours=8)  # longer waits are said as a day and a clock time
    miss_margin: timedelta = timedelta(minutes=10)  # a slip smaller than this is no miss
    miss_fraction: float = 0.25  # nor one smaller than this share of what was promised

    def __post_init__(self) -> None:
        if not 0 <= self.low <= 1 <= self.high:
            raise ValueError("the range must be low <= 1 <= high")
        if self.default_per_hour <= 0 or self.default_handle <= timedelta(0):
            raise ValueError("default throughput and handle time must be positive")


DEFAULT_RULES = EtaRules()


def estimate(
    stats: QueueStats,
    calendar: QueueCalendar,
    now: datetime,
    *,
    position: int | None = None,
    live: bool = False,
    rules: EtaRules = DEFAULT_RULES,
) -> Estimate:
    """When a case at ``position`` in the queue (1 = next; None: behind the whole backlog, which counts
    the case itself) can expect its first answer."""
    if position is not None and position < 1:
        raise ValueError("a position in the queue counts from 1")
    start = next_opening(calendar, now)
    if start is None:
        return unknown(calendar, now)
    work = work_ahead(stats, start, now, position=position, live=live, rules=rules)
    span = rules.live_min_span if live else rules.min_span
    earliest = add_open_time(calendar, start, work * rules.low)
    latest = add_open_time(calendar, start, max(work * rules.high, work * rules.low + span))
    if earliest is None or latest is None:
        return unknown(calendar, now)
    return round_estimate(calendar, now, earliest, latest, rules)


def work_ahead(
    stats: QueueStats,
    start: datetime,
    now: datetime,
    *,
    position: int | None = None,
    live: bool = False,
    rules: EtaRules = DEFAULT_RULES,
) -> timedelta:
    """The open time until the case's first answer, counted from ``start`` (now, or the next opening)."""
    cases = position if position is not None else max(1, stats.backlog)
    if live:
        agents = _agents(stats, start, now)
        if agents:
            handle = stats.mean_handle_seconds or rules.default_handle.total_seconds()
            # A free agent takes a case at once; the rest wait for one to finish.
            free = stats.agents_eligible_now if start == now else 0
            return timedelta(seconds=max(0, cases - free) * handle / agents)
    return cases / per_open_hour(stats, start, now, rules) * HOUR


def per_open_hour(
    stats: QueueStats, start: datetime, now: datetime, rules: EtaRules = DEFAULT_RULES
) -> float:
    """Cases the queue clears in an open hour: observed completions, else agents times what one agent
    clears an hour, else the configured default."""
    if stats.completions_last_hour > 0:
        return float(stats.completions_last_hour)
    agents = _agents(stats, start, now)
    if agents:
        handle = stats.mean_handle_seconds or rules.default_handle.total_seconds()
        return agents * 3600 / handle
    return rules.default_per_hour


def round_estimate(
    calendar: QueueCalendar,
    now: datetime,
    earliest: datetime,
    latest: datetime,
    rules: EtaRules = DEFAULT_RULES,
) -> Estimate:
    """The raw range rounded outward to what a person would say, and classified by how to say it."""
    if not now <= earliest <= latest:
        raise ValueError("a range to round runs forward from now")
    stretch = current_stretch(calendar, now)
    step = relative_step(latest - now)
    low = now + floor_to(earliest - now, step)
    high = max(now + ceil_to(latest - now, step), low + step)
    # Relative only when the rounded range still ends before closing: "within 3 hours" said at 13:30 must
    # not reach past a 16:00 closing (and a bigger load then never reads as an earlier promise).
    if stretch is not None and high <= stretch[1] and high - now <= rules.relative_for:
        kind = EstimateKind.WITHIN
    elif stretch is not None and earliest <= stretch[1]:
        low = now + floor_to(earliest - now, relative_step(earliest - now))
        high = ceil_to_hour(calendar, latest)
        kind = EstimateKind.BY
    else:
        low = max(now, floor_to_hour(calendar, earliest))
        high = ceil_to_hour(calendar, latest)
        kind = EstimateKind.AFTER_OPENING
    return Estimate(
        kind, now.astimezone(UTC), calendar.time_zone, low.astimezone(UTC), max(low, high).astimezone(UTC)
    )


def will_miss(promised: Estimate, current: Estimate, now: datetime, rules: EtaRules = DEFAULT_RULES) -> bool:
    """Whether the estimate the customer was given will be missed, so an updated one should go out. Asked
    only about cases still waiting: a promise whose latest has passed is missed. A slip smaller than the
    margin (the larger of ``miss_margin`` and ``miss_fraction`` of the promised wait) is not, so a queue
    hovering around a boundary does not send message after message."""
    if promised.latest is None:
        return False  # nothing was promised
    if now > promised.latest:
        return True
    if current.latest is None:
        return True  # the work no longer fits in the horizon at all
    margin = max(rules.miss_margin, (promised.latest - promised.as_of) * rules.miss_fraction)
    return current.latest > promised.latest + margin


def unknown(calendar: QueueCalendar, now: datetime) -> Estimate:
    return Estimate(EstimateKind.UNKNOWN, now.astimezone(UTC), calendar.time_zone)


def relative_step(ahead: timedelta) -> timedelta:
    """The step a wait this long is said in: 5 minutes up to half an hour, 15 up to an hour, then hours."""
    if ahead <= timedelta(minutes=30):
        return timedelta(minutes=5)
    if ahead <= HOUR:
        return timedelta(minutes=15)
    return HOUR


def floor_to(duration: timedelta, step: timedelta) -> timedelta:
    return duration // step * step


def ceil_to(duration: timedelta, step: timedelta) -> timedelta:
    return -(-duration // step) * step


def floor_to_hour(calendar: QueueCalendar, instant: datetime) -> datetime:
    """The local whole hour at or before ``instant``, but not before the opening it falls in: work that can
    start at an 08:30 opening is "after 08:30", not "after 08:00"."""
    local = instant.astimezone(calendar.zone)
    floored = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    interval = interval_around(calendar, instant)
    return max(floored, interval[0]) if interval is not None else floored


def ceil_to_hour(calendar: QueueCalendar, instant: datetime) -> datetime:
    """The local whole hour at or after ``instant``, but not after the closing it falls before: work done
    before a 15:45 closing is done "by 15:45"."""
    local = instant.astimezone(calendar.zone)
    floored = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    ceiled = floored if floored == instant else floored + HOUR
    interval = interval_around(calendar, instant)
    return min(ceiled, interval[1]) if interval is not None else ceiled


def _agents(stats: QueueStats, start: datetime, now: datetime) -> int:
    """The agents who will work the queue from ``start``: those there now while open, else those
    scheduled in the hour of the opening."""
    if start == now and stats.agents_present_now > 0:
        return max(stats.agents_present_now, stats.agents_eligible_now)
    for hour in stats.scheduled:
        if hour.hour_start <= start < hour.hour_start + HOUR:
            return hour.agents_scheduled
    return 0
