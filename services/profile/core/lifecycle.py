"""Lifecycle stage from purchase history and ``now``: prospect → new → active → at-risk → churned → won back.

A function of the set of purchase times, so a late order changes the stage exactly as if it had arrived
in order, and the stage moves with time without any event (call it again with a later ``now``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from schemas.customers import LifecycleStage


@dataclass(frozen=True)
class LifecycleConfig:
    new_for: timedelta = timedelta(days=90)  # a customer is new this long after the first purchase
    at_risk_after: timedelta = timedelta(days=180)  # without a purchase
    churned_after: timedelta = timedelta(days=365)  # without a purchase; also the gap that makes a comeback
    won_back_for: timedelta = timedelta(days=180)  # a comeback counts as won back this long


def stage_of(purchases: Iterable[datetime], config: LifecycleConfig, now: datetime) -> LifecycleStage:
    ordered = sorted(purchases)
    if not ordered:
        return LifecycleStage.PROSPECT
    since_last = now - ordered[-1]
    if since_last > config.churned_after:
        return LifecycleStage.CHURNED
    if since_last > config.at_risk_after:
        return LifecycleStage.AT_RISK
    comeback = next(
        (
            later
            for earlier, later in zip(reversed(ordered[:-1]), reversed(ordered[1:]), strict=True)
            if later - earlier > config.churned_after
        ),
        None,
    )
    if comeback is not None and now - comeback <= config.won_back_for:
        return LifecycleStage.WON_BACK
    if now - ordered[0] <= config.new_for:
        return LifecycleStage.NEW
    return LifecycleStage.ACTIVE


def next_stage_change(
    purchases: Iterable[datetime], config: LifecycleConfig, now: datetime
) -> datetime | None:
    """The first threshold at or after ``now`` past which ``stage_of`` may answer differently with no
    new purchase (the stage moves just after it); None when time alone moves it no more."""
    ordered = sorted(purchases)
    if not ordered:
        return None
    return _first_at_or_after(
        now,
        [
            ordered[-1] + config.at_risk_after,
            ordered[-1] + config.churned_after,
            ordered[0] + config.new_for,
            *(
                later + config.won_back_for
                for earlier, later in pairwise(ordered)
                if later - earlier > config.churned_after
            ),
        ],
    )


def _first_at_or_after(now: datetime, instants: Sequence[datetime]) -> datetime | None:
    return min((instant for instant in instants if instant >= now), default=None)
