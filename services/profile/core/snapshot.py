"""What the router and the notifier need to know about a customer and a case, carried on ``cases.v1`` so
they never call back into profile."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from schemas.cases import CaseCategory, CaseStatus
from schemas.customers import ExperienceReason, LifecycleStage, Tier
from services.profile.core.attributes import AttributeName
from services.profile.core.cases import Case
from services.profile.core.profile import Profile


@dataclass(frozen=True)
class CustomerSnapshot:
    customer_id: str
    tier: Tier
    historic_value: Decimal
    predicted_lifetime_value: Decimal
    lifecycle: LifecycleStage
    needs_recovery: bool
    recovery_reason: ExperienceReason | None
    language: str | None
    preferred_channel: str | None
    last_agent: str | None
    as_of: datetime


@dataclass(frozen=True)
class CaseSnapshot:
    case_id: str
    status: CaseStatus
    category: CaseCategory
    channel: str
    language: str | None  # the case's own language, else the customer's
    opened_at: datetime
    last_activity_at: datetime
    customer: CustomerSnapshot


def customer_snapshot(profile: Profile) -> CustomerSnapshot:
    return CustomerSnapshot(
        customer_id=profile.customer_id,
        tier=profile.value.tier,
        historic_value=profile.value.historic_value,
        predicted_lifetime_value=profile.value.predicted_lifetime_value,
        lifecycle=profile.lifecycle,
        needs_recovery=profile.ledger.needs_recovery,
        recovery_reason=profile.ledger.reason,
        language=profile.attribute(AttributeName.LANGUAGE),
        preferred_channel=profile.attribute(AttributeName.PREFERRED_CHANNEL),
        last_agent=profile.attribute(AttributeName.LAST_AGENT),
        as_of=profile.as_of,
    )


def case_snapshot(case: Case, profile: Profile) -> CaseSnapshot:
    customer = customer_snapshot(profile)
    return CaseSnapshot(
        case_id=case.case_id,
        status=case.status,
        category=case.category,
        channel=case.channel.value,
        language=case.language.value if case.language else customer.language,
        opened_at=case.opened_at,
        last_activity_at=case.last_activity_at,
        customer=customer,
    )
