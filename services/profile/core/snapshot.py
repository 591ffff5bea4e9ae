"""What profile publishes: a customer's view (on every case change and every delivered order, for routing
and notify, so they never call back into profile) and the published fields of a profile (on
``profiles.v1``, compared with the previous ones to name what changed)."""

from __future__ import annotations

from typing import Any

from schemas.cases import CaseChange, CaseChanged, CaseContact
from schemas.commerce import OrderDelivered
from services.profile.core.attributes import AttributeName
from services.profile.core.cases import Case
from services.profile.core.delivery import Delivery
from services.profile.core.observe import ObservedEvent
from services.profile.core.profile import Profile


def published_fields(profile: Profile, merged_into: str | None) -> dict[str, Any]:
    """The fields of ``ProfileChanged`` that can change, as comparable JSON values (``as_of`` left out:
    it moves with every write)."""
    view = profile.view
    # As ``view.model_dump(mode="json")`` makes them (a test holds the two equal), without its cost on
    # every write.
    return {
        "tier": view.tier.value,
        "historic_value": str(view.historic_value),
        "predicted_lifetime_value": str(view.predicted_lifetime_value),
        "lifecycle": view.lifecycle.value,
        "needs_recovery": view.needs_recovery,
        "recovery_reason": None if view.recovery_reason is None else view.recovery_reason.value,
        "language": view.language,
        "preferred_channel": view.preferred_channel,
        "last_agent": view.last_agent,
        "consent": {purpose.value: granted for purpose, granted in view.consent.items()},
        "name": profile.attribute(AttributeName.NAME),
        "identifiers": sorted(identifier.key for identifier in profile.facts.identifiers),
        "merged_into": merged_into,
    }


# What routing and notify decide an open case with; a change of one is told on every open case. Value
# amounts are left out: the predicted value drifts with every day, and the tier carries what matters.
CASE_SNAPSHOT_FIELDS = ("tier", "lifecycle", "needs_recovery", "recovery_reason", "language", "last_agent")


def case_snapshot_moved(before: dict[str, Any] | None, after: dict[str, Any]) -> bool:
    """Whether an open case's snapshot is stale now (never for a first write: its cases open with it)."""
    return before is not None and any(before.get(name) != after.get(name) for name in CASE_SNAPSHOT_FIELDS)


def changed_fields(before: dict[str, Any] | None, after: dict[str, Any]) -> list[str]:
    """Which published fields differ; every field for a customer published for the first time."""
    if before is None:
        return sorted(after)
    return sorted(name for name, value in after.items() if before.get(name) != value)


def case_contact(event: ObservedEvent) -> CaseContact | None:
    """Where and how to answer the contact ``event`` describes."""
    contact = event.contact
    if contact is None:
        return None
    return CaseContact(
        event_id=event.event_id,
        channel=contact.channel,
        direction=contact.direction,
        step=contact.step,
        identifiers=list(event.identifiers),
        conversation_id=contact.conversation_id,
        thread_id=contact.thread_id,
        source_message_id=contact.source_message_id,
        subject=contact.subject,
        auto_submitted=contact.auto_submitted,
        callback_window_start=contact.callback_window_start,
        callback_window_end=contact.callback_window_end,
        occurred_at=event.occurred_at,
    )


def case_changed(
    change: CaseChange, case: Case, profile: Profile, contact: CaseContact | None
) -> CaseChanged:
    customer = profile.view
    return CaseChanged(
        change=change,
        case_id=case.case_id,
        customer_id=case.customer_id,
        status=case.status,
        category=case.category,
        channel=case.channel,
        language=case.language.value if case.language else customer.language,
        opened_at=case.opened_at,
        last_activity_at=case.last_activity_at,
        closed_at=case.closed_at,
        close_reason=case.close_reason,
        interactions=len(case.event_ids),
        contact=contact,
        customer=customer,
    )


def order_delivered(delivery: Delivery, profile: Profile) -> OrderDelivered:
    """The delivered order as published, for the customer it ends up with (``profile``): the same
    customer view a case change carries."""
    return OrderDelivered(
        order_id=delivery.order_id,
        customer_id=profile.customer_id,
        delivered_at=delivery.delivered_at,
        identifiers=list(delivery.identifiers),
        customer=profile.view,
    )
