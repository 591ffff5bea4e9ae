from __future__ import annotations

from datetime import UTC, datetime

from schemas.identifiers import IdentifierKind, identify
from schemas.interactions import Channel, Direction, InteractionReceived
from services.ingest.core.intake import customer_key, dedupe_key

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_the_customer_number_keys_before_email_and_phone() -> None:
    identifiers = [
        identify(IdentifierKind.PHONE, "+4791234567"),
        identify(IdentifierKind.EMAIL, "Kari@Example.no"),
        identify(IdentifierKind.CUSTOMER_NUMBER, "C-1"),
    ]
    assert customer_key(identifiers) == "customer_number:C-1"
    assert customer_key(identifiers[:2]) == "email:kari@example.no"


def test_an_unparsed_identifier_keys_only_when_nothing_else_is_there() -> None:
    raw = identify(IdentifierKind.EMAIL, "kari at example")
    phone = identify(IdentifierKind.PHONE, "+4791234567")
    assert customer_key([raw, phone]) == "phone:+4791234567"
    assert customer_key([raw]) == "email:kari at example"


def test_dedupe_keys_hold_no_personal_data_and_differ_by_channel() -> None:
    def interaction(channel: Channel) -> InteractionReceived:
        return InteractionReceived(
            channel=channel,
            direction=Direction.INBOUND,
            identifiers=[identify(IdentifierKind.EMAIL, "kari@example.no")],
            occurred_at=NOW,
            source_message_id="<kari@example.no>",
        )

    email_key = dedupe_key(interaction(Channel.EMAIL), idempotency_key=None, client_id=None)
    chat_key = dedupe_key(interaction(Channel.CHAT), idempotency_key=None, client_id=None)
    assert email_key is not None
    assert chat_key is not None
    assert email_key != chat_key
    assert "kari" not in email_key
