"""parse_email over real MIME: built with EmailMessage and as raw bytes off the wire."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from annotated_types import MaxLen

from schemas.interactions import MAX_TEXT_CHARS, Channel, Direction, InteractionReceived
from services.ingest.core.channels import email as core
from services.ingest.core.channels.email import html_to_text, parse_email
from services.ingest.core.errors import InvalidInputError

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def mail(**headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = headers.pop("From", "Kari Nordmann <Kari.Nordmann@Example.NO>")
    message["To"] = "support@helhet.no"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    return message


def parse(message: EmailMessage | bytes, **kwargs: object) -> InteractionReceived:
    raw = message if isinstance(message, bytes) else message.as_bytes()
    return parse_email(raw, received_at=NOW, **kwargs)  # type: ignore[arg-type]


def test_plain_mail_becomes_inbound_email_interaction() -> None:
    message = mail(Subject="Where is my order?", Message_ID="<m1@example.no>")
    message.set_content("Hello,\nmy order has not arrived.\n")

    interaction = parse(message)

    assert interaction.channel is Channel.EMAIL
    assert interaction.direction is Direction.INBOUND
    assert [i.value for i in interaction.identifiers] == ["kari.nordmann@example.no"]
    assert not interaction.identifiers[0].unparsed
    assert interaction.subject == "Where is my order?"
    assert interaction.text == "Hello,\nmy order has not arrived."
    assert interaction.source_message_id == "<m1@example.no>"
    assert interaction.thread_id == "<m1@example.no>"
    assert interaction.occurred_at == NOW
    assert interaction.attachments == []
    assert not interaction.auto_submitted


def test_html_only_mail_is_converted_to_text() -> None:
    message = mail()
    message.set_content(
        "<html><head><title>T</title><style>p {color: red}</style></head><body>"
        "<p>Hei &amp; h&aring;per</p><script>alert('x')</script><div>Mvh<br>Kari</div></body></html>",
        subtype="html",
    )

    assert parse(message).text == "Hei & håper\n\nMvh\nKari"


def test_multipart_alternative_prefers_plain() -> None:
    message = mail()
    message.set_content("plain version")
    message.add_alternative("<p>html version</p>", subtype="html")

    interaction = parse(message)

    assert interaction.text == "plain version"
    assert interaction.attachments == []


def test_empty_plain_falls_back_to_html() -> None:
    message = mail()
    message.set_content("   \n")
    message.add_alternative("<p>only here</p>", subtype="html")

    assert parse(message).text == "only here"


def test_attachments_are_metadata_only() -> None:
    message = mail()
    message.set_content("see attached")
    message.add_attachment(b"\x89PNG" + bytes(1000), maintype="image", subtype="png", filename="skade.png")
    message.add_attachment("a;b\n1;2\n", subtype="csv", filename="kvittering.csv")

    interaction = parse(message)

    assert interaction.text == "see attached"
    assert [(a.filename, a.content_type, a.size_bytes) for a in interaction.attachments] == [
        ("skade.png", "image/png", 1004),
        ("kvittering.csv", "text/csv", 8),
    ]


def test_attachments_are_capped_at_contract_maximum() -> None:
    message = mail()
    message.set_content("many")
    for n in range(core.MAX_ATTACHMENTS + 5):
        message.add_attachment(b"x", maintype="application", subtype="octet-stream", filename=f"{n}.bin")

    assert len(parse(message).attachments) == core.MAX_ATTACHMENTS


def test_references_root_is_the_thread() -> None:
    message = mail(
        Message_ID="<m3@example.no>",
        In_Reply_To="<m2@helhet.no>",
        References="<m1@example.no> <m2@helhet.no>",
    )
    message.set_content("reply")

    interaction = parse(message)

    assert interaction.thread_id == "<m1@example.no>"
    assert interaction.source_message_id == "<m3@example.no>"


def test_in_reply_to_is_the_thread_without_references() -> None:
    message = mail(Message_ID="<m3@example.no>", In_Reply_To="<m2@helhet.no>")
    message.set_content("reply")

    assert parse(message).thread_id == "<m2@helhet.no>"


def test_no_message_id_means_no_thread() -> None:
    raw = b"From: a@example.no\r\nSubject: x\r\n\r\nbody\r\n"

    interaction = parse(raw)

    assert interaction.thread_id is None
    assert interaction.source_message_id is None


def test_encoded_word_subject_is_decoded() -> None:
    raw = (
        b"From: =?utf-8?q?J=C3=B8rgen?= <jorgen@example.no>\r\n"
        b"Subject: =?utf-8?b?QmzDpWLDpnJzeWx0ZXTDuHk=?= =?iso-8859-1?q?_p=E5_lager?=\r\n\r\nbody\r\n"
    )

    assert parse(raw).subject == "Blåbærsyltetøy på lager"


def test_latin1_body_and_raw_8bit_header() -> None:
    raw = (
        b"From: a@example.no\r\nSubject: bl\xe5b\xe6r\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        b"R\xf8dgr\xf8d med fl\xf8te\r\n"
    )

    interaction = parse(raw)

    assert interaction.subject == "blåbær"
    assert interaction.text == "Rødgrød med fløte"


@pytest.mark.parametrize(
    "raw",
    [
        b"From: a@example.no\r\nContent-Type: text/plain; charset=x-no-such\r\n\r\nhi \xff\xfe\r\n",
        b"From: a@example.no\r\nContent-Type: text/plain; charset=base64\r\n\r\nhi\r\n",
        b"From: a@example.no\r\nContent-Type: text/plain; charset=idna\r\n\r\nhi \xff\r\n",
        b"From: a@example.no\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhi \xc3\x28\r\n",
        b"From: a@example.no\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!*not base64*\r\n",
        b"From: a@example.no\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 f\r\n garbage\r\n",
        b"From: a@example.no\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=\r\n",
    ],
)
def test_broken_charsets_and_encodings_do_not_fail(raw: bytes) -> None:
    interaction = parse(raw)

    assert interaction.text or b"uuencode" in raw  # garbage uuencode decodes to nothing
    interaction.model_dump_json()  # valid Unicode all the way to the wire


@pytest.mark.parametrize(
    "subject",
    [
        b"=?x-bogus?q?abc?=",
        b"=?utf-8?b?!!!?=",
        b"=?utf-8?q?=FF=FE?=",
        b"=?=?=?",
        b"=?utf-8?x?abc?=",
    ],
)
def test_rfc2047_garbage_subject_does_not_fail(subject: bytes) -> None:
    interaction = parse(b"From: a@example.no\r\nSubject: " + subject + b"\r\n\r\nbody\r\n")

    interaction.model_dump_json()
    assert interaction.identifiers[0].value == "a@example.no"


def test_missing_from_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse(b"Subject: secret subject\r\n\r\nsecret body\r\n")

    assert (caught.value.field, caught.value.reason) == ("from", "missing sender")
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize("raw", [b"", b"\r\n\r\n", b"From: \r\n\r\nbody"])
def test_empty_input_is_invalid(raw: bytes) -> None:
    with pytest.raises(InvalidInputError):
        parse(raw)


def test_unparseable_sender_is_kept_raw_and_flagged() -> None:
    interaction = parse(b"From: not an address\r\n\r\nbody\r\n")

    (identifier,) = interaction.identifiers
    assert identifier.unparsed
    assert identifier.value == "not an address"


def test_reply_to_adds_identifier_but_not_our_mailbox() -> None:
    message = mail(Reply_To="Kari <kari@home.example>, support@helhet.no")
    message.set_content("x")

    interaction = parse(message, mailbox="Support@Helhet.no")

    assert [i.value for i in interaction.identifiers] == ["kari.nordmann@example.no", "kari@home.example"]


def test_mailbox_is_the_envelope_recipient_on_our_domain_never_another_recipient() -> None:
    message = mail(Cc="Per <per@gmail.example>")
    message.replace_header("To", "Ola <ola@friends.example>, Salg@Helhet.no, Kari <kari@home.example>")
    message.set_content("x")

    interaction = parse(
        message,
        mailbox="support@helhet.no",
        envelope_recipients=["ola@friends.example", "not an address", "SALG@helhet.no", "support@helhet.no"],
    )

    assert interaction.mailbox == "salg@helhet.no"
    assert "ola@friends.example" not in interaction.model_dump_json()


def test_mailbox_falls_back_to_delivery_headers_but_never_to_the_to_header() -> None:
    message = mail(Delivered_To="friend@gmail.example", X_Original_To="Kundeservice@Helhet.no")
    message.set_content("x")

    relayed = parse(message, mailbox="support@helhet.no", envelope_recipients=["inbox@mx.internal"])
    to_header_only = parse(mail(), mailbox="support@helhet.no")

    assert relayed.mailbox == "kundeservice@helhet.no"
    assert to_header_only.mailbox is None  # To ("support@helhet.no") is the sender's word, not a delivery


def test_mailbox_needs_a_configured_mailbox() -> None:
    message = mail()
    message.set_content("x")

    assert parse(message, envelope_recipients=["support@helhet.no"]).mailbox is None
    configured = parse(message, mailbox="support@helhet.no", envelope_recipients=["support@helhet.no"])
    assert configured.mailbox == "support@helhet.no"


def test_reply_to_same_as_sender_is_not_repeated() -> None:
    message = mail(Reply_To="KARI.NORDMANN@example.no")
    message.set_content("x")

    assert len(parse(message).identifiers) == 1


def test_date_header_is_occurred_at() -> None:
    message = mail(Date="Fri, 28 Feb 2025 09:30:00 +0100")
    message.set_content("x")

    assert parse(message).occurred_at == datetime(2025, 2, 28, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "date",
    [
        b"yesterday",
        b"Fri, 28 Feb 2025 09:30:00 -0000",  # zone unknown
        b"Fri, 28 Feb 2025 09:30:00",
        b"Fri, 31 Feb 2025 09:30:00 +0100",
        b"Mon, 1 Jan 9999 23:59:59 -1200",
        b"Mon, 1 Jan 1066 00:00:00 +1400",
        b"Sat, 1 Mar 2031 12:00:00 +0000",  # far in the future
    ],
)
def test_unusable_date_falls_back_to_receipt(date: bytes) -> None:
    interaction = parse(b"From: a@example.no\r\nDate: " + date + b"\r\n\r\nx\r\n")

    assert interaction.occurred_at == NOW


def test_naive_received_at_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_email(b"From: a@example.no\r\n\r\nx", received_at=NOW.replace(tzinfo=None))


def test_huge_text_is_truncated_not_rejected() -> None:
    message = mail()
    message.set_content("å" * (MAX_TEXT_CHARS + 5000))

    text = parse(message).text

    assert text is not None
    assert len(text) == MAX_TEXT_CHARS


def test_huge_subject_and_message_id_are_truncated() -> None:
    raw = (
        b"From: a@example.no\r\nSubject: "
        + b"s" * 5000
        + b"\r\nMessage-ID: <"
        + b"i" * 3000
        + b"@x>\r\n\r\nb"
    )

    interaction = parse(raw)

    assert interaction.subject == "s" * core.MAX_HEADER_CHARS
    assert interaction.source_message_id is not None
    assert len(interaction.source_message_id) <= core.MAX_HEADER_CHARS


def test_header_injection_is_flattened() -> None:
    raw = b"From: a@example.no\r\nSubject: hi\r\n\tBcc: victim@example.no\r\n\r\nx"

    subject = parse(raw).subject

    assert subject is not None
    assert "\n" not in subject
    assert "\r" not in subject


def test_null_bytes_are_removed() -> None:
    interaction = parse(b"From: a@example.no\r\nSubject: a\x00b\r\n\r\nx\x00y\r\n")

    assert (interaction.subject, interaction.text) == ("ab", "xy")


def test_deeply_nested_multiparts_are_rejected_cleanly() -> None:
    raw = b"From: a@example.no\r\n" + b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n) for n in range(1000)
    )

    with pytest.raises(InvalidInputError):
        parse(raw + b"Content-Type: text/plain\r\n\r\nhi\r\n")


def test_moderately_nested_multiparts_still_parse() -> None:
    depth = 30
    raw = b"From: a@example.no\r\n" + b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n) for n in range(depth)
    )

    parse(raw + b"Content-Type: text/plain\r\n\r\nhi\r\n").model_dump_json()


def test_multipart_without_boundary_is_read_as_text() -> None:
    raw = b"From: a@example.no\r\nContent-Type: multipart/mixed\r\n\r\nplain words\r\n"

    assert parse(raw).text == "plain words"


def test_binary_garbage_without_headers_is_invalid() -> None:
    with pytest.raises(InvalidInputError):
        parse(bytes(range(256)) * 10)


def test_html_to_text_handles_broken_markup() -> None:
    assert html_to_text("<p>a<b>b</p><script>x") == "ab"
    assert "x" not in html_to_text("<style>x</style>ok")
    assert html_to_text("&lt;tag&gt; &#230; &nope;") == "<tag> æ &nope;"


def test_contract_limits_match_the_schema() -> None:
    def max_len(field: str) -> int:
        (limit,) = [
            m.max_length for m in InteractionReceived.model_fields[field].metadata if isinstance(m, MaxLen)
        ]
        return limit

    assert core.MAX_HEADER_CHARS == max_len("subject") == max_len("thread_id") == max_len("source_message_id")
    assert max_len("attachments") == core.MAX_ATTACHMENTS
    assert max_len("identifiers") == core.MAX_IDENTIFIERS
