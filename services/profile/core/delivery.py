"""Delivered orders: profile tells the rest of the system about each order delivered to a customer it
holds (``OrderDelivered`` on ``deliveries.v1``), so notify can ask "are you satisfied with your delivery?".

``decide_delivery`` is the decision: an order change saying ``delivered`` is one delivery, to the customer
the order event was placed on (followed to its survivor when the batch merges it away), with the contact
points the order named, as normalised in the event. Placed, returned and refunded changes publish nothing.
The message is sent with the write that records the order (its outbox), and its event id comes from the
order event's id, so a redelivered order event never publishes a second one. An erased person's orders
are dropped before any decision (``core.erasure``), so they publish nothing either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from schemas.commerce import OrderStatus
from schemas.identifiers import CustomerIdentifier
from services.profile.core.ids import stable_id
from services.profile.core.observe import ObservedEvent


@dataclass(frozen=True)
class Delivery:
    order_id: str
    customer_id: str  # as placed; the published message names the customer it ends up with
    delivered_at: datetime
    identifiers: tuple[CustomerIdentifier, ...]  # where to ask: the order's contact points
    event_id: str  # the order event that said it was delivered

    @property
    def message_id(self) -> str:
        """The published message's id: one per order event, whoever publishes it and however often."""
        return stable_id("order-delivered", self.event_id)


def decide_delivery(event: ObservedEvent, customer_id: str) -> Delivery | None:
    """The delivery an event placed on ``customer_id`` reports, or None when it reports none."""
    order = event.order
    if order is None or order.status is not OrderStatus.DELIVERED or not event.identifiers:
        return None
    return Delivery(
        order_id=order.order_id,
        customer_id=customer_id,
        delivered_at=order.occurred_at,
        identifiers=event.identifiers,
        event_id=event.event_id,
    )
