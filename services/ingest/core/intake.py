"""Pure decisions of intake: which key orders an event, what makes two deliveries the same, and the
CloudEvent a payload becomes."""

from __future__ import annotations

import hashlib
from datetime import datetime

from schemas.catalog import event_type_of
from schemas.commerce import OrderRecorded, WebActivityRecorded
from schemas.envelope import Event
from schemas.identifiers import CustomerIdentifier, IdentifierKind
from schemas.interactions import InteractionReceived

# What ingest publishes; each carries the customer's identifiers.
IngestPayload = InteractionReceived | OrderRecorded | WebActivityRecorded

# The most stable identifier keys the message, so one customer's events share a partition.
_KEY_PREFERENCE = (
    IdentifierKind.CUSTOMER_NUMBER,
    IdentifierKind.EMAIL,
    IdentifierKind.PHONE,
    IdentifierKind.MESSENGER,
    IdentifierKind.INSTAGRAM,
    IdentifierKind.COOKIE,
)


def customer_key(identifiers: list[CustomerIdentifier]) -> str:
    """Kafka key: the preferred parsed identifier, else the first one (kept raw)."""
    parsed = [identifier for identifier in identifiers if not identifier.unparsed] or identifiers
    return min(parsed, key=lambda identifier: _KEY_PREFERENCE.index(identifier.kind)).key


def dedupe_key(payload: IngestPayload, *, idempotency_key: str | None, client_id: str | None) -> str | None:
    """What makes two deliveries one: the source's own id of the message or change, whichever way and
    with whatever Idempotency-Key it comes (the same mail by SMTP and by the webhook is one); else the
    client's Idempotency-Key, scoped to that client and to the kind of payload (one key reused for an
    order and an interaction names two things). Hashed: the stored key must not hold personal data."""
    if (own_id := source_identity(payload)) is not None:
        basis = own_id
    elif idempotency_key:
        basis = f"idempotency\x00{client_id or ''}\x00{type(payload).__name__}\x00{idempotency_key}"
    else:
        return None
    return hashlib.sha256(basis.encode()).hexdigest()


def source_identity(payload: IngestPayload) -> str | None:
    """The source's own identity of what happened, when it gives one."""
    match payload:
        case InteractionReceived(source_message_id=str(message_id)):
            return f"message\x00{payload.channel.value}\x00{message_id}"
        case OrderRecorded():
            # One order passes each status once, except refunds, which the shop tells apart by reference.
            return f"order\x00{payload.order_id}\x00{payload.status.value}\x00{payload.reference or ''}"
        case WebActivityRecorded(source_event_id=str(event_id)):
            return f"web\x00{event_id}"
    return None


# Subscripted once: looking the generic up again per event cost as much as validating the envelope.
_IngestEvent = Event[IngestPayload]


def ingest_event(
    payload: IngestPayload, *, event_id: str, source: str, now: datetime
) -> Event[IngestPayload]:
    return _IngestEvent(
        id=event_id,
        source=source,
        type=event_type_of(type(payload)).name,
        time=now,
        key=customer_key(payload.identifiers),
        data=payload,
    )
