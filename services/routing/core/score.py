"""The one priority score of a case (the formula is documented in ``rules``)."""

from __future__ import annotations

from datetime import datetime

from schemas.routing import ScoreParts
from services.routing.core.cases import QueuedCase
from services.routing.core.rules import QueueRules, ScoreWeights


def static_points(case: QueuedCase, weights: ScoreWeights) -> float:
    """The part that does not change while the case waits."""
    value = min(weights.value_cap, weights.value_per_1000 * float(case.predicted_value) / 1000.0)
    return (
        weights.tier.get(case.tier, 0.0)
        + max(0.0, value)
        + weights.channel.get(case.channel, 0.0)
        + (weights.recovery if case.needs_recovery else 0.0)
    )


def waiting_points(waited_seconds: float, queue: QueueRules, weights: ScoreWeights) -> float:
    """The part that grows while the case waits (never shrinks, so the oldest of equals ranks first)."""
    waited = max(0.0, waited_seconds)
    sla_seconds = queue.sla.total_seconds()
    ramp = min(1.0, waited / sla_seconds) if sla_seconds > 0 else 1.0
    return weights.aging_per_minute * waited / 60.0 + weights.sla * ramp


def starving(case: QueuedCase, queue: QueueRules, now: datetime) -> bool:
    return now - case.waiting_since >= queue.starvation_after


def score(case: QueuedCase, queue: QueueRules, weights: ScoreWeights, now: datetime) -> ScoreParts:
    waited = max(0.0, (now - case.waiting_since).total_seconds())
    sla_seconds = queue.sla.total_seconds()
    value = max(0.0, min(weights.value_cap, weights.value_per_1000 * float(case.predicted_value) / 1000.0))
    parts = {
        "tier": weights.tier.get(case.tier, 0.0),
        "value": value,
        "channel": weights.channel.get(case.channel, 0.0),
        "aging": weights.aging_per_minute * waited / 60.0,
        "sla": weights.sla * (min(1.0, waited / sla_seconds) if sla_seconds > 0 else 1.0),
        "recovery": weights.recovery if case.needs_recovery else 0.0,
    }
    # The total is the sum of the published parts, so a reader adding them up gets the total.
    rounded = {name: round(points, 3) for name, points in parts.items()}
    return ScoreParts(**rounded, total=round(sum(rounded.values()), 3), starving=starving(case, queue, now))
