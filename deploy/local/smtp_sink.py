"""Local SMTP sink: accepts every message and keeps it as an ``.eml`` file under ``var/mail/``.

Run with ``python -m deploy.local.smtp_sink``; it never relays anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from aiosmtpd.smtp import SMTP, Envelope, Session

from deploy.local.config import HOST, StackConfig

log = logging.getLogger("helhet.smtp_sink")


def store_message(mail_dir: Path, envelope: Envelope) -> Path:
    """Write one message atomically (temp file + rename), so readers never see half a message."""
    mail_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    target = mail_dir / f"{stamp}-{uuid.uuid4().hex[:12]}.eml"
    # The envelope is kept as headers: Bcc recipients and bounce addresses are not in the message itself.
    headers = (
        f"X-Envelope-From: <{envelope.mail_from}>\r\n"
        f"X-Envelope-To: {', '.join(f'<{rcpt}>' for rcpt in envelope.rcpt_tos)}\r\n"
    ).encode()
    content = envelope.original_content or b""
    fd, tmp = tempfile.mkstemp(dir=mail_dir, prefix=".incoming-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(headers + content)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


class MailDirHandler:
    """aiosmtpd handler storing each message under ``mail_dir``."""

    def __init__(self, mail_dir: Path) -> None:
        self.mail_dir = mail_dir

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        path = await asyncio.to_thread(store_message, self.mail_dir, envelope)
        # The file name only: addresses and content are personal data and stay out of logs.
        log.info("stored %s", path.name)
        return "250 Message accepted for delivery"


async def serve(host: str, port: int, mail_dir: Path) -> None:
    """Serve until SIGINT or SIGTERM."""
    loop = asyncio.get_running_loop()
    handler = MailDirHandler(mail_dir)
    server = await loop.create_server(lambda: SMTP(handler, hostname="helhet-smtp-sink"), host, port)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("SMTP sink on %s:%d storing mail in %s", host, port, mail_dir)
    async with server:
        await stop.wait()
    log.info("SMTP sink stopped")


app = typer.Typer(add_completion=False)


@app.command()
def main(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = HOST,
    port: Annotated[int | None, typer.Option(help="Default: HELHET_SMTP_SINK_PORT or 1025.")] = None,
    mail_dir: Annotated[Path | None, typer.Option(help="Default: <HELHET_VAR_DIR>/mail.")] = None,
) -> None:
    """Accept SMTP on HOST:PORT and keep every message as an .eml file."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # aiosmtpd logs every SMTP command, addresses included, at INFO: personal data stays out of logs.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    cfg = StackConfig.from_env()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(host, port or cfg.smtp_sink_port, mail_dir or cfg.mail_dir))


if __name__ == "__main__":
    app()
