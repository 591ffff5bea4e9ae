from __future__ import annotations

from datetime import UTC, datetime

from schemas.commerce import WebActivityKind, WebActivityRecorded
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


def _message(message_id: str | None, channel: Channel = Channel.EMAIL) -> InteractionReceived:
    return InteractionReceived(
        channel=channel,
        direction=Direction.INBOUND,
        identifiers=[identify(IdentifierKind.EMAIL, "kari@example.no")],
        occurred_at=NOW,
        source_message_id=message_id,
    )


def test_the_source_message_id_dedupes_whatever_idempotency_key_comes_with_it() -> None:
    """The same mail by SMTP (no key) and by the webhook (a key), or retried under a new key, is one."""
    by_smtp = dedupe_key(_message("<m-1@example.no>"), idempotency_key=None, client_id=None)
    by_webhook = dedupe_key(_message("<m-1@example.no>"), idempotency_key="k-1", client_id="crm")
    retried = dedupe_key(_message("<m-1@example.no>"), idempotency_key="k-2", client_id="crm")
    assert by_smtp is not None
    assert by_smtp == by_webhook == retried


def test_an_idempotency_key_dedupes_what_has_no_id_of_its_own_per_client_and_kind() -> None:
    first = dedupe_key(_message(None), idempotency_key="k-1", client_id="crm")
    again = dedupe_key(_message(None), idempotency_key="k-1", client_id="crm")
    other_client = dedupe_key(_message(None), idempotency_key="k-1", client_id="shop")
    assert first is not None
    assert first == again
    assert first != other_client
    assert dedupe_key(_message(None), idempotency_key=None, client_id="crm") is None


def test_one_idempotency_key_on_web_activity_and_an_interaction_names_two_things() -> None:
    page_view = WebActivityRecorded(
        kind=WebActivityKind.PAGE_VIEW,
        identifiers=[identify(IdentifierKind.COOKIE, "ck-1")],
        session_id="s-1",
        url="https://shop.example.no/",
        occurred_at=NOW,
    )
    on_activity = dedupe_key(page_view, idempotency_key="k-1", client_id="crm")
    on_interaction = dedupe_key(_message(None), idempotency_key="k-1", client_id="crm")
    assert on_activity is not None
    assert on_activity != on_interaction
