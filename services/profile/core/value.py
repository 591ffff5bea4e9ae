"""Customer value: recency, frequency, monetary; historic value net of returns and refunds; a simple
predicted lifetime value; and a tier from configurable thresholds.

Order changes are kept per event; one order's changes are reduced here, so a redelivered or amended
change never counts twice:
- the order's amount is that of its newest ``placed`` change;
- money back is the larger of its returns and its refunds (a return that is then refunded is one loss,
  not two), each keyed by the shop's ``reference`` with the newest change per reference; capped at the
  order's amount;
- an order whose ``placed`` change we have not seen adds nothing and loses nothing.

Predicted lifetime value = historic value
    + average net order value * orders per year * horizon years * retention of the lifecycle stage,
where orders per year = orders / max(1, years since the first order).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from schemas.commerce import OrderStatus
from schemas.customers import LifecycleStage, Tier

_CENT = Decimal("0.01")
_SECOND = timedelta(seconds=1)
_YEAR_SECONDS = Decimal(365.25 * 24 * 3600)


@dataclass(frozen=True)
class OrderChange:
    order_id: str
    status: OrderStatus
    amount: Decimal
    currency: str
    reference: str | None
    occurred_at: datetime
    event_id: str

    @property
    def stamp(self) -> tuple[datetime, str]:
        return (self.occurred_at, self.event_id)


def default_tiers() -> tuple[tuple[Tier, Decimal], ...]:
    return ((Tier.SILVER, Decimal(5_000)), (Tier.GOLD, Decimal(20_000)), (Tier.PLATINUM, Decimal(75_000)))


def default_exchange_rates() -> Mapping[str, Decimal]:
    """NOK per unit of each currency the shops sell in. Approximate (late 2025) and meant to be configured
    (``HELHET_VALUE_EXCHANGE_RATES``): they only rank customers, so a few percent off moves little."""
    return {
        "NOK": Decimal(1),
        "SEK": Decimal("1.05"),
        "DKK": Decimal("1.57"),
        "EUR": Decimal("11.70"),
        "USD": Decimal("10.10"),
        "GBP": Decimal("13.50"),
    }


def _default_retention() -> Mapping[LifecycleStage, Decimal]:
    return {LifecycleStage.AT_RISK: Decimal("0.5"), LifecycleStage.CHURNED: Decimal(0)}


@dataclass(frozen=True)
class ValueConfig:
    currency: str = "NOK"  # value, lifetime value and tier are reckoned in this currency
    # Major units of ``currency`` per major unit of another. An order in a currency without a rate adds
    # nothing to value or tier; it is counted in ``CustomerValue.orders_without_rate``.
    exchange_rates: Mapping[str, Decimal] = field(default_factory=default_exchange_rates)
    # The smallest historic value (in ``currency``) of each tier above standard.
    tiers: tuple[tuple[Tier, Decimal], ...] = field(default_factory=default_tiers)
    horizon_years: Decimal = Decimal(3)
    # Expected share of future purchases per stage; stages not listed keep 1.
    retention: Mapping[LifecycleStage, Decimal] = field(default_factory=_default_retention)


@dataclass(frozen=True)
class CustomerValue:
    recency_days: int | None  # days since the latest purchase; None before the first
    frequency: int  # orders placed
    monetary: Decimal  # average net order value, in the configured currency
    historic_value: Decimal  # net of returns and refunds, in the configured currency
    historic_by_currency: Mapping[str, Decimal]  # net per order currency, before conversion
    predicted_lifetime_value: Decimal
    tier: Tier
    orders_without_rate: int = 0  # orders in a currency without an exchange rate: not in value nor tier


@dataclass(frozen=True)
class _Order:
    placed: OrderChange
    net: Decimal


def _orders(changes: Iterable[OrderChange]) -> list[_Order]:
    placed: dict[str, OrderChange] = {}
    money_back: dict[tuple[str, OrderStatus, str | None], OrderChange] = {}
    for change in changes:
        if change.status is OrderStatus.PLACED:
            if (seen := placed.get(change.order_id)) is None or change.stamp > seen.stamp:
                placed[change.order_id] = change
        elif change.status in (OrderStatus.RETURNED, OrderStatus.REFUNDED):
            key = (change.order_id, change.status, change.reference)
            if (seen := money_back.get(key)) is None or change.stamp > seen.stamp:
                money_back[key] = change
    back: dict[tuple[str, OrderStatus], Decimal] = defaultdict(Decimal)
    for (order_id, status, _), change in money_back.items():
        back[(order_id, status)] += change.amount
    orders = []
    for order_id, order in placed.items():
        lost = max(back[(order_id, OrderStatus.RETURNED)], back[(order_id, OrderStatus.REFUNDED)])
        orders.append(_Order(order, order.amount - min(lost, order.amount)))
    return orders


def purchase_times(changes: Iterable[OrderChange]) -> list[datetime]:
    """When each order was placed (its earliest ``placed`` change), for the lifecycle."""
    first: dict[str, datetime] = {}
    for change in changes:
        if change.status is OrderStatus.PLACED:
            first[change.order_id] = min(first.get(change.order_id, change.occurred_at), change.occurred_at)
    return list(first.values())


def tier_of(historic_value: Decimal, config: ValueConfig) -> Tier:
    reached = [(minimum, tier) for tier, minimum in config.tiers if historic_value >= minimum]
    return max(reached)[1] if reached else Tier.STANDARD


def customer_value(
    changes: Collection[OrderChange], stage: LifecycleStage, config: ValueConfig, now: datetime
) -> CustomerValue:
    orders = _orders(changes)
    by_currency: dict[str, Decimal] = defaultdict(Decimal)
    converted: list[Decimal] = []
    without_rate = 0
    for order in orders:
        by_currency[order.placed.currency] += order.net
        rate = (
            Decimal(1)
            if order.placed.currency == config.currency
            else config.exchange_rates.get(order.placed.currency)
        )
        if rate is None:
            without_rate += 1
        else:
            converted.append(order.net * rate)
    historic = sum(converted, Decimal(0))
    average = historic / len(converted) if converted else Decimal(0)
    times = purchase_times(changes)
    predicted = historic
    if times:
        years = max(Decimal(1), Decimal((now - min(times)) // _SECOND) / _YEAR_SECONDS)
        per_year = Decimal(len(orders)) / years
        predicted += average * per_year * config.horizon_years * config.retention.get(stage, Decimal(1))
    return CustomerValue(
        recency_days=max(0, (now - max(times)).days) if times else None,
        frequency=len(orders),
        monetary=average.quantize(_CENT, ROUND_HALF_EVEN),
        historic_value=historic.quantize(_CENT, ROUND_HALF_EVEN),
        historic_by_currency=dict(by_currency),
        predicted_lifetime_value=predicted.quantize(_CENT, ROUND_HALF_EVEN),
        tier=tier_of(historic, config),
        orders_without_rate=without_rate,
    )
