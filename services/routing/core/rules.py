"""Routing's configuration as the core sees it: the queues, the score's weights and the presence rules.

The score (documented in the README and returned with every decision):

    total = tier[tier] + min(value_cap, value_per_1000 * predicted lifetime value / 1000)
          + channel[channel] + aging_per_minute * minutes waited
          + sla * min(1, waited / queue SLA)        (rises as the time left before the target shrinks)
          + recovery                                 (when the customer needs recovery)

A case that has waited past its queue's ``starvation_after`` is *starving* and ranks above every case that
is not, oldest-first by score among the starving, so low tiers are still served.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from schemas.customers import Tier
from schemas.interactions import Channel

CALLBACK_QUEUE = "callback"


class WhenNobody(StrEnum):
    """What a queue does with a case nobody can take."""

    WAIT = "wait"
    OVERFLOW = "overflow"  # move to ``overflow_to`` after ``policy_after``, keeping the case's age
    CALLBACK = "callback"  # offer a callback: the case moves to the callback queue


@dataclass(frozen=True)
class QueueRules:
    name: str
    channels: frozenset[Channel]
    sla: timedelta
    offer_timeout: timedelta
    starvation_after: timedelta
    when_nobody: WhenNobody = WhenNobody.WAIT
    policy_after: timedelta = timedelta(minutes=2)
    overflow_to: str | None = None


@dataclass(frozen=True)
class ScoreWeights:
    tier: Mapping[Tier, float] = field(
        default_factory=lambda: {Tier.STANDARD: 0.0, Tier.SILVER: 10.0, Tier.GOLD: 25.0, Tier.PLATINUM: 40.0}
    )
    value_per_1000: float = 1.0
    value_cap: float = 20.0
    channel: Mapping[Channel, float] = field(
        default_factory=lambda: {
            Channel.PHONE: 30.0,
            Channel.CHAT: 25.0,
            Channel.STORE: 20.0,
            Channel.SMS: 15.0,
            Channel.MESSENGER: 15.0,
            Channel.INSTAGRAM: 15.0,
            Channel.EMAIL: 0.0,
            Channel.WEB_FORM: 0.0,
            Channel.PORTAL: 0.0,
        }
    )
    # Genesys' convention: one priority point is one minute of waiting.
    aging_per_minute: float = 1.0
    sla: float = 30.0
    recovery: float = 25.0

    def published(self) -> dict[str, float]:
        """Flat, for the decision record."""
        flat = {f"tier.{tier.value}": points for tier, points in self.tier.items()}
        flat |= {f"channel.{channel.value}": points for channel, points in self.channel.items()}
        return flat | {
            "value_per_1000": self.value_per_1000,
            "value_cap": self.value_cap,
            "aging_per_minute": self.aging_per_minute,
            "sla": self.sla,
            "recovery": self.recovery,
        }


def _default_queues() -> tuple[QueueRules, ...]:
    return (
        QueueRules(
            "phone",
            frozenset({Channel.PHONE}),
            sla=timedelta(minutes=2),
            offer_timeout=timedelta(seconds=20),
            starvation_after=timedelta(minutes=10),
            when_nobody=WhenNobody.CALLBACK,
            policy_after=timedelta(minutes=2),
        ),
        QueueRules(
            "chat",
            frozenset({Channel.CHAT}),
            sla=timedelta(minutes=2),
            offer_timeout=timedelta(seconds=30),
            starvation_after=timedelta(minutes=10),
        ),
        QueueRules(
            "messaging",
            frozenset({Channel.SMS, Channel.MESSENGER, Channel.INSTAGRAM}),
            sla=timedelta(minutes=30),
            offer_timeout=timedelta(seconds=60),
            starvation_after=timedelta(minutes=90),
        ),
        QueueRules(
            "email",
            frozenset({Channel.EMAIL, Channel.WEB_FORM, Channel.PORTAL, Channel.STORE}),
            sla=timedelta(hours=4),
            offer_timeout=timedelta(minutes=5),
            starvation_after=timedelta(hours=8),
        ),
        QueueRules(
            CALLBACK_QUEUE,
            frozenset({Channel.PHONE}),
            sla=timedelta(minutes=30),
            offer_timeout=timedelta(seconds=60),
            starvation_after=timedelta(minutes=60),
        ),
    )


@dataclass(frozen=True)
class RoutingRules:
    queues: tuple[QueueRules, ...] = field(default_factory=_default_queues)
    weights: ScoreWeights = field(default_factory=ScoreWeights)
    heartbeat_ttl: timedelta = timedelta(seconds=60)
    # No new work this close to the end of a shift.
    wind_down: timedelta = timedelta(minutes=10)
    # How long an absent agent's work not yet started stays theirs before it is requeued.
    absent_grace: timedelta = timedelta(minutes=2)
    # How long a case may wait for the customer's previous agent while that agent is busy.
    sticky_wait: Mapping[Tier, timedelta] = field(
        default_factory=lambda: {
            Tier.STANDARD: timedelta(0),
            Tier.SILVER: timedelta(minutes=1),
            Tier.GOLD: timedelta(minutes=3),
            Tier.PLATINUM: timedelta(minutes=5),
        }
    )

    @property
    def callback_queue(self) -> str:
        return CALLBACK_QUEUE

    def queue(self, name: str) -> QueueRules:
        for queue in self.queues:
            if queue.name == name:
                return queue
        raise KeyError(name)

    def queue_for(self, channel: Channel, callback: bool = False) -> QueueRules:
        """The first queue serving the channel; a requested callback goes straight to the callback queue."""
        if callback:
            return self.queue(CALLBACK_QUEUE)
        for queue in self.queues:
            if channel in queue.channels and queue.name != CALLBACK_QUEUE:
                return queue
        raise KeyError(channel.value)
