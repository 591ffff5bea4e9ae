from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from schemas.commerce import OrderStatus
from schemas.customers import LifecycleStage, Tier
from services.profile.core.observe import ObservedEvent
from services.profile.core.value import CustomerValue, ValueConfig, customer_value, tier_of
from tests.profile.unit.profile_builders import NOW, order

DAY = timedelta(days=1)


def value_of(
    *events: ObservedEvent, stage: LifecycleStage = LifecycleStage.ACTIVE, config: ValueConfig | None = None
) -> CustomerValue:
    changes = [e.order for e in events if e.order is not None]
    return customer_value(changes, stage, config or ValueConfig(), NOW)


def test_orders_add_and_returns_subtract() -> None:
    value = value_of(
        order("e1", "o1", OrderStatus.PLACED, "1000", at=NOW - 10 * DAY),
        order("e2", "o2", OrderStatus.PLACED, "500", at=NOW - 4 * DAY),
        order("e3", "o2", OrderStatus.RETURNED, "200", at=NOW - 2 * DAY, reference="ret-1"),
    )

    assert value.historic_value == Decimal("1300.00")
    assert value.frequency == 2
    assert value.monetary == Decimal("650.00")
    assert value.recency_days == 4


def test_a_return_then_refunded_counts_once() -> None:
    value = value_of(
        order("e1", "o1", OrderStatus.PLACED, "800"),
        order("e2", "o1", OrderStatus.RETURNED, "300"),
        order("e3", "o1", OrderStatus.REFUNDED, "300", reference="rf-1"),
    )

    assert value.historic_value == Decimal("500.00")


def test_refunds_with_different_references_add_up_but_never_below_zero() -> None:
    value = value_of(
        order("e1", "o1", OrderStatus.PLACED, "800"),
        order("e2", "o1", OrderStatus.REFUNDED, "500", reference="rf-1"),
        order("e3", "o1", OrderStatus.REFUNDED, "500", reference="rf-2"),
    )

    assert value.historic_value == Decimal("0.00")


def test_an_amended_order_counts_with_its_newest_amount() -> None:
    value = value_of(
        order("e1", "o1", OrderStatus.PLACED, "800", at=NOW - DAY),
        order("e2", "o1", OrderStatus.PLACED, "650", at=NOW),
    )

    assert (value.historic_value, value.frequency) == (Decimal("650.00"), 1)


def test_a_refund_for_an_order_never_seen_placed_changes_nothing() -> None:
    value = value_of(order("e1", "o9", OrderStatus.REFUNDED, "300", reference="rf"))

    assert (value.historic_value, value.frequency, value.recency_days) == (Decimal("0.00"), 0, None)


def test_other_currencies_count_by_the_configured_rate_and_are_kept_apart() -> None:
    config = ValueConfig(exchange_rates={"SEK": Decimal("0.98")})
    value = value_of(
        order("e1", "o1", OrderStatus.PLACED, "1000"),
        order("e2", "o2", OrderStatus.PLACED, "1000", currency="SEK"),
        order("e3", "o3", OrderStatus.PLACED, "1000", currency="EUR"),
        config=config,
    )

    assert value.historic_value == Decimal("1980.00")
    assert value.historic_by_currency == {"NOK": Decimal(1000), "SEK": Decimal(1000), "EUR": Decimal(1000)}
    assert value.frequency == 3
    assert value.orders_without_rate == 1  # the EUR order: not in value, but not lost from sight


def test_swedish_and_danish_orders_count_by_default_and_an_unknown_currency_is_counted_apart() -> None:
    value = value_of(
        order("e1", "o1", OrderStatus.PLACED, "1000", currency="SEK"),
        order("e2", "o2", OrderStatus.PLACED, "1000", currency="DKK"),
        order("e3", "o3", OrderStatus.PLACED, "1000", currency="CHF"),
    )

    rates = ValueConfig().exchange_rates
    assert value.historic_value == (1000 * rates["SEK"] + 1000 * rates["DKK"]).quantize(Decimal("0.01"))
    assert value.historic_value > Decimal(2000)
    assert (value.frequency, value.orders_without_rate) == (3, 1)


def test_predicted_lifetime_value_follows_the_documented_formula() -> None:
    # Two orders of 1000 within the first year: 2 orders/year x 1000 x 3 years + 2000 historic.
    value = value_of(
        order("e1", "o1", OrderStatus.PLACED, "1000", at=NOW - 100 * DAY),
        order("e2", "o2", OrderStatus.PLACED, "1000", at=NOW - 10 * DAY),
    )

    assert value.predicted_lifetime_value == Decimal("8000.00")


def test_at_risk_halves_and_churned_drops_the_future_part() -> None:
    events = (order("e1", "o1", OrderStatus.PLACED, "1000", at=NOW - 100 * DAY),)

    assert value_of(*events, stage=LifecycleStage.AT_RISK).predicted_lifetime_value == Decimal("2500.00")
    assert value_of(*events, stage=LifecycleStage.CHURNED).predicted_lifetime_value == Decimal("1000.00")


def test_tiers_follow_configurable_thresholds() -> None:
    config = ValueConfig()
    assert tier_of(Decimal("4999.99"), config) is Tier.STANDARD
    assert tier_of(Decimal(5000), config) is Tier.SILVER
    assert tier_of(Decimal(20000), config) is Tier.GOLD
    assert tier_of(Decimal(100000), config) is Tier.PLATINUM
    assert tier_of(Decimal(100), ValueConfig(tiers=((Tier.GOLD, Decimal(100)),))) is Tier.GOLD
