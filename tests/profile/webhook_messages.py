"""Consumed messages and subscriptions for the webhook tests: profile changes, case changes, a tombstone's
neighbours, as they come off ``profiles.v1`` and ``cases.v1``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from schemas.cases import CaseCategory, CaseChange, CaseChanged, CaseStatus
from schemas.catalog import event_type_of
from schemas.customers import CustomerView, LifecycleStage, ProfileChanged, Tier
from schemas.envelope import Event
from schemas.identifiers import IdentifierKind, identify
from schemas.interactions import Channel
from services.profile.core.webhooks import (
    CASES_TOPIC,
    PROFILES_TOPIC,
    SourceMessage,
    Subscription,
    SubscriptionStatus,
    WebhookEventType,
    secret_from,
)

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
EMAIL = "kari.nordmann@example.no"


def view(customer_id: str = "kari") -> CustomerView:
    return CustomerView(
        customer_id=customer_id,
        tier=Tier.GOLD,
        historic_value=Decimal("1200.50"),
        predicted_lifetime_value=Decimal("5000"),
        lifecycle=LifecycleStage.ACTIVE,
        needs_recovery=False,
        as_of=NOW,
    )


def profile_message(
    changed: list[str], *, merged_into: str | None = None, offset: int = 7, customer_id: str = "kari"
) -> SourceMessage:
    payload = ProfileChanged(
        customer=view(customer_id),
        name="Kari Nordmann",
        identifiers=[identify(IdentifierKind.EMAIL, EMAIL)],
        merged_into=merged_into,
        changed=changed,
    )
    event = Event[ProfileChanged](
        id=f"profile-change-{offset}",
        source="/profile",
        type=event_type_of(ProfileChanged).name,
        time=NOW,
        key=customer_id,
        data=payload,
    )
    return SourceMessage(PROFILES_TOPIC, 2, offset, NOW, customer_id, event)


def case_message(change: CaseChange, *, offset: int = 9) -> SourceMessage:
    closed = change is CaseChange.CLOSED
    payload = CaseChanged(
        change=change,
        case_id="case-1",
        customer_id="kari",
        status=CaseStatus.CLOSED if closed else CaseStatus.OPEN,
        category=CaseCategory.SHIPPING,
        channel=Channel.EMAIL,
        opened_at=NOW,
        last_activity_at=NOW,
        closed_at=NOW if closed else None,
        interactions=1,
        customer=view(),
    )
    event = Event[CaseChanged](
        id=f"case-change-{offset}",
        source="/profile",
        type=event_type_of(CaseChanged).name,
        time=NOW,
        key="kari",
        data=payload,
    )
    return SourceMessage(CASES_TOPIC, 2, offset, NOW, "kari", event)


def subscription(*events: WebhookEventType, created_at: datetime = NOW - timedelta(hours=1)) -> Subscription:
    return Subscription(
        subscription_id="sub-1",
        url="https://crm.example.com/hooks",
        events=frozenset(events or WebhookEventType),
        status=SubscriptionStatus.ACTIVE,
        created_at=created_at,
        created_by="crm",
        secret=secret_from(bytes(32)),
    )
