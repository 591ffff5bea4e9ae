"""Inbound SMTP (aiosmtpd): each received mail becomes one interaction, accepted only once submitted.

The SMTP answer is the delivery guarantee: ``250`` only after ``submit`` returned (the broker has it), so
a sending MTA that gets ``451`` keeps the mail and retries, and one that gets ``550`` bounces it to its
sender. Logs carry exception classes, never addresses or content.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.smtp import SMTP

from schemas.interactions import InteractionReceived
from services.ingest.core.channels.email import parse_email
from services.ingest.core.errors import InvalidInputError
from services.ingest.ports import ClaimState
from services.ingest.service import BrokerUnavailableError, IntakeService, Submission

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_HOSTNAME = "helhet-ingest"
SOURCE = "/ingest/email"  # socket.getfqdn() (aiosmtpd's default) can stall on DNS

ACCEPTED = "250 Message accepted"
TRY_AGAIN = "451 4.3.0 try again later"
TOO_BIG = "552 5.3.4 message too big"

_log = logging.getLogger(__name__)

Submit = Callable[[InteractionReceived], Awaitable[object]]
Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _rejected(error: InvalidInputError) -> str:
    """``550`` with the reason; printable ASCII on one line, as an SMTP reply must be."""
    reason = "".join(c if " " <= c <= "~" else " " for c in str(error))[:400]
    return f"550 5.6.0 {reason}"


class InboundMailHandler:
    """aiosmtpd handler: parse → submit → answer.

    ``submit`` raises ``InvalidInputError`` for bad input (→ 550) and one of ``transient_errors`` when
    nothing was accepted but a retry may succeed, e.g. a broker outage (→ 451).
    """

    def __init__(
        self,
        submit: Submit,
        *,
        transient_errors: tuple[type[Exception], ...] = (),
        mailbox: str | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Clock = _utc_now,
    ) -> None:
        self._submit = submit
        self._transient = transient_errors
        self._mailbox = mailbox
        self.max_bytes = max_bytes
        self._clock = clock

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd hook name)
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):  # decode_data=True servers hand over text
            raw = raw.encode("utf-8", "surrogateescape")
        if len(raw) > self.max_bytes:  # the server's data_size_limit normally stops it earlier
            return TOO_BIG
        try:
            interaction = parse_email(
                raw,
                received_at=self._clock(),
                mailbox=self._mailbox,
                envelope_sender=envelope.mail_from,
                envelope_recipients=list(envelope.rcpt_tos or ()),
            )
            await self._submit(interaction)
        except InvalidInputError as error:
            return _rejected(error)
        except self._transient:
            return TRY_AGAIN
        except Exception as error:  # an escaped exception would reach aiosmtpd, which logs the session
            _log.error("inbound mail not accepted: %s", type(error).__name__)
            return TRY_AGAIN
        return ACCEPTED


class DeliveryInFlightError(Exception):
    """The same mail (by Message-ID) is being published by another delivery right now: 451, retry."""


# What ``intake_submitter`` raises when nothing was accepted but a retry may succeed (→ 451).
INTAKE_TRANSIENT_ERRORS: tuple[type[Exception], ...] = (BrokerUnavailableError, DeliveryInFlightError)


def intake_submitter(intake: IntakeService, source: str = SOURCE) -> Submit:
    """A ``submit`` for ``InboundMailHandler`` that hands the mail to the intake service. A duplicate
    (same Message-ID, already published) is accepted again, so the sending MTA stops retrying."""

    async def submit(interaction: InteractionReceived) -> object:
        outcome = await intake.submit(Submission(interaction, source))
        if outcome.state is ClaimState.IN_FLIGHT:
            raise DeliveryInFlightError
        return outcome

    return submit


def quiet_aiosmtpd_logs() -> None:
    """aiosmtpd's ``mail.log`` logs peers and addresses at INFO/DEBUG: personal data."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)


async def start_smtp_server(
    handler: InboundMailHandler,
    *,
    host: str,
    port: int,
    max_bytes: int | None = None,
    hostname: str = DEFAULT_HOSTNAME,
    shared: bool = False,
) -> asyncio.Server:
    """Serve SMTP on the running loop; the caller closes the returned server (``close`` +
    ``wait_closed``). ``port=0`` picks a free port (see ``bound_port``). Mail larger than ``max_bytes``
    (default: the handler's) is answered ``552`` by aiosmtpd before it is buffered. ``shared``: other
    processes of the service listen on the same port (the kernel spreads the connections)."""
    quiet_aiosmtpd_logs()
    loop = asyncio.get_running_loop()
    limit = handler.max_bytes if max_bytes is None else max_bytes
    return await loop.create_server(
        lambda: SMTP(handler, data_size_limit=limit, hostname=hostname, loop=loop),
        host=host,
        port=port,
        reuse_port=shared,
    )


def bound_port(server: asyncio.Server) -> int:
    """The port the server listens on (useful after ``port=0``)."""
    return int(server.sockets[0].getsockname()[1])
