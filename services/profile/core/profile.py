"""The profile as a deterministic fold over a set of observed events.

``ProfileFacts`` is what the events say, independent of time: each part is either keyed by event id or
kept by a commutative, idempotent rule (newest attribute, consent replayed in time order, min/max times),
so any order and any duplication of the same events gives equal facts. ``Profile`` adds the views that also
depend on ``now`` (lifecycle, value, experience ledger), always recomputed from the facts: ``apply`` one
event at a time equals ``fold`` over the set at the same ``now``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import TypeVar

from schemas.customers import CustomerView, LifecycleStage, Purpose
from schemas.identifiers import CustomerIdentifier
from services.profile.core.attributes import Attribute, AttributeName, newest
from services.profile.core.consent import ConsentDecision, ConsentLog, effective, with_decisions
from services.profile.core.experience import (
    Experience,
    ExperienceConfig,
    Ledger,
    PhoneStep,
    ledger,
    next_ledger_change,
)
from services.profile.core.lifecycle import LifecycleConfig, next_stage_change, stage_of
from services.profile.core.observe import NOT_SEEN_KINDS, ObservedEvent
from services.profile.core.value import (
    CustomerValue,
    OrderChange,
    ValueConfig,
    customer_value,
    purchase_times,
)

_Fact = TypeVar("_Fact")


@dataclass(frozen=True)
class ProfileConfig:
    value: ValueConfig = field(default_factory=ValueConfig)
    lifecycle: LifecycleConfig = field(default_factory=LifecycleConfig)
    experience: ExperienceConfig = field(default_factory=ExperienceConfig)


@dataclass(frozen=True)
class ProfileFacts:
    event_ids: frozenset[str] = frozenset()  # the timeline: every event folded in
    identifiers: frozenset[CustomerIdentifier] = frozenset()  # as seen, blocked and unparsed ones too
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    attributes: Mapping[AttributeName, Attribute] = field(default_factory=dict)
    consent: Mapping[Purpose, ConsentDecision] = field(default_factory=dict)  # effective: ``consent_log``'s
    consent_log: ConsentLog | None = None  # None: not kept (an older document): ``consent`` is all of it
    orders: Mapping[str, OrderChange] = field(default_factory=dict)  # by event id
    experiences: Mapping[str, Experience] = field(default_factory=dict)  # by event id
    phone_steps: Mapping[str, PhoneStep] = field(default_factory=dict)  # by event id

    def __post_init__(self) -> None:
        if self.consent_log is None:  # one log for equal facts, however made
            object.__setattr__(self, "consent_log", ConsentLog(frozenset(self.consent.values())))

    @property
    def decisions(self) -> ConsentLog:
        """Every consent decision, by the person it came from."""
        assert self.consent_log is not None  # set on creation
        return self.consent_log

    def with_event(self, event: ObservedEvent) -> ProfileFacts:
        if event.event_id in self.event_ids:
            return self
        attributes = dict(self.attributes)
        for attribute in event.attributes:
            attributes[attribute.name] = newest(attributes.get(attribute.name), attribute)
        log = self.decisions
        if event.consent:
            keys = frozenset(identifier.key for identifier in event.identifiers)
            log = with_decisions(log, event.consent, keys, event.customer_id)
        # Seen means the customer did something: routing moving a case between agents, or notify telling
        # the customer something, is not it.
        at = None if event.kind in NOT_SEEN_KINDS else event.occurred_at
        return ProfileFacts(
            event_ids=self.event_ids | {event.event_id},
            identifiers=self.identifiers.union(event.identifiers),
            first_seen=earliest(self.first_seen, at),
            last_seen=latest(self.last_seen, at),
            attributes=attributes,
            consent=effective(log) if event.consent else self.consent,
            consent_log=log,
            orders=_with(self.orders, event.event_id, event.order),
            experiences=_with(self.experiences, event.event_id, event.experience),
            phone_steps=_with(self.phone_steps, event.event_id, event.phone_step),
        )


def earliest(first: datetime | None, second: datetime | None) -> datetime | None:
    return min(first, second) if first and second else first or second


def latest(first: datetime | None, second: datetime | None) -> datetime | None:
    return max(first, second) if first and second else first or second


def _with(by_event: Mapping[str, _Fact], event_id: str, fact: _Fact | None) -> Mapping[str, _Fact]:
    return by_event if fact is None else {**by_event, event_id: fact}


@dataclass(frozen=True)
class Profile:
    customer_id: str
    facts: ProfileFacts
    as_of: datetime  # the ``now`` the views below were computed for
    lifecycle: LifecycleStage
    value: CustomerValue
    ledger: Ledger

    def attribute(self, name: AttributeName) -> str | None:
        found = self.facts.attributes.get(name)
        return found.value if found else None

    @cached_property
    def view(self) -> CustomerView:
        """What other services see of the customer (routing and notify in every case change, everyone on
        ``profiles.v1``). Kept once made: a write publishes and stores it several times."""
        return CustomerView(
            customer_id=self.customer_id,
            tier=self.value.tier,
            historic_value=self.value.historic_value,
            predicted_lifetime_value=self.value.predicted_lifetime_value,
            lifecycle=self.lifecycle,
            needs_recovery=self.ledger.needs_recovery,
            recovery_reason=self.ledger.reason,
            language=self.attribute(AttributeName.LANGUAGE),
            preferred_channel=self.attribute(AttributeName.PREFERRED_CHANNEL),
            last_agent=self.attribute(AttributeName.LAST_AGENT),
            consent={purpose: decision.granted for purpose, decision in sorted(self.facts.consent.items())},
            as_of=self.as_of,
        )


def evaluate(customer_id: str, facts: ProfileFacts, config: ProfileConfig, now: datetime) -> Profile:
    """The profile of these facts as seen at ``now``."""
    orders = list(facts.orders.values())
    stage = stage_of(purchase_times(orders), config.lifecycle, now)
    return Profile(
        customer_id=customer_id,
        facts=facts,
        as_of=now,
        lifecycle=stage,
        value=customer_value(orders, stage, config.value, now),
        ledger=ledger(facts.experiences, facts.phone_steps.values(), config.experience, now),
    )


def fold(customer_id: str, events: Iterable[ObservedEvent], config: ProfileConfig, now: datetime) -> Profile:
    facts = ProfileFacts()
    for event in events:
        facts = facts.with_event(event)
    return evaluate(customer_id, facts, config, now)


def apply(profile: Profile, event: ObservedEvent, config: ProfileConfig, now: datetime) -> Profile:
    """The profile with one more event; a duplicate only moves the views to ``now``."""
    return evaluate(profile.customer_id, profile.facts.with_event(event), config, now)


def refresh(profile: Profile, config: ProfileConfig, now: datetime) -> Profile:
    """The same facts seen at a later ``now``: stages and promises move with time alone."""
    return evaluate(profile.customer_id, profile.facts, config, now)


# Looked at this long after a threshold, so the stage has surely moved past it (it moves just after).
REFRESH_MARGIN = timedelta(seconds=1)


def next_refresh_at(facts: ProfileFacts, config: ProfileConfig, now: datetime) -> datetime | None:
    """When to look at these facts again because time alone may move the stage or the experience ledger
    (None: it never will); ``evaluate`` before then gives the same stage and ledger as at ``now``."""
    changes = [
        change
        for change in (
            next_stage_change(purchase_times(facts.orders.values()), config.lifecycle, now),
            next_ledger_change(facts.experiences, facts.phone_steps.values(), config.experience, now),
        )
        if change is not None
    ]
    return min(changes) + REFRESH_MARGIN if changes else None
