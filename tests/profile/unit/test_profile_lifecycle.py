from __future__ import annotations

from datetime import timedelta

import pytest

from schemas.commerce import OrderStatus
from schemas.customers import LifecycleStage
from services.profile.core.lifecycle import LifecycleConfig, stage_of
from services.profile.core.profile import ProfileConfig, fold
from tests.profile.unit.profile_builders import NOW, message, order

DAY = timedelta(days=1)
CONFIG = LifecycleConfig()


@pytest.mark.parametrize(
    ("days_ago", "expected"),
    [
        ((), LifecycleStage.PROSPECT),
        ((10,), LifecycleStage.NEW),
        ((200, 10), LifecycleStage.ACTIVE),
        ((200,), LifecycleStage.AT_RISK),
        ((400,), LifecycleStage.CHURNED),
        ((700, 20), LifecycleStage.WON_BACK),
        ((900, 400), LifecycleStage.CHURNED),
        ((900, 300, 100), LifecycleStage.ACTIVE),  # the comeback was 300 days ago: no longer "won back"
    ],
)
def test_stages_from_purchase_history(days_ago: tuple[int, ...], expected: LifecycleStage) -> None:
    assert stage_of([NOW - n * DAY for n in days_ago], CONFIG, NOW) is expected


def test_thresholds_are_configurable() -> None:
    quick = LifecycleConfig(at_risk_after=timedelta(days=30), churned_after=timedelta(days=60))
    assert stage_of([NOW - 45 * DAY], quick, NOW) is LifecycleStage.AT_RISK
    assert stage_of([NOW - 61 * DAY], quick, NOW) is LifecycleStage.CHURNED


def test_time_alone_moves_the_stage() -> None:
    purchases = [NOW - 10 * DAY]
    assert stage_of(purchases, CONFIG, NOW) is LifecycleStage.NEW
    assert stage_of(purchases, CONFIG, NOW + 100 * DAY) is LifecycleStage.ACTIVE
    assert stage_of(purchases, CONFIG, NOW + 200 * DAY) is LifecycleStage.AT_RISK


def test_a_late_order_recomputes_the_stage() -> None:
    contact = message("m1", at=NOW - 500 * DAY)
    old = order("e1", "o1", OrderStatus.PLACED, "100", at=NOW - 500 * DAY)
    late = order("e2", "o2", OrderStatus.PLACED, "100", at=NOW - 5 * DAY)

    assert fold("c", [contact], ProfileConfig(), NOW).lifecycle is LifecycleStage.PROSPECT
    assert fold("c", [contact, old], ProfileConfig(), NOW).lifecycle is LifecycleStage.CHURNED
    assert fold("c", [late, contact, old], ProfileConfig(), NOW).lifecycle is LifecycleStage.WON_BACK
