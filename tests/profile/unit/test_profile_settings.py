"""Profile's value, lifecycle and identity thresholds come from ``HELHET_`` settings: JSON maps name only
what they change (the rest keep the documented defaults), and nonsense is refused at start-up."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from schemas.customers import Tier
from schemas.identifiers import IdentifierKind
from services.profile.core.identity import IdentityConfig
from services.profile.core.lifecycle import LifecycleConfig
from services.profile.core.value import ValueConfig
from services.profile.settings import ProfileSettings


def test_without_settings_the_configs_are_the_documented_defaults() -> None:
    settings = ProfileSettings()

    profile = settings.profile_config()
    assert profile.value == ValueConfig()
    assert profile.lifecycle == LifecycleConfig()
    assert settings.identity_config() == IdentityConfig()
    assert {"NOK", "SEK", "DKK", "EUR", "USD", "GBP"} <= set(profile.value.exchange_rates)


def test_environment_variables_change_only_what_they_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELHET_TIER_THRESHOLDS", '{"gold": 25000}')
    monkeypatch.setenv("HELHET_EXCHANGE_RATES", '{"sek": 1.02, "CHF": 12.5}')
    monkeypatch.setenv("HELHET_LIFECYCLE_AT_RISK_DAYS", "120")
    monkeypatch.setenv("HELHET_LIFECYCLE_CHURNED_DAYS", "300")
    monkeypatch.setenv("HELHET_IDENTIFIER_CAPS", '{"cookie": 100}')
    monkeypatch.setenv("HELHET_BLOCKED_IDENTIFIER_KEYS", '["phone:+4722000000"]')
    settings = ProfileSettings()

    value = settings.profile_config().value
    assert value.tiers == (
        (Tier.SILVER, Decimal(5_000)),
        (Tier.GOLD, Decimal(25_000)),
        (Tier.PLATINUM, Decimal(75_000)),
    )
    assert (value.exchange_rates["SEK"], value.exchange_rates["CHF"]) == (Decimal("1.02"), Decimal("12.5"))
    assert value.exchange_rates["DKK"] == ValueConfig().exchange_rates["DKK"]
    lifecycle = settings.profile_config().lifecycle
    assert (lifecycle.at_risk_after, lifecycle.churned_after) == (timedelta(days=120), timedelta(days=300))
    assert lifecycle.new_for == LifecycleConfig().new_for
    identity = settings.identity_config()
    assert (identity.caps[IdentifierKind.COOKIE], identity.caps[IdentifierKind.EMAIL]) == (100, 5)
    assert identity.blocked_keys == frozenset({"phone:+4722000000"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HELHET_TIER_THRESHOLDS", '{"standard": 100}'),
        ("HELHET_TIER_THRESHOLDS", '{"silver": 30000}'),  # above gold
        ("HELHET_EXCHANGE_RATES", '{"SEK": 0}'),
        ("HELHET_EXCHANGE_RATES", '{"NOK": 2}'),
        ("HELHET_IDENTIFIER_CAPS", '{"email": 0}'),
        ("HELHET_LIFECYCLE_AT_RISK_DAYS", "400"),  # after churned
    ],
)
def test_nonsense_is_refused_at_start_up(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError, match=name):
        ProfileSettings()
