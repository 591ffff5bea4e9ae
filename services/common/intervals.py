"""Time intervals as (start, end) pairs: working hours, opening hours."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

Interval = tuple[datetime, datetime]


def joined(intervals: Sequence[Interval]) -> list[Interval]:
    """Sorted, with overlapping and touching intervals made one (08-12 and 12-16 are 08-16)."""
    result: list[Interval] = []
    for start, end in sorted(intervals):
        if result and start <= result[-1][1]:
            result[-1] = (result[-1][0], max(result[-1][1], end))
        else:
            result.append((start, end))
    return result
