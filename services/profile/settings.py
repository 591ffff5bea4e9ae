"""Profile settings (``HELHET_`` environment variables)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Self

from pydantic import Field, SecretStr, model_validator

from schemas.customers import Tier
from schemas.identifiers import IdentifierKind
from services.common.settings import CommonSettings
from services.profile.core.identity import IdentityConfig, default_caps
from services.profile.core.lifecycle import LifecycleConfig
from services.profile.core.profile import ProfileConfig
from services.profile.core.value import ValueConfig, default_exchange_rates, default_tiers

# The profile card's development link secret: public knowledge, refused outside development.
DEVELOPMENT_CARD_LINK_SECRET = "helhet-dev-card-link-secret-0123456789abcdef"  # noqa: S105 - documented dev default


class ProfileSettings(CommonSettings):
    service_name: str = "profile"
    api_port: int = 8002
    # National phone numbers in lookups ("91234567") are read as this region's.
    default_phone_region: str = "NO"
    # The consumer group: every profile worker shares it, so partitions are split between them.
    worker_app_id: str = "helhet-profile"
    # A batch is this many events, or what arrived within the time after the last batch; one set of bulk
    # writes each. What arrives while a batch is written waits for the next, so batches grow with the load
    # by themselves, and the time only adds latency (publish to timeline, 15 s at 1,000 events/s: p99
    # 0.73 s at 0.1 s, 0.19-0.24 s at 0.01 s; at 150 events/s 0.16 s and 0.05 s; a burst as fast or faster).
    worker_batch_size: int = 500
    worker_batch_within_seconds: float = 0.01
    # Customers the worker keeps as it last read or wrote them, so the next batch about them need not read
    # them (a write planned from an outdated copy loses its compare-and-set and reads again); 0: none.
    # Measured: 20,000 bench customers (two events each) held 93 MB; long histories hold more.
    worker_customer_cache_size: int = Field(default=10_000, ge=0)
    # A batch whose database write failed is retried after this long (doubling up to the maximum);
    # its offsets are not committed meanwhile.
    worker_retry_initial_seconds: float = 0.5
    worker_retry_max_seconds: float = 30.0
    # How often the worker (its leader) looks for customers that time alone may have moved (lifecycle,
    # broken call-back promises, the experience window), and how many it asks about at most each time.
    refresh_interval_seconds: float = Field(default=300.0, gt=0)
    refresh_batch_size: int = Field(default=1000, ge=1, le=10_000)
    # Shared identifiers that must never link customers, e.g. "phone:+4722000000" (a shop's phone).
    blocked_identifier_keys: frozenset[str] = frozenset()
    # Most identifiers of a kind one customer links, as JSON naming only the kinds to change (the others
    # keep services/profile/core/identity.py's caps), e.g. HELHET_IDENTIFIER_CAPS='{"cookie": 100}'.
    identifier_caps: dict[IdentifierKind, int] = {}

    # Customer value is reckoned in NOK. The smallest historic value of a tier, as JSON naming the tiers
    # to change (silver 5000, gold 20000, platinum 75000 by default): HELHET_TIER_THRESHOLDS='{"gold": 25000}'
    tier_thresholds: dict[Tier, Decimal] = {}
    # NOK per unit of another currency, as JSON naming the rates to change, e.g.
    # HELHET_EXCHANGE_RATES='{"SEK": 1.02}'. The defaults (SEK, DKK, EUR, USD, GBP in
    # services/profile/core/value.py) are approximate: set current ones. An order in a currency without a
    # rate adds nothing to value and tier, and is counted in the summary's ``orders_without_rate``.
    exchange_rates: dict[str, Decimal] = {}
    # Lifecycle, in days: new this long after the first purchase; at risk, then churned, this long without
    # one (a purchase after a churned-long gap is a comeback); won back this long after a comeback.
    lifecycle_new_days: int = Field(default=90, ge=1)
    lifecycle_at_risk_days: int = Field(default=180, ge=1)
    lifecycle_churned_days: int = Field(default=365, ge=1)
    lifecycle_won_back_days: int = Field(default=180, ge=1)
    # Rows per OData page before @odata.nextLink (Salesforce Connect reads at most 2,000).
    odata_page_size: int = Field(default=2_000, ge=1, le=2_000)
    # OData reads not narrowed by a key (Id, CustomerId, Email, Phone) may read every document: this
    # many run at once per API process; others wait this long, then get 503 (a flood of full scans
    # once ran mongo-java-server out of memory).
    odata_wide_reads: int = Field(default=4, ge=1)
    odata_wide_wait_seconds: float = Field(default=10.0, gt=0)
    # Change notifications to CRMs (signed webhooks; the ``webhooks`` role). Its consumer group reads
    # profiles.v1 and cases.v1 with plain aiokafka (faust stalls on a compacted topic's offset gaps).
    webhook_group_id: str = "helhet-profile-webhooks"
    # http to 127.0.0.1 is accepted as a receiver URL (local runs and tests only); otherwise https only.
    webhook_allow_insecure_urls: bool = False
    webhook_consume_batch_size: int = 500
    # How long the dispatcher sleeps when nothing was due.
    webhook_poll_seconds: float = 0.5
    webhook_dispatch_batch_size: int = 200
    webhook_concurrency: int = 16
    webhook_timeout_seconds: float = 10.0
    # Tries within one attempt for a lost connection or a 429/502/503/504 (seconds apart at most).
    webhook_send_attempts: int = 2
    # Between attempts: doubling from the initial wait up to the maximum; dead after the give-up time.
    webhook_retry_initial_seconds: float = 5.0
    webhook_retry_max_seconds: float = 3600.0
    webhook_give_up_after_seconds: float = 86_400.0

    # The profile card (inside CRMs). Its links are signed with a key per integration derived from this
    # secret (HELHET_CARD_LINK_SECRET); the development default is refused outside development.
    card_link_secret: SecretStr = SecretStr(DEVELOPMENT_CARD_LINK_SECRET)
    # A minted link lives this long unless the caller asks for less (never longer than the maximum).
    card_link_default_ttl_seconds: int = 300
    card_link_max_ttl_seconds: int = 900
    # When neither the link's lang nor the agent's browser names nb, sv, da or en.
    card_default_language: str = "nb"
    # Times on the card are shown in this zone.
    card_time_zone: str = "Europe/Oslo"

    def identity_config(self) -> IdentityConfig:
        return IdentityConfig(
            blocked_keys=self.blocked_identifier_keys, caps={**default_caps(), **self.identifier_caps}
        )

    def profile_config(self) -> ProfileConfig:
        return ProfileConfig(
            value=ValueConfig(
                exchange_rates=self._exchange_rates(),
                tiers=tuple(sorted(self._tier_thresholds().items(), key=lambda tier: tier[1])),
            ),
            lifecycle=LifecycleConfig(
                new_for=timedelta(days=self.lifecycle_new_days),
                at_risk_after=timedelta(days=self.lifecycle_at_risk_days),
                churned_after=timedelta(days=self.lifecycle_churned_days),
                won_back_for=timedelta(days=self.lifecycle_won_back_days),
            ),
        )

    def _exchange_rates(self) -> dict[str, Decimal]:
        return {**default_exchange_rates(), **{code.upper(): r for code, r in self.exchange_rates.items()}}

    def _tier_thresholds(self) -> dict[Tier, Decimal]:
        return {**dict(default_tiers()), **self.tier_thresholds}

    @model_validator(mode="after")
    def _sensible_value_and_identity_settings(self) -> Self:
        if Tier.STANDARD in self.tier_thresholds:
            raise ValueError("HELHET_TIER_THRESHOLDS: standard is every customer below silver; it has none")
        thresholds = self._tier_thresholds()
        ordered = [thresholds[tier] for tier in (Tier.SILVER, Tier.GOLD, Tier.PLATINUM)]
        if ordered != sorted(ordered) or ordered[0] < 0:
            raise ValueError("HELHET_TIER_THRESHOLDS: 0 <= silver <= gold <= platinum")
        rates = self._exchange_rates()
        if rates["NOK"] != 1 or any(rate <= 0 for rate in rates.values()):
            raise ValueError("HELHET_EXCHANGE_RATES: NOK per unit of each currency, above 0 (NOK itself 1)")
        if any(cap < 1 for cap in self.identifier_caps.values()):
            raise ValueError("HELHET_IDENTIFIER_CAPS: each cap is at least 1")
        if self.lifecycle_at_risk_days >= self.lifecycle_churned_days:
            raise ValueError("HELHET_LIFECYCLE_AT_RISK_DAYS must be below HELHET_LIFECYCLE_CHURNED_DAYS")
        return self

    @model_validator(mode="after")
    def _real_card_secret_outside_development(self) -> Self:
        development = self.environment in {None, "", "development", "test"}
        if not development and self.card_link_secret.get_secret_value() == DEVELOPMENT_CARD_LINK_SECRET:
            raise ValueError(
                f"HELHET_ENVIRONMENT={self.environment!r} needs HELHET_CARD_LINK_SECRET: the development "
                "default is only used when HELHET_ENVIRONMENT is unset, 'development' or 'test'"
            )
        return self
