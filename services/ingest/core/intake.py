"""Pure decisions of intake: which key orders an interaction, what makes two deliveries the same, and
the CloudEvent an interaction becomes."""

from __future__ import annotations

import hashlib
from datetime import datetime

from schemas.envelope import Event
from schemas.identifiers import CustomerIdentifier, IdentifierKind
from schemas.interactions import InteractionReceived

INTERACTION_TYPE = "helhet.interaction.received.v1"
INTERACTIONS_TOPIC = "interactions.v1"

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


def dedupe_key(
    interaction: InteractionReceived, *, idempotency_key: str | None, client_id: str | None
) -> str | None:
    """What makes two deliveries one: the client's Idempotency-Key (scoped to that client), else the
    channel's own message id. Hashed: the stored key must not hold personal data."""
    if idempotency_key:
        basis = f"idempotency\x00{client_id or ''}\x00{idempotency_key}"
    elif interaction.source_message_id:
        basis = f"message\x00{interaction.channel.value}\x00{interaction.source_message_id}"
    else:
        return None
    return hashlib.sha256(basis.encode()).hexdigest()


def interaction_event(
    interaction: InteractionReceived, *, event_id: str, source: str, now: datetime
) -> Event[InteractionReceived]:
    return Event[InteractionReceived](
        id=event_id,
        source=source,
        type=INTERACTION_TYPE,
        time=now,
        key=customer_key(interaction.identifiers),
        data=interaction,
    )
