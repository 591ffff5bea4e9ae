"""Routing settings (``HELHET_`` environment variables)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from services.common.settings import CommonSettings
from services.routing.core.rules import RoutingRules, ScoreWeights


class RoutingSettings(CommonSettings):
    service_name: str = "routing"
    api_port: int = 8003
    # The consumer group of cases.v1: every routing worker shares it.
    worker_app_id: str = "helhet-routing"
    # A batch is this many case changes or what arrived within the time (one matching round each): at
    # 50 cases/s 0.005 s gave p99 29-33 ms case-to-offer, 0.01 s 54 ms; under load batches fill first.
    worker_batch_size: int = 200
    worker_batch_within_seconds: float = 0.005
    worker_retry_initial_seconds: float = 0.5
    worker_retry_max_seconds: float = 30.0
    # Offers expire, absent agents' work moves, shifts start and sticky windows close with time alone.
    tick_seconds: float = 1.0
    stats_every_seconds: float = 15.0
    # A router re-reads every agent at most this often for planning (it re-reads the one agent it commits
    # an offer to, always): 1,000 agents cost 50-250 ms to read from the local MongoDB-wire server.
    agents_fresh_for_seconds: float = 0.5
    heartbeat_ttl_seconds: float = 60.0
    wind_down_minutes: float = 10.0
    absent_grace_seconds: float = 120.0
    # Score weights by their published names (e.g. {"aging_per_minute": 2, "tier.gold": 30}); unnamed
    # ones keep the defaults documented in services/routing/core/rules.py.
    score_weights: dict[str, float] = {}

    def rules(self) -> RoutingRules:
        base = RoutingRules()
        return replace(
            base,
            weights=weights_with(base.weights, self.score_weights),
            heartbeat_ttl=timedelta(seconds=self.heartbeat_ttl_seconds),
            wind_down=timedelta(minutes=self.wind_down_minutes),
            absent_grace=timedelta(seconds=self.absent_grace_seconds),
        )


def weights_with(weights: ScoreWeights, overrides: dict[str, float]) -> ScoreWeights:
    """``weights`` with the named ones replaced; an unknown name is a configuration error."""
    known = weights.published()
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise ValueError(f"unknown score weights: {unknown}; known: {sorted(known)}")
    tier = {t: overrides.get(f"tier.{t.value}", points) for t, points in weights.tier.items()}
    channel = {c: overrides.get(f"channel.{c.value}", points) for c, points in weights.channel.items()}
    plain = {
        name: overrides.get(name, getattr(weights, name))
        for name in ("value_per_1000", "value_cap", "aging_per_minute", "sla", "recovery")
    }
    return ScoreWeights(tier=tier, channel=channel, **plain)
