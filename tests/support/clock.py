"""A test's ``now``, for services that take their clock as an argument."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Starts at the real time (heartbeats and broker timestamps are compared with it) and moves only
    when told. Whole milliseconds, as BSON stores instants."""

    def __init__(self) -> None:
        now = datetime.now(UTC)
        self.now = now.replace(microsecond=now.microsecond // 1000 * 1000)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now
