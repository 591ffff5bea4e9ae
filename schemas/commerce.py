"""Business events that feed customer value and proactive service: orders and web activity."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import Field, StrictInt

from schemas.customers import CustomerView
from schemas.envelope import Payload, UtcDatetime
from schemas.identifiers import CustomerIdentifier

# Amounts in the currency's major unit; enough digits for any order, never floating point.
Money = Decimal


class OrderStatus(StrEnum):
    PLACED = "placed"
    DELIVERED = "delivered"
    RETURNED = "returned"
    REFUNDED = "refunded"


class OrderLine(Payload):
    sku: str = Field(min_length=1, max_length=100)
    name: str | None = Field(default=None, max_length=300)
    quantity: StrictInt = Field(ge=1, le=100_000)
    unit_price: Money = Field(ge=0, max_digits=14, decimal_places=4)


class OrderRecorded(Payload):
    """A change in an order's life. Returns and refunds carry the amount going back to the customer."""

    order_id: str = Field(min_length=1, max_length=100)
    status: OrderStatus
    identifiers: list[CustomerIdentifier] = Field(min_length=1, max_length=20)
    amount: Money = Field(ge=0, max_digits=14, decimal_places=4)
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")
    items: list[OrderLine] = Field(default_factory=list, max_length=1000)
    occurred_at: UtcDatetime
    reference: str | None = Field(
        default=None,
        max_length=100,
        description="The shop's id of this change, e.g. a refund id: refunds of one order differ here.",
    )


class OrderDelivered(Payload):
    """An order delivered to a customer profile knows, published by profile (keyed by customer id) so notify
    can ask "are you satisfied?" on a channel the customer gave, in their language, with their consent."""

    order_id: str = Field(min_length=1, max_length=100)
    customer_id: str = Field(min_length=1, max_length=100)
    delivered_at: UtcDatetime
    identifiers: list[CustomerIdentifier] = Field(
        min_length=1, max_length=20, description="Where to ask: the contact points the order named."
    )
    customer: CustomerView


class WebActivityKind(StrEnum):
    PAGE_VIEW = "page_view"
    CART_ADD = "cart_add"
    CART_REMOVE = "cart_remove"
    CHECKOUT_START = "checkout_start"
    SEARCH = "search"


class WebActivityRecorded(Payload):
    """One thing a visitor did on the site (never the page content, never form input)."""

    kind: WebActivityKind
    identifiers: list[CustomerIdentifier] = Field(min_length=1, max_length=5)
    session_id: str = Field(min_length=1, max_length=100)
    url: str = Field(max_length=2000)
    sku: str | None = Field(default=None, max_length=100)
    quantity: StrictInt | None = Field(default=None, ge=1, le=100_000)
    occurred_at: UtcDatetime
    source_event_id: str | None = Field(default=None, max_length=200)
