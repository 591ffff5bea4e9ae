"""The priority score: its parts, the SLA ramp, recovery, the value cap and starvation."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.customers import Tier
from schemas.interactions import Channel
from services.routing.core.rules import ScoreWeights
from services.routing.core.score import score, starving, static_points, waiting_points
from tests.routing.unit.routing_builders import NOW, RULES, case

WEIGHTS = ScoreWeights()
CHAT = RULES.queue("chat")  # SLA two minutes, starving after ten
PARTS = ("tier", "value", "channel", "aging", "sla", "recovery")


def test_every_part_of_a_score() -> None:
    gold = case(
        tier=Tier.GOLD,
        predicted_value="8000",
        needs_recovery=True,
        waited=timedelta(minutes=1),
    )

    parts = score(gold, CHAT, WEIGHTS, NOW)

    assert (parts.tier, parts.value, parts.channel) == (25.0, 8.0, 25.0)
    assert parts.aging == 1.0  # one point a minute
    assert parts.sla == 15.0  # half way to the two-minute SLA
    assert parts.recovery == 25.0
    assert parts.total == 99.0
    assert not parts.starving


@settings(max_examples=200, deadline=None)
@given(
    tier=st.sampled_from(list(Tier)),
    channel=st.sampled_from(list(Channel)),
    value=st.decimals(min_value=-100000, max_value=100000, places=2),
    recovery=st.booleans(),
    waited_ms=st.integers(min_value=-60_000, max_value=50_000_000),
)
def test_the_parts_add_up_to_the_total(
    tier: Tier, channel: Channel, value: Decimal, recovery: bool, waited_ms: int
) -> None:
    scored = case(
        tier=tier,
        channel=channel,
        predicted_value=str(value),
        needs_recovery=recovery,
        waited=timedelta(milliseconds=waited_ms),
    )

    parts = score(scored, CHAT, WEIGHTS, NOW)

    assert parts.total == pytest.approx(sum(getattr(parts, name) for name in PARTS), abs=1e-9)
    # The backlog ranks by the same score, unrounded.
    unrounded = static_points(scored, WEIGHTS) + waiting_points(waited_ms / 1000, CHAT, WEIGHTS)
    assert parts.total == pytest.approx(unrounded, abs=0.01)


@pytest.mark.parametrize(
    ("waited", "sla_points"),
    [
        (timedelta(0), 0.0),
        (timedelta(seconds=30), 7.5),
        (timedelta(seconds=60), 15.0),
        (timedelta(seconds=119), 29.75),
        (timedelta(minutes=2), 30.0),  # the SLA: the ramp reaches its top
        (timedelta(minutes=9), 30.0),  # and stays there
    ],
)
def test_the_sla_part_ramps_up_to_its_max_at_the_queue_sla(waited: timedelta, sla_points: float) -> None:
    assert score(case(waited=waited), CHAT, WEIGHTS, NOW).sla == sla_points


def test_the_sla_ramp_follows_the_queues_own_sla() -> None:
    messaging = RULES.queue("messaging")  # SLA 30 minutes
    waited = timedelta(minutes=15)

    assert score(case(queue="messaging", waited=waited), messaging, WEIGHTS, NOW).sla == 15.0
    assert score(case(waited=waited), CHAT, WEIGHTS, NOW).sla == 30.0


def test_a_zero_sla_is_met_at_once() -> None:
    instant = replace(CHAT, sla=timedelta(0))

    assert score(case(waited=timedelta(0)), instant, WEIGHTS, NOW).sla == WEIGHTS.sla


def test_aging_is_one_point_a_minute_and_never_negative() -> None:
    assert score(case(waited=timedelta(minutes=45)), CHAT, WEIGHTS, NOW).aging == 45.0
    future = score(case(waited=timedelta(seconds=-30)), CHAT, WEIGHTS, NOW)
    assert (future.aging, future.sla) == (0.0, 0.0)


def test_recovery_boosts_by_the_configured_points() -> None:
    plain = score(case(), CHAT, WEIGHTS, NOW)
    recovering = score(case(needs_recovery=True), CHAT, WEIGHTS, NOW)

    assert plain.recovery == 0.0
    assert recovering.recovery == WEIGHTS.recovery
    assert recovering.total - plain.total == pytest.approx(WEIGHTS.recovery)


@pytest.mark.parametrize(
    ("predicted", "points"),
    [("0", 0.0), ("1500", 1.5), ("20000", 20.0), ("250000", 20.0), ("-5000", 0.0)],
)
def test_value_is_a_point_per_thousand_capped_and_never_negative(predicted: str, points: float) -> None:
    assert score(case(predicted_value=predicted), CHAT, WEIGHTS, NOW).value == points


def test_the_value_cap_comes_from_the_weights() -> None:
    rich = case(predicted_value="250000")
    weights = ScoreWeights(value_cap=50.0)

    assert score(rich, CHAT, weights, NOW).value == 50.0
    assert static_points(rich, weights) - static_points(rich, WEIGHTS) == pytest.approx(30.0)


def test_tier_and_channel_points_come_from_the_weights() -> None:
    assert score(case(tier=Tier.PLATINUM), CHAT, WEIGHTS, NOW).tier == 40.0
    assert score(case(tier=Tier.STANDARD), CHAT, WEIGHTS, NOW).tier == 0.0
    assert score(case(channel=Channel.PHONE), CHAT, WEIGHTS, NOW).channel == 30.0
    assert score(case(channel=Channel.EMAIL), CHAT, WEIGHTS, NOW).channel == 0.0


def test_a_case_starves_at_the_queues_starvation_cap() -> None:
    cap = CHAT.starvation_after

    assert not starving(case(waited=cap - timedelta(seconds=1)), CHAT, NOW)
    assert starving(case(waited=cap), CHAT, NOW)
    assert not score(case(waited=cap - timedelta(seconds=1)), CHAT, WEIGHTS, NOW).starving
    assert score(case(waited=cap), CHAT, WEIGHTS, NOW).starving


def test_waiting_points_never_shrink_as_time_passes() -> None:
    seconds = [0, 1, 59, 60, 119, 120, 121, 600, 6000]
    points = [waiting_points(second, CHAT, WEIGHTS) for second in seconds]

    assert points == sorted(points)
    assert waiting_points(-10, CHAT, WEIGHTS) == 0.0
