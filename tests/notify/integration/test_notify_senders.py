"""notify's senders against real servers: an aiosmtpd server that can refuse, and a recording HTTP
endpoint (uvicorn) that answers the statuses a test scripts. Retry waits are milliseconds."""

from __future__ import annotations

import base64
import json
import socket
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from urllib.parse import parse_qs

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI, Request, Response

from schemas.interactions import Channel
from services.common.http.testing import serve
from services.notify.adapters.outbound.senders import (
    ChannelRouter,
    ChatCallbackSender,
    MetaSendApiSender,
    RetryingSender,
    SmtpSender,
    TwilioSmsSender,
)
from services.notify.ports import Outgoing, PermanentSendError, Sender, TransientSendError
from tests.support.network import free_port

HOST = "127.0.0.1"
FROM = "Helhet kundeservice <support@helhet.no>"
BODY = "Hei Kari! Vi har fått saken din og svarer innen to timer. Blåbærsyltetøy: æøå ÆØÅ."


def fast_retry(inner: Sender, attempts: int) -> RetryingSender:
    return RetryingSender(inner, attempts=attempts, initial_seconds=0.001, max_seconds=0.005)


def mail(**changes: str | None) -> Outgoing:
    fields: dict[str, str | None] = {
        "to": "kari.nordmann@example.no",
        "subject": "Re: Bestilling 1234 (æøå)",
        "in_reply_to": "m1@example.no",
    }
    fields.update(changes)
    return Outgoing(
        send_key="send-1",
        channel=Channel.EMAIL,
        body=BODY,
        to=str(fields["to"]),
        subject=fields["subject"],
        in_reply_to=fields["in_reply_to"],
    )


# --- SMTP --------------------------------------------------------------------------------------------


@dataclass
class MailHandler:
    """Records every RCPT and DATA; refuses as told."""

    refuse_data_times: int = 0  # answer 451 to this many DATA commands first
    data_reply: str | None = None  # answer every DATA with this
    rcpt_reply: str | None = None  # answer every RCPT with this
    rcpt_commands: int = 0
    data: list[bytes] = field(default_factory=list)  # every DATA's content, refused ones too
    delivered: list[Envelope] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        self.rcpt_commands += 1
        if self.rcpt_reply is not None:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.data.append(envelope.original_content or b"")
        if self.data_reply is not None:
            return self.data_reply
        if self.refuse_data_times > 0:
            self.refuse_data_times -= 1
            return "451 try later"
        self.delivered.append(envelope)
        return "250 Message accepted for delivery"


@dataclass
class MailServer:
    port: int
    handler: MailHandler

    def sender(self, timeout: float = 5.0) -> SmtpSender:
        return SmtpSender(HOST, self.port, FROM, timeout=timeout)


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    handler = MailHandler()
    port = free_port()
    controller = Controller(handler, hostname=HOST, port=port)
    controller.start()
    try:
        yield MailServer(port, handler)
    finally:
        controller.stop()


def parse(raw: bytes) -> EmailMessage:
    parsed = BytesParser(policy=default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    return parsed


async def test_mail_is_an_auto_reply_threaded_under_the_customers_mail(smtp: MailServer) -> None:
    await smtp.sender().send(mail())

    (envelope,) = smtp.handler.delivered
    assert envelope.mail_from == "support@helhet.no"
    assert envelope.rcpt_tos == ["kari.nordmann@example.no"]
    sent = parse(envelope.original_content or b"")
    assert sent["From"] == FROM
    assert sent["To"] == "kari.nordmann@example.no"
    assert sent["Subject"] == "Re: Bestilling 1234 (æøå)"
    assert sent["Auto-Submitted"] == "auto-replied"
    assert sent["X-Auto-Response-Suppress"] == "All"
    assert sent["Precedence"] is None
    assert sent["In-Reply-To"] == "<m1@example.no>"
    assert sent["References"] == "<m1@example.no>"
    assert str(sent["Message-ID"]).endswith("@helhet.no>")
    assert sent["Date"] is not None
    assert sent.get_content_type() == "text/plain"
    assert sent.get_content_charset() == "utf-8"
    # SMTP lines end in CRLF, and the parser keeps them in the decoded text.
    assert sent.get_content().replace("\r\n", "\n") == BODY + "\n"
    # 7-bit on the wire: the body is quoted-printable, the subject an encoded word.
    assert (envelope.original_content or b"").isascii()


async def test_a_long_message_id_stays_one_unencoded_token(smtp: MailServer) -> None:
    long_id = "<" + "a1b2c3d4" * 12 + ".JavaMail.mailer@mx01.example.no>"

    await smtp.sender().send(mail(in_reply_to=long_id))

    raw = smtp.handler.delivered[0].original_content or b""
    assert f"In-Reply-To: {long_id}\r\n".encode() in raw
    assert f"References: {long_id}\r\n".encode() in raw


async def test_an_invalid_reply_id_is_left_out_and_no_subject_is_no_subject(smtp: MailServer) -> None:
    await smtp.sender().send(mail(in_reply_to="not an id", subject=None))

    sent = parse(smtp.handler.delivered[0].original_content or b"")
    assert sent["In-Reply-To"] is None
    assert sent["References"] is None
    assert sent["Subject"] is None


async def test_451_is_retried_until_delivered_with_the_same_message_id(smtp: MailServer) -> None:
    smtp.handler.refuse_data_times = 2

    attempts = await fast_retry(smtp.sender(), attempts=4).send(mail())

    assert attempts == 3
    assert len(smtp.handler.data) == 3
    assert len(smtp.handler.delivered) == 1
    assert len({parse(raw)["Message-ID"] for raw in smtp.handler.data}) == 1


async def test_451_until_attempts_run_out_raises_the_last_transient_error(
    smtp: MailServer, caplog: pytest.LogCaptureFixture
) -> None:
    smtp.handler.refuse_data_times = 10

    with pytest.raises(TransientSendError) as caught:
        await fast_retry(smtp.sender(), attempts=3).send(mail())

    assert caught.value.code == "smtp_451"
    assert caught.value.attempts == 3
    assert len(smtp.handler.data) == 3
    assert "smtp_451" in caplog.text
    assert "kari" not in caplog.text.lower()
    assert "æøå" not in caplog.text


async def test_550_at_data_is_permanent_and_not_retried(smtp: MailServer) -> None:
    smtp.handler.data_reply = "550 no such user"

    with pytest.raises(PermanentSendError) as caught:
        await fast_retry(smtp.sender(), attempts=5).send(mail())

    assert caught.value.code == "smtp_550"
    assert str(caught.value) == "smtp_550"
    assert caught.value.attempts == 1
    assert len(smtp.handler.data) == 1


async def test_550_at_rcpt_is_a_hard_bounce(smtp: MailServer) -> None:
    smtp.handler.rcpt_reply = "550 5.1.1 no such user"

    with pytest.raises(PermanentSendError) as caught:
        await fast_retry(smtp.sender(), attempts=5).send(mail())

    assert caught.value.code == "smtp_550"
    assert smtp.handler.rcpt_commands == 1
    assert smtp.handler.data == []


async def test_450_at_rcpt_is_transient(smtp: MailServer) -> None:
    smtp.handler.rcpt_reply = "450 4.2.1 mailbox busy"

    with pytest.raises(TransientSendError) as caught:
        await smtp.sender().send(mail())

    assert caught.value.code == "smtp_450"


async def test_a_header_with_a_line_break_is_permanent(smtp: MailServer) -> None:
    with pytest.raises(PermanentSendError) as caught:
        await smtp.sender().send(mail(subject="Hei\r\nBcc: someone@example.no"))

    assert caught.value.code == "invalid_message"
    assert smtp.handler.rcpt_commands == 0


async def test_connection_refused_is_transient() -> None:
    sender = SmtpSender(HOST, free_port(), FROM, timeout=2.0)

    with pytest.raises(TransientSendError) as caught:
        await fast_retry(sender, attempts=2).send(mail())

    assert caught.value.code == "connection"
    assert caught.value.attempts == 2


async def test_a_server_that_never_greets_times_out_as_transient() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind((HOST, 0))
        silent.listen()
        sender = SmtpSender(HOST, silent.getsockname()[1], FROM, timeout=0.3)

        with pytest.raises(TransientSendError) as caught:
            await sender.send(mail())

    assert caught.value.code == "connection"


def test_a_sender_address_needs_a_domain() -> None:
    with pytest.raises(ValueError, match="domain"):
        SmtpSender(HOST, 25, "support", timeout=1.0)


# --- HTTP providers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    raw_path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


@dataclass
class Provider:
    """A real HTTP endpoint recording every POST and answering the scripted statuses (then 200)."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    statuses: deque[int] = field(default_factory=deque)
    bodies: deque[str] = field(default_factory=deque)  # answered with the scripted statuses, in order

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/{path:path}")
        async def record(path: str, request: Request) -> Response:
            self.requests.append(
                Recorded(
                    raw_path=request.scope["raw_path"].decode(),
                    query=dict(request.query_params),
                    headers=dict(request.headers),
                    body=await request.body(),
                )
            )
            status = self.statuses.popleft() if self.statuses else 200
            body = self.bodies.popleft() if self.bodies else '{"ok": true}'
            return Response(body, status_code=status, media_type="application/json")

        return app


@pytest.fixture
def provider() -> Iterator[Provider]:
    recorder = Provider()
    with serve(recorder.app()) as url:
        recorder.url = url
        yield recorder


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as http:
        yield http


def message(channel: Channel, to: str, send_key: str = "send-7") -> Outgoing:
    return Outgoing(send_key=send_key, channel=channel, to=to, body=BODY, scope="PAGE-998877")


def twilio(provider: Provider, client: httpx.AsyncClient) -> TwilioSmsSender:
    return TwilioSmsSender(provider.url, "AC0123", "twilio-secret", "+4790000000", client=client)


def meta(provider: Provider, client: httpx.AsyncClient) -> MetaSendApiSender:
    return MetaSendApiSender(provider.url, "page-token", client=client)


async def test_twilio_gets_a_form_with_basic_auth(provider: Provider, client: httpx.AsyncClient) -> None:
    provider.statuses.append(201)

    await twilio(provider, client).send(message(Channel.SMS, "+4791234567"))

    (request,) = provider.requests
    assert request.raw_path == "/2010-04-01/Accounts/AC0123/Messages.json"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.body.decode()) == {"To": ["+4791234567"], "From": ["+4790000000"], "Body": [BODY]}
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"AC0123:twilio-secret").decode()


async def test_meta_gets_the_send_api_json_and_the_token_as_query_parameter(
    provider: Provider, client: httpx.AsyncClient
) -> None:
    await meta(provider, client).send(message(Channel.INSTAGRAM, "psid-123"))

    (request,) = provider.requests
    assert request.raw_path == "/v21.0/me/messages"
    assert request.query == {"access_token": "page-token"}
    assert request.json() == {
        "recipient": {"id": "psid-123"},
        "messaging_type": "RESPONSE",
        "message": {"text": BODY},
    }
    assert "PAGE-998877" not in request.body.decode()


async def test_chat_gets_the_text_and_the_send_key_with_a_bearer_token(
    provider: Provider, client: httpx.AsyncClient
) -> None:
    sender = ChatCallbackSender(provider.url, client=client, token="chat-token")

    await sender.send(message(Channel.CHAT, "conv/42", send_key="send-chat-1"))

    (request,) = provider.requests
    assert request.raw_path == "/conversations/conv%2F42/messages"
    assert request.json() == {"text": BODY, "idempotency_key": "send-chat-1"}
    assert request.headers["authorization"] == "Bearer chat-token"


async def test_chat_without_a_token_sends_no_authorization(
    provider: Provider, client: httpx.AsyncClient
) -> None:
    await ChatCallbackSender(provider.url, client=client).send(message(Channel.CHAT, "c-1"))

    assert "authorization" not in provider.requests[0].headers


async def test_429_and_503_are_retried(provider: Provider, client: httpx.AsyncClient) -> None:
    provider.statuses.extend([429, 503])

    attempts = await fast_retry(meta(provider, client), attempts=4).send(message(Channel.MESSENGER, "psid-1"))

    assert attempts == 3
    assert len(provider.requests) == 3


async def test_metas_rate_limit_is_retried_though_it_comes_as_a_400(
    provider: Provider, client: httpx.AsyncClient
) -> None:
    provider.statuses.extend([400, 400])
    provider.bodies.extend(['{"error": {"code": 613, "message": "Calls to this api have exceeded"}}', "{}"])

    with pytest.raises(PermanentSendError) as caught:
        await fast_retry(meta(provider, client), attempts=4).send(message(Channel.INSTAGRAM, "igsid-1"))

    assert caught.value.code == "http_400"  # the second 400 names no rate limit: a real refusal
    assert caught.value.attempts == 2


async def test_400_is_permanent_and_not_retried(provider: Provider, client: httpx.AsyncClient) -> None:
    provider.statuses.append(400)

    with pytest.raises(PermanentSendError) as caught:
        await fast_retry(twilio(provider, client), attempts=5).send(message(Channel.SMS, "+4791234567"))

    assert caught.value.code == "http_400"
    assert caught.value.attempts == 1
    assert len(provider.requests) == 1


@pytest.mark.parametrize(
    ("status", "error", "code"),
    [
        (500, TransientSendError, "http_500"),
        (502, TransientSendError, "http_502"),
        (429, TransientSendError, "http_429"),
        (401, PermanentSendError, "http_401"),
        (404, PermanentSendError, "http_404"),
        (301, PermanentSendError, "http_301"),
    ],
)
async def test_status_mapping(
    provider: Provider, client: httpx.AsyncClient, status: int, error: type[Exception], code: str
) -> None:
    provider.statuses.append(status)
    sender = ChatCallbackSender(provider.url, client=client)

    with pytest.raises(error) as caught:
        await sender.send(message(Channel.CHAT, "c-1"))

    assert str(caught.value) == code


async def test_an_unreachable_provider_is_transient(client: httpx.AsyncClient) -> None:
    sender = TwilioSmsSender(f"http://{HOST}:{free_port()}", "AC0123", "t", "+4790000000", client=client)

    with pytest.raises(TransientSendError) as caught:
        await fast_retry(sender, attempts=2).send(message(Channel.SMS, "+4791234567"))

    assert caught.value.code == "connection"
    assert caught.value.attempts == 2


# --- routing -----------------------------------------------------------------------------------------


async def test_the_router_picks_the_channels_sender(
    provider: Provider, client: httpx.AsyncClient, smtp: MailServer
) -> None:
    meta_sender = meta(provider, client)
    router = ChannelRouter(
        {
            Channel.EMAIL: smtp.sender(),
            Channel.SMS: twilio(provider, client),
            Channel.MESSENGER: meta_sender,
            Channel.INSTAGRAM: meta_sender,
            Channel.CHAT: ChatCallbackSender(provider.url, client=client),
        }
    )

    await router.send(mail())
    await router.send(message(Channel.SMS, "+4791234567"))
    await router.send(message(Channel.MESSENGER, "psid-1"))
    await router.send(message(Channel.INSTAGRAM, "igsid-1"))
    await router.send(message(Channel.CHAT, "c-1"))

    assert len(smtp.handler.delivered) == 1
    assert [r.raw_path for r in provider.requests] == [
        "/2010-04-01/Accounts/AC0123/Messages.json",
        "/v21.0/me/messages",
        "/v21.0/me/messages",
        "/conversations/c-1/messages",
    ]


async def test_a_channel_without_a_sender_is_permanent(provider: Provider, client: httpx.AsyncClient) -> None:
    router = ChannelRouter({Channel.CHAT: ChatCallbackSender(provider.url, client=client)})

    with pytest.raises(PermanentSendError) as caught:
        await fast_retry(router, attempts=3).send(message(Channel.PHONE, "+4791234567"))

    assert caught.value.code == "no_sender"
    assert caught.value.attempts == 1
    assert provider.requests == []
