"""The webhook sender refuses hosts that resolve inside the network, and bounds a whole attempt."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from services.profile.adapters.outbound.webhook_sender import HttpWebhookSender
from services.profile.ports import WebhookRequest

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def request(url: str) -> WebhookRequest:
    return WebhookRequest(url, SECRET, "msg-1", '{"id":"msg-1"}', datetime(2026, 11, 24, tzinfo=UTC))


async def test_a_name_that_resolves_to_loopback_is_not_sent_to() -> None:
    async with httpx.AsyncClient() as client:
        sender = HttpWebhookSender(client, attempts=1, total_seconds=5)
        result = await sender.send(request("https://localhost:1/hooks"))
    assert (result.status_code, result.reason) == (None, "address_refused")


async def test_an_unusable_url_is_a_failed_attempt_not_an_exception() -> None:
    async with httpx.AsyncClient() as client:
        sender = HttpWebhookSender(client, attempts=1, total_seconds=5, allow_loopback=True)
        result = await sender.send(request("https://127.0.0.1:99999/hooks"))
    assert result.status_code is None
    assert result.reason in {"error", "connection"}


@pytest.fixture
async def trickling_receiver() -> AsyncIterator[str]:
    """A receiver that accepts and then answers one byte a second, never finishing its headers."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        try:
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 60:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.2)
        except ConnectionError:
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/hooks"


async def test_a_receiver_trickling_bytes_cannot_hold_an_attempt_past_its_total_time(
    trickling_receiver: str,
) -> None:
    async with httpx.AsyncClient(timeout=1.0) as client:  # each read is quick: httpx alone would wait on
        sender = HttpWebhookSender(client, attempts=1, total_seconds=1.5, allow_loopback=True)
        result = await sender.send(request(trickling_receiver))
    # Without the bound the headers would trickle for 12 s, then end as a broken connection.
    assert (result.status_code, result.reason) == (None, "timeout")
