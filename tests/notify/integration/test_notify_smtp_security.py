"""notify's SMTP sender against real relays that want TLS and a login: aiosmtpd servers on 127.0.0.1
with STARTTLS, with TLS from the first byte, or with neither, and a certificate made for the test.
No broker and no database."""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from schemas.interactions import Channel
from services.notify.adapters.outbound.senders import RetryingSender, SmtpSecurity, SmtpSender
from services.notify.inject import build_sender
from services.notify.ports import Outgoing, PermanentSendError, Sender, TransientSendError
from services.notify.settings import NotifySettings
from tests.support.certificates import Certificate, self_signed
from tests.support.network import free_port

pytestmark = pytest.mark.integration

HOST = "127.0.0.1"
FROM = "Helhet kundeservice <support@helhet.no>"
TO = "kari.nordmann@example.no"
BODY = "Hei Kari! Vi har fått saken din."
USER = "helhet-relay"
PASSWORD = "s3cret-relay-password"


def mail() -> Outgoing:
    return Outgoing(send_key="send-tls-1", channel=Channel.EMAIL, to=TO, body=BODY, subject="Saken din")


def fast_retry(inner: Sender, attempts: int) -> RetryingSender:
    return RetryingSender(inner, attempts=attempts, initial_seconds=0.001, max_seconds=0.005)


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    return self_signed(tmp_path / "relay", HOST, "localhost")


# --- relays ------------------------------------------------------------------------------------------


@dataclass
class Relay:
    """Records every AUTH attempt, MAIL FROM and accepted message, and whether each DATA came over TLS
    from a logged-in client. Accepts only ``USER`` with ``PASSWORD``."""

    port: int = field(default_factory=free_port)
    logins: list[tuple[str, str]] = field(default_factory=list)  # (mechanism, login) per attempt
    mail_from: list[str] = field(default_factory=list)
    delivered: list[Envelope] = field(default_factory=list)
    encrypted: list[bool] = field(default_factory=list)
    authenticated: list[bool] = field(default_factory=list)

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((mechanism, auth_data.login.decode()))
        accepted = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
        # handled=False: aiosmtpd answers the refusal (535) itself; the default (True) says the
        # authenticator did, and the client waits for an answer that never comes.
        return AuthResult(success=accepted, handled=False)

    async def handle_MAIL(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        self.mail_from.append(address)
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        transport = server.transport
        self.encrypted.append(transport is not None and transport.get_extra_info("ssl_object") is not None)
        self.authenticated.append(bool(session.authenticated))
        self.delivered.append(envelope)
        return "250 Message accepted for delivery"


@contextmanager
def running(
    *,
    tls_context: ssl.SSLContext | None = None,
    ssl_context: ssl.SSLContext | None = None,
    auth_require_tls: bool = True,
    auth_required: bool = False,
    exclude: tuple[str, ...] = (),
) -> Iterator[Relay]:
    """``tls_context``: STARTTLS offered and required before MAIL; ``ssl_context``: TLS from the first
    byte (aiosmtpd counts only STARTTLS as TLS for AUTH, so that relay needs ``auth_require_tls=False``).
    """
    relay = Relay()
    controller = Controller(
        relay,
        hostname=HOST,
        port=relay.port,
        ssl_context=ssl_context,
        server_hostname="localhost",
        tls_context=tls_context,
        require_starttls=tls_context is not None,
        authenticator=relay.authenticate,
        auth_require_tls=auth_require_tls,
        auth_required=auth_required,
        auth_exclude_mechanism=exclude,
    )
    controller.start()
    try:
        yield relay
    finally:
        controller.stop()


@pytest.fixture
def starttls_relay(certificate: Certificate) -> Iterator[Relay]:
    """Like a submission port (587): STARTTLS first, then AUTH, then mail."""
    with running(tls_context=certificate.server_context(), auth_required=True) as relay:
        yield relay


def sender(
    relay: Relay,
    security: SmtpSecurity,
    *,
    cafile: Path | None,
    password: str = PASSWORD,
    host: str = HOST,
) -> SmtpSender:
    return SmtpSender(
        host,
        relay.port,
        FROM,
        timeout=5.0,
        security=security,
        username=USER,
        password=password,
        ssl_cafile=str(cafile) if cafile is not None else None,
    )


def our_log(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("services."))


# --- STARTTLS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mechanism", "other"), [("PLAIN", "LOGIN"), ("LOGIN", "PLAIN")])
async def test_starttls_then_login_delivers_over_tls(
    certificate: Certificate, mechanism: str, other: str
) -> None:
    with running(tls_context=certificate.server_context(), auth_required=True, exclude=(other,)) as relay:
        attempts = await sender(relay, "starttls", cafile=certificate.cafile).send(mail())

    assert attempts == 1
    assert relay.logins == [(mechanism, USER)]
    assert relay.encrypted == [True]
    assert relay.authenticated == [True]
    (envelope,) = relay.delivered
    assert envelope.mail_from == "support@helhet.no"
    assert envelope.rcpt_tos == [TO]
    sent = BytesParser(policy=default).parsebytes(envelope.original_content or b"")
    assert sent["Subject"] == "Saken din"
    assert sent.get_body() is not None
    assert BODY in str(sent.get_content()).replace("\r\n", "\n")


async def test_a_wrong_password_is_permanent_smtp_auth_and_nothing_is_sent(
    starttls_relay: Relay, certificate: Certificate, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "wrong-" + PASSWORD
    caplog.set_level(logging.DEBUG, logger="services")

    refused = sender(starttls_relay, "starttls", cafile=certificate.cafile, password=wrong)

    with pytest.raises(PermanentSendError) as caught:
        await fast_retry(refused, 4).send(mail())

    assert caught.value.code == "smtp_auth"
    assert caught.value.attempts == 1  # a configuration error: not retried
    # smtplib tries every mechanism offered before it gives up, each over TLS.
    assert {login for _, login in starttls_relay.logins} == {USER}
    assert starttls_relay.logins
    assert starttls_relay.mail_from == []
    assert starttls_relay.delivered == []
    assert wrong not in repr(caught.value)
    assert wrong not in our_log(caplog)


async def test_a_relay_without_starttls_gets_nothing_in_clear(
    certificate: Certificate, caplog: pytest.LogCaptureFixture
) -> None:
    # A relay that would take AUTH and mail in plain text.
    with running(auth_require_tls=False) as relay, pytest.raises(PermanentSendError) as caught:
        await fast_retry(sender(relay, "starttls", cafile=certificate.cafile), 4).send(mail())

    assert caught.value.code == "smtp_tls_unavailable"
    assert caught.value.attempts == 1
    assert relay.logins == []
    assert relay.mail_from == []
    assert relay.delivered == []
    assert PASSWORD not in our_log(caplog)


async def test_an_untrusted_certificate_is_transient_tls_and_gets_no_password(
    starttls_relay: Relay,
) -> None:
    # No cafile: the system's CAs, which never signed the test's certificate.
    with pytest.raises(TransientSendError) as caught:
        await fast_retry(sender(starttls_relay, "starttls", cafile=None), 2).send(mail())

    assert caught.value.code == "tls"
    assert caught.value.attempts == 2
    assert starttls_relay.logins == []
    assert starttls_relay.delivered == []


async def test_a_certificate_for_another_host_is_refused(tmp_path: Path) -> None:
    # Trusted, but made out to relay.example, not 127.0.0.1: the host name is checked.
    elsewhere = self_signed(tmp_path / "elsewhere", "relay.example")
    context = elsewhere.server_context()
    with running(tls_context=context) as relay, pytest.raises(TransientSendError) as caught:
        await sender(relay, "starttls", cafile=elsewhere.cafile).send(mail())

    assert caught.value.code == "tls"
    assert relay.logins == []
    assert relay.delivered == []


async def test_the_host_name_is_checked_as_given(starttls_relay: Relay, certificate: Certificate) -> None:
    # "localhost" is in the certificate too: a name works as well as the address.
    await sender(starttls_relay, "starttls", cafile=certificate.cafile, host="localhost").send(mail())

    assert starttls_relay.encrypted == [True]
    assert len(starttls_relay.delivered) == 1


# --- TLS from the first byte -------------------------------------------------------------------------


async def test_implicit_tls_delivers(certificate: Certificate) -> None:
    with running(ssl_context=certificate.server_context(), auth_require_tls=False) as relay:
        await sender(relay, "tls", cafile=certificate.cafile).send(mail())

    assert relay.logins == [("PLAIN", USER)]  # smtplib's first choice of what aiosmtpd offers
    assert relay.encrypted == [True]
    assert relay.authenticated == [True]
    assert [envelope.rcpt_tos for envelope in relay.delivered] == [[TO]]


async def test_implicit_tls_against_a_plain_port_is_transient_tls() -> None:
    with running(auth_require_tls=False) as relay, pytest.raises(TransientSendError) as caught:
        await sender(relay, "tls", cafile=None).send(mail())

    assert caught.value.code == "tls"
    assert relay.logins == []
    assert relay.mail_from == []


# --- settings ----------------------------------------------------------------------------------------


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


async def test_build_sender_passes_the_smtp_settings(
    starttls_relay: Relay, certificate: Certificate, http_client: httpx.AsyncClient
) -> None:
    settings = NotifySettings.model_validate(
        {
            "smtp_host": HOST,
            "smtp_port": starttls_relay.port,
            "mail_from": FROM,
            "smtp_security": "starttls",
            "smtp_username": USER,
            "smtp_password": PASSWORD,
            "smtp_ssl_cafile": str(certificate.cafile),
            "send_attempts": 1,
        }
    )

    await build_sender(settings, http_client).send(mail())

    assert starttls_relay.logins == [("PLAIN", USER)]
    assert starttls_relay.encrypted == [True]
    assert len(starttls_relay.delivered) == 1
