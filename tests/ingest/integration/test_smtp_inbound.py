"""The inbound SMTP server on a real socket, spoken to with smtplib. Most tests need no broker: ``submit``
is a recorder, so they show the SMTP contract (250 only after submit, 550 / 451 / 552) on their own. The
last ones talk to the SMTP server the ingest API starts, against the real broker and database."""

from __future__ import annotations

import asyncio
import smtplib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest

from schemas.interactions import Channel, InteractionReceived
from services.common.http.testing import LocalIssuer, serve
from services.common.settings import CommonSettings
from services.ingest.adapters.inbound.smtp import (
    INTAKE_TRANSIENT_ERRORS,
    DeliveryInFlightError,
    InboundMailHandler,
    bound_port,
    start_smtp_server,
)
from services.ingest.core.errors import InvalidInputError
from services.ingest.settings import IngestSettings
from tests.ingest.integration.conftest import ingest_app
from tests.support.kafka import events_on

HOST = "127.0.0.1"
MAX_BYTES = 64 * 1024


class BrokerUnavailableError(Exception):
    """Stands in for the service's own transient error."""


@dataclass
class Recorder:
    received: list[InteractionReceived] = field(default_factory=list)
    fail_with: Exception | None = None

    async def submit(self, interaction: InteractionReceived) -> object:
        if self.fail_with is not None:
            raise self.fail_with
        self.received.append(interaction)
        return None


@dataclass
class Server:
    port: int
    recorder: Recorder


@pytest.fixture
async def smtp() -> AsyncIterator[Server]:
    recorder = Recorder()
    handler = InboundMailHandler(
        recorder.submit, transient_errors=(BrokerUnavailableError,), max_bytes=MAX_BYTES
    )
    server = await start_smtp_server(handler, host=HOST, port=0)
    try:
        yield Server(bound_port(server), recorder)
    finally:
        server.close()
        await server.wait_closed()


def _send(port: int, message: bytes, mail_from: str = "kari@example.no") -> None:
    with smtplib.SMTP(HOST, port, timeout=10) as client:
        client.sendmail(mail_from, ["support@helhet.no"], message)


async def send(port: int, message: bytes | EmailMessage, mail_from: str = "kari@example.no") -> None:
    raw = message.as_bytes() if isinstance(message, EmailMessage) else message
    await asyncio.to_thread(_send, port, raw, mail_from)


def customer_mail() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Kari Nordmann <Kari.Nordmann@Example.NO>"
    message["To"] = "support@helhet.no"
    message["Subject"] = "Order 1234"
    message["Message-ID"] = "<m1@example.no>"
    message.set_content("Where is my order?")
    return message


async def test_mail_is_accepted_after_submit(smtp: Server) -> None:
    await send(smtp.port, customer_mail())

    (interaction,) = smtp.recorder.received
    assert interaction.identifiers[0].value == "kari.nordmann@example.no"
    assert interaction.text == "Where is my order?"
    assert interaction.source_message_id == "<m1@example.no>"
    assert not interaction.auto_submitted


async def test_empty_envelope_sender_is_a_bounce(smtp: Server) -> None:
    await send(smtp.port, customer_mail(), mail_from="<>")

    (interaction,) = smtp.recorder.received
    assert interaction.auto_submitted


async def test_invalid_input_is_550(smtp: Server) -> None:
    smtp.recorder.fail_with = InvalidInputError("text", "not allowed")

    with pytest.raises(smtplib.SMTPDataError) as caught:
        await send(smtp.port, customer_mail())

    assert caught.value.smtp_code == 550
    assert caught.value.smtp_error == b"5.6.0 text: not allowed"


async def test_mail_without_sender_is_550(smtp: Server) -> None:
    with pytest.raises(smtplib.SMTPDataError) as caught:
        await send(smtp.port, b"Subject: who am I\r\n\r\nbody\r\n")

    assert caught.value.smtp_code == 550
    assert smtp.recorder.received == []


async def test_transient_error_is_451(smtp: Server) -> None:
    smtp.recorder.fail_with = BrokerUnavailableError()

    with pytest.raises(smtplib.SMTPDataError) as caught:
        await send(smtp.port, customer_mail())

    assert caught.value.smtp_code == 451


async def test_unexpected_error_is_451_and_logged_without_personal_data(
    smtp: Server, caplog: pytest.LogCaptureFixture
) -> None:
    smtp.recorder.fail_with = RuntimeError("kari.nordmann@example.no")

    with pytest.raises(smtplib.SMTPDataError) as caught:
        await send(smtp.port, customer_mail())

    assert caught.value.smtp_code == 451
    assert "RuntimeError" in caplog.text
    assert "kari" not in caplog.text.lower()


def oversize_mail() -> bytes:
    line = b"y" * 70 + b"\r\n"
    return b"From: kari@example.no\r\nSubject: big\r\n\r\n" + line * (MAX_BYTES // len(line) + 10)


async def test_oversize_announced_with_size_is_552(smtp: Server) -> None:
    with pytest.raises(smtplib.SMTPSenderRefused) as caught:
        await send(smtp.port, oversize_mail())

    assert caught.value.smtp_code == 552
    assert smtp.recorder.received == []


def _send_without_size(port: int, message: bytes) -> tuple[int, bytes]:
    with smtplib.SMTP(HOST, port, timeout=10) as client:
        client.ehlo()
        client.mail("kari@example.no")  # no SIZE= parameter: the limit is enforced during DATA
        client.rcpt("support@helhet.no")
        return client.data(message)


async def test_oversize_in_data_is_552(smtp: Server) -> None:
    code, _ = await asyncio.to_thread(_send_without_size, smtp.port, oversize_mail())

    assert code == 552
    assert smtp.recorder.received == []


def _nested(depth: int) -> bytes:
    head = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n) for n in range(depth)
    )
    return b"From: a@example.no\r\n" + head + b"Content-Type: text/plain\r\n\r\nhi\r\n"


_FROM = b"From: kari@example.no\r\n"
HOSTILE: list[bytes] = [
    b"\x00" * 200,
    bytes(range(256)) * 4,
    b"From: \x00\x00@\x00\r\n\r\n\x00",
    _FROM + b"Subject: a\x00b\r\n\r\nnull\x00body",
    _nested(1000),
    _nested(150),
    _nested(60),
    _FROM + b"Content-Type: multipart/mixed\r\n\r\nno boundary",
    _FROM + b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\n--x\r\n--x--',
    _FROM + b'Content-Type: multipart/mixed; boundary=""\r\n\r\n--\r\n\r\n----',
    _FROM + b"Content-Type: ;;;;===\r\n\r\nbody",
    _FROM + b'Content-Type: text/plain; charset="\xff\xfe"\r\n\r\nbody',
    _FROM + b"Content-Type: text/plain; charset=utf-16\r\n\r\n\xff",
    _FROM + b"Content-Type: text/plain; charset=rot13\r\n\r\nbody",
    _FROM + b"Content-Transfer-Encoding: base64\r\n\r\n====!!!!",
    _FROM + b"Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 777 \xff\r\nM\r\nend\r\n",
    _FROM + b"Subject: =?utf-8?b?" + b"A" * 900 + b"?=\r\n\r\nx",
    _FROM + b"Subject: =?\xff?q?\xfe?=\r\n\r\nx",
    _FROM + b"Subject: hi\r\nBcc: victim@example.no\r\n\r\ninjected",
    b"From: kari@example.no\r\n\tBcc: victim@example.no\r\n\r\nfolded injection",
    b"From: a@b\r\nFrom: c@d\r\nFrom: \r\n\r\nmany froms",
    b"From: <<<>>>@@@,,,;;;:::\r\n\r\nbroken address",
    b"From: =?utf-8?q?=00?= <a@example.no>\r\n\r\nencoded null",
    b"From: undisclosed-recipients:;\r\n\r\ngroup",
    b"From: " + b"a" * 900 + b"@example.no\r\n\r\nlong local",
    _FROM + b"Date: \xff\xff\r\nMessage-ID: \xff\r\nReferences: <<<<\r\n\r\nx",
    _FROM + b"In-Reply-To: " + b"<a@b> " * 150 + b"\r\n\r\nmany refs",
    _FROM + b"Content-Disposition: attachment; filename*=utf-8''%FF%FE%00\r\n\r\nx",
    _FROM + b"Content-Disposition: attachment; filename*0*=bogus''a; filename*1=b\r\n\r\nx",
    _FROM + b"Content-Type: message/rfc822\r\n\r\nnot really a message",
    _FROM + b"Content-Type: message/rfc822\r\n\r\n" + _nested(30),
    _FROM + b"Content-Type: text/html\r\n\r\n<" * 500 + b"<script><!--<style>",
    _FROM + b"\r\n" + b"\r\n".join([b"line"] * 5000),
    b"No colon header line\r\n\r\nbody",
    b": empty name\r\n\r\nbody",
    b"\r\n\r\nbody only",
    b" \t\r\n",
]


def _deliver(port: int, raw: bytes) -> int:
    """The SMTP answer to DATA: 250, or the 5xx the server refused it with."""
    try:
        _send(port, raw)
    except smtplib.SMTPDataError as error:
        return error.smtp_code
    return 250


@pytest.mark.parametrize("raw", HOSTILE, ids=[f"hostile-{n}" for n in range(len(HOSTILE))])
async def test_hostile_input_ends_in_250_or_clean_5xx(smtp: Server, raw: bytes) -> None:
    before = len(smtp.recorder.received)

    code = await asyncio.to_thread(_deliver, smtp.port, raw)

    assert code == 250 or 500 <= code < 600
    assert len(smtp.recorder.received) == before + (code == 250)
    if code == 250:
        smtp.recorder.received[-1].model_dump_json()
    # The server is still healthy: a valid mail sent right after is not lost.
    await send(smtp.port, customer_mail())
    assert smtp.recorder.received[-1].source_message_id == "<m1@example.no>"


async def test_hostile_set_is_large_enough() -> None:
    assert len(HOSTILE) >= 30


# --- the SMTP server of the ingest API, against the real broker and database ---------------------------


async def test_in_flight_delivery_is_451() -> None:
    recorder = Recorder(fail_with=DeliveryInFlightError())
    handler = InboundMailHandler(recorder.submit, transient_errors=INTAKE_TRANSIENT_ERRORS)
    server = await start_smtp_server(handler, host=HOST, port=0)
    try:
        with pytest.raises(smtplib.SMTPDataError) as caught:
            await send(bound_port(server), customer_mail())
    finally:
        server.close()
        await server.wait_closed()
    assert caught.value.smtp_code == 451


@pytest.mark.integration
async def test_mail_to_the_api_becomes_one_event_and_a_resend_publishes_nothing(
    infra: CommonSettings, issuer: LocalIssuer
) -> None:
    settings = IngestSettings(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        mongodb_uri=infra.mongodb_uri,
        smtp_listen_port=0,
        email_mailbox="support@helhet.no",
    )
    message_id = f"<{uuid.uuid4()}@example.no>"
    mail = customer_mail()
    mail.replace_header("Message-ID", message_id)
    mail.replace_header("To", "Ola <ola@friends.example>, Support <Support@Helhet.no>")
    app = ingest_app(settings, issuer)
    with serve(app):
        port = app.state.smtp_port
        assert port != 0
        await send(port, mail)
        await send(port, mail)  # the sending MTA retried after a lost 250: accepted, not republished

    events = await events_on(infra, "interactions.v1", wanted=1)
    [event] = [
        e
        for e in events
        if isinstance(e.data, InteractionReceived) and e.data.source_message_id == message_id
    ]
    assert event.key == "email:kari.nordmann@example.no"
    assert event.source == "/ingest/email"
    assert isinstance(event.data, InteractionReceived)
    assert event.data.channel is Channel.EMAIL
    assert event.data.subject == "Order 1234"
    assert event.data.text == "Where is my order?"
    assert event.data.mailbox == "support@helhet.no"  # the envelope recipient; never the friend in To
