"""Mail sent by machines is recorded but flagged so nobody answers it (no auto-reply loops)."""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser

import pytest

from services.ingest.core.channels.email import is_auto_submitted, parse_email

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
HUMAN = b"From: Kari <kari@example.no>\r\n"


def raw_mail(headers: bytes, sender: bytes = HUMAN) -> bytes:
    return sender + headers + b"Subject: hi\r\n\r\nbody\r\n"


@pytest.mark.parametrize(
    "headers",
    [
        b"Auto-Submitted: auto-replied\r\n",
        b"Auto-Submitted: auto-generated; owner-email=x@example.no\r\n",
        b"Auto-Submitted: Auto-Notified\r\n",
        b"X-Autoreply: yes\r\n",
        b"X-Autorespond: Out of office\r\n",
        b"Precedence: bulk\r\n",
        b"Precedence: junk\r\n",
        b"Precedence: auto_reply\r\n",
        b"X-Auto-Response-Suppress: All\r\n",
        b"Return-Path: <>\r\n",
    ],
)
def test_machine_headers_mark_auto_submitted(headers: bytes) -> None:
    interaction = parse_email(raw_mail(headers), received_at=NOW)

    assert interaction.auto_submitted
    assert interaction.identifiers  # still recorded


@pytest.mark.parametrize(
    "headers",
    [b"", b"Auto-Submitted: no\r\n", b"Precedence: list\r\n", b"X-Autoreply: no\r\n"],
)
def test_people_are_not_auto_submitted(headers: bytes) -> None:
    assert not parse_email(raw_mail(headers), received_at=NOW).auto_submitted


@pytest.mark.parametrize(
    "sender",
    [
        b"From: MAILER-DAEMON@mx.example.no\r\n",
        b"From: Mail Delivery System <mailer-daemon@mx.example.no>\r\n",
        b"From: noreply@shop.example.no\r\n",
        b"From: No Reply <no-reply@shop.example.no>\r\n",
        b"From: do-not-reply@shop.example.no\r\n",
        b"From: no_reply+orders@shop.example.no\r\n",
    ],
)
def test_bounce_and_no_reply_senders(sender: bytes) -> None:
    assert parse_email(raw_mail(b"", sender), received_at=NOW).auto_submitted


def test_norelly_lookalike_is_a_person() -> None:
    assert not parse_email(
        raw_mail(b"", b"From: noreplying.fan@example.no\r\n"), received_at=NOW
    ).auto_submitted


def test_delivery_status_report_is_a_bounce() -> None:
    raw = (
        b"From: postmaster@mx.example.no\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        b"Final-Recipient: rfc822; kari@example.no\r\nAction: failed\r\n"
        b"--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: support@helhet.no\r\n\r\nhello\r\n--b--\r\n"
    )

    interaction = parse_email(raw, received_at=NOW)

    assert interaction.auto_submitted
    assert interaction.text == "Delivery failed."
    assert [a.content_type for a in interaction.attachments] == ["message/delivery-status", "message/rfc822"]


def test_empty_envelope_sender_is_a_bounce() -> None:
    raw = raw_mail(b"")

    assert parse_email(raw, received_at=NOW, envelope_sender="<>").auto_submitted
    assert parse_email(raw, received_at=NOW, envelope_sender="").auto_submitted
    assert not parse_email(raw, received_at=NOW, envelope_sender="kari@example.no").auto_submitted


def test_is_auto_submitted_on_a_parsed_message() -> None:
    message = BytesParser(policy=policy.default).parsebytes(raw_mail(b"Auto-Submitted: auto-replied\r\n"))

    assert is_auto_submitted(message)
