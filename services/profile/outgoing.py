"""The messages profile publishes: case changes on ``cases.v1``, profile changes on ``profiles.v1`` and
delivered orders on ``deliveries.v1``, as CloudEvents keyed by customer id."""

from __future__ import annotations

from datetime import datetime

from schemas.cases import CaseChanged
from schemas.catalog import event_type_of
from schemas.commerce import OrderDelivered
from schemas.customers import ProfileChanged
from schemas.envelope import Event
from services.profile.core.attributes import AttributeName
from services.profile.core.delivery import Delivery
from services.profile.core.ids import stable_id
from services.profile.core.profile import Profile
from services.profile.plan import CaseStep

SOURCE = "/profile"
# A profile message lists at most this many identifiers (blocked and unparsed ones are kept on the
# profile but never link, so a shared device's visitors could otherwise grow it without bound).
PUBLISHED_IDENTIFIERS = 1000
# Subscripted once: pydantic looks a generic up again at every subscription (2 % of a worker's time).
_CASE_CHANGED = Event[CaseChanged]
_ORDER_DELIVERED = Event[OrderDelivered]
_PROFILE_CHANGED = Event[ProfileChanged]


def case_event(payload: CaseChanged, step: CaseStep, now: datetime) -> Event[CaseChanged]:
    """The change as a CloudEvent. Its id comes from the case, the change, the event behind it and the
    customer: a redelivered batch publishes the same id (consumers drop it), a second close after a
    reopening (or a second move) another one, so it is not taken for the first."""
    basis = f"{step.case.case_id}\x00{step.change.value}\x00{step.occasion}\x00{step.case.customer_id}"
    return _CASE_CHANGED(
        id=stable_id("case-change", basis),
        source=SOURCE,
        type=event_type_of(CaseChanged).name,
        subject=step.case.case_id,
        time=now,
        key=payload.customer_id,
        data=payload,
    )


def delivery_event(payload: OrderDelivered, delivery: Delivery, now: datetime) -> Event[OrderDelivered]:
    """The delivered order as a CloudEvent: its id comes from the order event's, so a redelivered order
    event (or a batch planned again) publishes the same message, which consumers drop."""
    return _ORDER_DELIVERED(
        id=delivery.message_id,
        source=SOURCE,
        type=event_type_of(OrderDelivered).name,
        subject=delivery.order_id,
        time=now,
        key=payload.customer_id,
        data=payload,
    )


def profile_event(
    profile: Profile, merged_into: str | None, changed: list[str], now: datetime
) -> Event[ProfileChanged]:
    identifiers = sorted(profile.facts.identifiers, key=lambda i: (i.key, i.unparsed))
    payload = ProfileChanged(
        customer=profile.view,
        name=profile.attribute(AttributeName.NAME),
        identifiers=identifiers[:PUBLISHED_IDENTIFIERS],
        merged_into=merged_into,
        changed=changed,
    )
    return _PROFILE_CHANGED(
        source=SOURCE,
        type=event_type_of(ProfileChanged).name,
        time=now,
        key=profile.customer_id,
        data=payload,
    )
