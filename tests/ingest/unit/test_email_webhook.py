"""The JSON inbound-email webhook follows the same rules as mail received over SMTP."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from services.ingest.core.channels.email import InboundEmailWebhook, from_webhook, parse_email
from services.ingest.core.errors import InvalidInputError

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def payload(**fields: Any) -> dict[str, Any]:
    return {"from": "Kari <Kari@Example.NO>", "to": "support@helhet.no", "subject": "Hei", **fields}


def test_webhook_becomes_email_interaction() -> None:
    interaction = from_webhook(
        payload(
            text="Where is my order?",
            message_id="<m3@example.no>",
            attachments=[{"filename": "a.pdf", "content_type": "application/pdf", "size": 12}],
        ),
        received_at=NOW,
    )

    assert [i.value for i in interaction.identifiers] == ["kari@example.no"]
    assert interaction.subject == "Hei"
    assert interaction.text == "Where is my order?"
    assert interaction.source_message_id == "<m3@example.no>"
    assert interaction.thread_id == "<m3@example.no>"
    assert [(a.filename, a.size_bytes) for a in interaction.attachments] == [("a.pdf", 12)]
    assert interaction.occurred_at == NOW
    assert not interaction.auto_submitted


def test_unknown_field_is_rejected() -> None:
    with pytest.raises(ValidationError):
        InboundEmailWebhook.model_validate(payload(spam="x"))
    with pytest.raises(InvalidInputError) as caught:
        from_webhook(payload(spam="secret"), received_at=NOW)
    assert caught.value.field == "spam"
    assert "secret" not in str(caught.value)


def test_missing_from_is_invalid() -> None:
    body = payload()
    del body["from"]

    with pytest.raises(InvalidInputError) as caught:
        from_webhook(body, received_at=NOW)

    assert caught.value.field == "from"


@pytest.mark.parametrize(
    ("fields", "thread"),
    [
        ({"references": "<r1@x.no> <r2@x.no>", "in_reply_to": "<r2@x.no>"}, "<r1@x.no>"),
        ({"references": ["<r1@x.no>", "<r2@x.no>"]}, "<r1@x.no>"),
        ({"in_reply_to": "<r2@x.no>"}, "<r2@x.no>"),
        ({"headers": {"References": "<h1@x.no>"}}, "<h1@x.no>"),
        ({}, "<own@x.no>"),
    ],
)
def test_threading(fields: dict[str, Any], thread: str) -> None:
    interaction = from_webhook(payload(message_id="<own@x.no>", **fields), received_at=NOW)

    assert interaction.thread_id == thread


def test_bare_message_id_matches_smtp_form() -> None:
    """The same mail via SMTP and via webhook must dedupe as one (same source_message_id)."""
    via_hook = from_webhook(payload(message_id="m1@example.no"), received_at=NOW)
    via_smtp = parse_email(b"From: kari@example.no\r\nMessage-ID: <m1@example.no>\r\n\r\nx", received_at=NOW)

    assert via_hook.source_message_id == via_smtp.source_message_id == "<m1@example.no>"


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"x-autoreply": "yes"},
        {"Precedence": "bulk"},
        {"Return-Path": "<>"},
    ],
)
def test_auto_submitted_from_headers(headers: dict[str, str]) -> None:
    assert from_webhook(payload(headers=headers), received_at=NOW).auto_submitted


def test_no_reply_sender_is_auto_submitted() -> None:
    assert from_webhook(payload(**{"from": "noreply@shop.example.no"}), received_at=NOW).auto_submitted


def test_html_used_when_no_text() -> None:
    interaction = from_webhook(payload(html="<p>Hei&nbsp;der</p><style>x</style>"), received_at=NOW)

    assert interaction.text == "Hei der"


def test_date_header_then_provider_time_then_receipt() -> None:
    provider = datetime(2025, 2, 1, tzinfo=UTC)
    dated = payload(headers={"Date": "Fri, 28 Feb 2025 09:30:00 +0000"}, received_at=provider.isoformat())

    assert from_webhook(dated, received_at=NOW).occurred_at == datetime(2025, 2, 28, 9, 30, tzinfo=UTC)
    assert from_webhook(payload(received_at=provider.isoformat()), received_at=NOW).occurred_at == provider


def test_header_injection_in_subject_is_flattened() -> None:
    interaction = from_webhook(payload(subject="hi\r\nBcc: victim@example.no"), received_at=NOW)

    assert interaction.subject == "hi Bcc: victim@example.no"


def test_unparseable_from_is_kept_flagged() -> None:
    (identifier,) = from_webhook(payload(**{"from": "nobody"}), received_at=NOW).identifiers

    assert identifier.unparsed
    assert identifier.value == "nobody"


def test_mailbox_is_our_to_address_only() -> None:
    interaction = from_webhook(
        payload(to=["Ola <ola@friends.example>", "Salg <SALG@helhet.no>", "support@helhet.no"]),
        received_at=NOW,
        mailbox="support@helhet.no",
    )

    assert interaction.mailbox == "salg@helhet.no"
    assert "ola@friends.example" not in interaction.model_dump_json()


@pytest.mark.parametrize(
    ("fields", "mailbox"),
    [
        ({"to": "Ola <ola@friends.example>, Support <Support@Helhet.no>"}, "support@helhet.no"),
        ({"to": None, "headers": {"X-Original-To": "kundeservice@helhet.no"}}, "kundeservice@helhet.no"),
        ({"to": "ola@friends.example, <<broken"}, None),
    ],
)
def test_mailbox_from_to_then_delivery_headers(fields: dict[str, Any], mailbox: str | None) -> None:
    interaction = from_webhook(payload(**fields), received_at=NOW, mailbox="support@helhet.no")

    assert interaction.mailbox == mailbox
