"""The providers that carry notify's messages: SMTP for email, Twilio for SMS, Meta's Send API for
Messenger and Instagram, and the chat widget's callback; a router picking one by channel and a retrying
wrapper around any of them.

Every refusal is a ``SendError`` whose code names the refusal only (``smtp_550``, ``http_429``,
``connection``): addresses, page ids and message text never reach an exception or a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import smtplib
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from email import policy
from email.errors import MessageError
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Literal
from urllib.parse import quote

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from schemas.interactions import Channel
from services.notify.ports import Outgoing, PermanentSendError, Sender, SendError, TransientSendError

_log = logging.getLogger(__name__)

# The Graph API version the Send API calls are made against.
META_GRAPH_VERSION = "v21.0"
TWILIO_API_VERSION = "2010-04-01"

# Header lines up to RFC 5322's 998 characters: with the default 78 a long Message-ID in In-Reply-To
# or References is folded into RFC 2047 encoded words, and mail clients no longer thread the answer.
_WIDE_HEADERS = policy.SMTP.clone(max_line_length=998)

# "none": plain text; "starttls": upgraded before anything else is said; "tls": TLS from the first byte.
SmtpSecurity = Literal["none", "starttls", "tls"]


# --- email -------------------------------------------------------------------------------------------


def _message_id_ref(value: str) -> str | None:
    """``<id>`` for a Message-ID given with or without angle brackets; None when it is not one."""
    core = value.strip().removeprefix("<").removesuffix(">")
    if not core or any(ch.isspace() or ch in "<>" for ch in core):
        return None
    return f"<{core}>"


def _smtp_error(code: int) -> SendError:
    if 400 <= code < 500:
        return TransientSendError(f"smtp_{code}")
    if 500 <= code < 600:
        return PermanentSendError(f"smtp_{code}")
    return TransientSendError("smtp_protocol")


class SmtpSender:
    """Email over SMTP (stdlib ``smtplib`` in a worker thread), one connection per message.

    Every message says ``Auto-Submitted: auto-replied`` (RFC 3834) and ``X-Auto-Response-Suppress: All``,
    so out-of-office replies and other robots do not answer it. With ``in_reply_to`` the answer carries
    ``In-Reply-To`` and ``References`` and threads under the customer's mail; an id that is not a valid
    Message-ID is left out rather than failing the send. The Message-ID is derived from ``send_key``, so
    a retried send carries the same id and receivers can drop the duplicate.

    ``security`` "starttls" or "tls" checks the relay's certificate and host name (against the system's
    CAs, or only ``ssl_cafile``'s); with ``username`` and ``password`` it logs in once TLS is up. A relay
    that cannot do what was asked (no STARTTLS, no AUTH, credentials refused) is a permanent
    ``smtp_tls_unavailable``, ``smtp_auth_unavailable`` or ``smtp_auth``: never a plain-text fallback, and
    never an ``smtp_5xx`` that reads as a bounce.
    """

    def __init__(
        self,
        host: str,
        port: int,
        sender_address: str,
        *,
        timeout: float,
        local_hostname: str | None = None,
        security: SmtpSecurity = "none",
        username: str | None = None,
        password: str | None = None,
        ssl_cafile: str | None = None,
    ) -> None:
        address = parseaddr(sender_address)[1]
        domain = address.rpartition("@")[2]
        if "@" not in address or not domain:
            raise ValueError("sender_address needs a domain")
        if bool(username) != bool(password):
            raise ValueError("username and password go together")
        self._host = host
        self._port = port
        self._from = sender_address
        self._envelope_from = address
        self._domain = domain
        self._timeout = timeout
        # smtplib's default EHLO name is socket.getfqdn(), which can stall on a slow resolver.
        self._local_hostname = local_hostname or domain
        self._security = security
        self._login = (username, password) if username and password else None
        # Certificate and host name checked, TLS 1.2 at least; built once, so a missing CA file fails at
        # startup rather than at the first message.
        self._tls = ssl.create_default_context(cafile=ssl_cafile) if security != "none" else None

    def build(self, message: Outgoing) -> EmailMessage:
        """The message as it goes on the wire (public for tests and previews)."""
        mail = EmailMessage(policy=policy.SMTP)
        mail["From"] = self._from
        mail["To"] = message.to
        if message.subject is not None:
            mail["Subject"] = message.subject
        mail["Date"] = format_datetime(datetime.now(UTC))
        digest = hashlib.sha256(message.send_key.encode()).hexdigest()[:32]
        mail["Message-ID"] = f"<{digest}.helhet@{self._domain}>"
        mail["Auto-Submitted"] = "auto-replied"
        mail["X-Auto-Response-Suppress"] = "All"
        if message.in_reply_to is not None:
            ref = _message_id_ref(message.in_reply_to)
            if ref is not None:
                mail["In-Reply-To"] = ref
                mail["References"] = ref
        # Quoted-printable: 7-bit safe on any relay, with the body's lines encoded at the usual 76.
        mail.set_content(message.body, charset="utf-8", cte="quoted-printable")
        mail.policy = _WIDE_HEADERS
        return mail

    async def send(self, message: Outgoing) -> int:
        try:
            mail = self.build(message)
        except (ValueError, MessageError):  # a header with a line break, say
            raise PermanentSendError("invalid_message") from None
        await asyncio.to_thread(self._deliver, mail, message.to)
        return 1

    def _deliver(self, mail: EmailMessage, to: str) -> None:
        client: smtplib.SMTP | None = None
        try:
            client = self._connect()
            if self._security == "starttls":
                self._starttls(client)
            if self._login is not None:
                self._log_in(client, *self._login)
            client.send_message(mail, from_addr=self._envelope_from, to_addrs=[to])
        except smtplib.SMTPRecipientsRefused as exc:
            # One recipient, refused at RCPT: 5xx is a hard bounce, 4xx a greylisting or full mailbox.
            codes = [code for code, _ in exc.recipients.values()]
            raise _smtp_error(codes[0] if codes else -1) from None
        except smtplib.SMTPResponseException as exc:  # greeting, EHLO, MAIL FROM or DATA refused
            raise _smtp_error(exc.smtp_code) from None
        except smtplib.SMTPServerDisconnected:  # also a read that timed out
            raise TransientSendError("connection") from None
        except smtplib.SMTPNotSupportedError:  # an internationalised address and no SMTPUTF8
            raise PermanentSendError("smtp_unsupported") from None
        except smtplib.SMTPException:
            raise TransientSendError("smtp_protocol") from None
        except ssl.SSLError:
            # An untrusted or expired certificate, a wrong host name, a failed handshake (also "tls"
            # against a plain-text port). Transient: a relay's certificate is renewed, one node of a pool
            # can be behind; the retries are few and the code names the cause.
            raise TransientSendError("tls") from None
        except OSError:  # refused, unreachable, timed out
            raise TransientSendError("connection") from None
        finally:
            if client is not None:
                # The message is accepted once DATA got its 250: a failing QUIT changes nothing.
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    client.quit()
                client.close()

    def _connect(self) -> smtplib.SMTP:
        # The host goes to the constructor (which connects): smtplib checks the certificate against the
        # name given there, and connect() alone leaves it empty.
        if self._security == "tls":
            return smtplib.SMTP_SSL(
                self._host,
                self._port,
                local_hostname=self._local_hostname,
                timeout=self._timeout,
                context=self._tls,
            )
        return smtplib.SMTP(
            self._host, self._port, local_hostname=self._local_hostname, timeout=self._timeout
        )

    def _starttls(self, client: smtplib.SMTP) -> None:
        """TLS before anything else, or no message at all: never on in plain text."""
        client.ehlo_or_helo_if_needed()
        if not client.has_extn("starttls"):
            # The relay's configuration or a downgrade on the way: for an operator, not a retry.
            raise PermanentSendError("smtp_tls_unavailable")
        try:
            client.starttls(context=self._tls)
        except smtplib.SMTPResponseException as exc:
            # 454 is "TLS not available for a temporary reason"; any other refusal is the relay's setup
            # (and not a bounce: the smtp_5xx codes read as one).
            if 400 <= exc.smtp_code < 500:
                raise _smtp_error(exc.smtp_code) from None
            raise PermanentSendError("smtp_tls_unavailable") from None

    @staticmethod
    def _log_in(client: smtplib.SMTP, username: str, password: str) -> None:
        client.ehlo_or_helo_if_needed()
        if not client.has_extn("auth"):
            raise PermanentSendError("smtp_auth_unavailable")
        try:
            client.login(username, password)
        except smtplib.SMTPAuthenticationError as exc:
            # 454 is a temporary failure (the relay's user database, say); 535 wrong credentials, 534 a
            # mechanism too weak, 538 TLS required: the configuration, never a bounce of this recipient.
            if 400 <= exc.smtp_code < 500:
                raise _smtp_error(exc.smtp_code) from None
            raise PermanentSendError("smtp_auth") from None
        except smtplib.SMTPException:  # none of PLAIN, LOGIN and CRAM-MD5 offered
            raise PermanentSendError("smtp_auth_unavailable") from None


# --- HTTP providers ----------------------------------------------------------------------------------


# Graph API errors that mean "too many calls, later": Meta answers them with HTTP 400.
_META_RATE_LIMITS = frozenset({4, 17, 32, 613})


def _meta_rate_limited(response: httpx.Response) -> bool:
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):
        return False
    return isinstance(error, dict) and error.get("code") in _META_RATE_LIMITS


def _check_status(response: httpx.Response, *, rate_limited: bool = False) -> None:
    """2xx: accepted; 429, 5xx and a provider's own rate limit: try again later; any other status: never."""
    code = response.status_code
    if 200 <= code < 300:
        return
    if code == 429 or code >= 500 or rate_limited:
        raise TransientSendError(f"http_{code}")
    raise PermanentSendError(f"http_{code}")


async def _post(
    client: httpx.AsyncClient,
    url: str,
    *,
    form: Mapping[str, str] | None = None,
    payload: Mapping[str, object] | None = None,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | None = None,
    meta: bool = False,
) -> None:
    try:
        response = await client.post(
            url,
            data=form,
            json=payload,
            params=params,
            headers=headers,
            auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
        )
    except httpx.TransportError:
        raise TransientSendError("connection") from None
    _check_status(
        response, rate_limited=meta and response.status_code == 400 and _meta_rate_limited(response)
    )


class TwilioSmsSender:
    """SMS through Twilio's Messages API (``POST .../Accounts/{sid}/Messages.json``, form-encoded)."""

    def __init__(
        self,
        base_url: str,
        account_sid: str,
        auth_token: str,
        from_number: str,
        client: httpx.AsyncClient,
    ) -> None:
        account = quote(account_sid, safe="")
        self._url = f"{base_url.rstrip('/')}/{TWILIO_API_VERSION}/Accounts/{account}/Messages.json"
        self._auth = httpx.BasicAuth(account_sid, auth_token)
        self._from = from_number
        self._client = client

    async def send(self, message: Outgoing) -> int:
        form = {"To": message.to, "From": self._from, "Body": message.body}
        await _post(self._client, self._url, form=form, auth=self._auth)
        return 1


class MetaSendApiSender:
    """Messenger and Instagram through Meta's Send API (``POST /v21.0/me/messages``), answering within
    the 24-hour window (``messaging_type: RESPONSE``) to a page-scoped id. The page access token picks
    the page; ``Outgoing.scope`` is not sent."""

    def __init__(self, base_url: str, page_access_token: str, client: httpx.AsyncClient) -> None:
        self._url = f"{base_url.rstrip('/')}/{META_GRAPH_VERSION}/me/messages"
        self._token = page_access_token
        self._client = client

    async def send(self, message: Outgoing) -> int:
        payload = {
            "recipient": {"id": message.to},
            "messaging_type": "RESPONSE",
            "message": {"text": message.body},
        }
        await _post(self._client, self._url, payload=payload, params={"access_token": self._token}, meta=True)
        return 1


class ChatCallbackSender:
    """The web chat's callback: ``POST /conversations/{conversation}/messages`` with the send key as
    idempotency key, so a retried send appears once."""

    def __init__(self, base_url: str, client: httpx.AsyncClient, token: str | None = None) -> None:
        self._base = base_url.rstrip("/")
        self._client = client
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def send(self, message: Outgoing) -> int:
        url = f"{self._base}/conversations/{quote(message.to, safe='')}/messages"
        payload = {"text": message.body, "idempotency_key": message.send_key}
        await _post(self._client, url, payload=payload, headers=self._headers)
        return 1


# --- composition -------------------------------------------------------------------------------------


class ChannelRouter:
    """Hands each message to the sender of its channel; a channel without one is ``no_sender``."""

    def __init__(self, senders: Mapping[Channel, Sender]) -> None:
        self._senders = dict(senders)

    async def send(self, message: Outgoing) -> int:
        sender = self._senders.get(message.channel)
        if sender is None:
            raise PermanentSendError("no_sender")
        return await sender.send(message)


class RetryingSender:
    """Retries ``TransientSendError`` with exponential backoff and full jitter (tenacity's
    ``wait_random_exponential``: attempt n waits a random time in ``[0, min(max, initial * 2**(n-1))]``)
    until ``attempts`` attempts were made, then raises the last one. A ``PermanentSendError`` is raised
    at once. The attempts a send took are its return value, or the raised ``SendError``'s ``attempts``.
    """

    def __init__(self, inner: Sender, *, attempts: int, initial_seconds: float, max_seconds: float) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self._inner = inner
        self._attempts = attempts
        self._initial = initial_seconds
        self._max = max_seconds

    async def send(self, message: Outgoing) -> int:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TransientSendError),
            stop=stop_after_attempt(self._attempts),
            wait=wait_random_exponential(multiplier=self._initial, max=self._max),
            before_sleep=_log_retry,
            reraise=True,
        )
        made = 0
        try:
            async for attempt in retrying:
                with attempt:
                    made = attempt.retry_state.attempt_number
                    await self._inner.send(message)
        except SendError as error:
            error.attempts = made
            raise
        return made


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    code = error.code if isinstance(error, SendError) else "unknown"
    wait = state.next_action.sleep if state.next_action is not None else 0.0
    _log.warning("send attempt %d failed (%s); retrying in %.2f s", state.attempt_number, code, wait)
