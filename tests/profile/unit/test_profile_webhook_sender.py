"""The webhook sender refuses hosts that resolve inside the network, sends to the address it checked (TLS
still verifying the host's name), and bounds a whole attempt. Real receivers on this machine."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.profile.adapters.outbound.webhook_sender import HttpWebhookSender
from services.profile.ports import WebhookRequest
from tests.support.certificates import self_signed

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


@dataclass
class Receiver:
    url: str
    hosts: list[str] = field(default_factory=list)  # Host header of each request
    server_names: list[str | None] = field(default_factory=list)  # SNI of each TLS handshake


async def serve_receiver(
    host: str, scheme: str, url_host: str, context: ssl.SSLContext | None = None
) -> tuple[asyncio.Server, Receiver]:
    receiver = Receiver("")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "host":
                receiver.hosts.append(value.strip())
        writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    if context is not None:
        context.sni_callback = lambda _socket, name, _context: receiver.server_names.append(name)
    server = await asyncio.start_server(handle, host, 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    receiver.url = f"{scheme}://{url_host}:{port}/hooks"
    return server, receiver


async def test_tls_to_the_checked_address_verifies_the_receivers_name(tmp_path: Path) -> None:
    """The request goes to the address that was checked, yet TLS still names the host: SNI and the
    certificate check use it (the certificate here is for "localhost" only, not for any address)."""
    certificate = self_signed(tmp_path, "localhost")
    server, receiver = await serve_receiver("localhost", "https", "localhost", certificate.server_context())
    trusted = ssl.create_default_context(cafile=certificate.cafile)
    async with server, httpx.AsyncClient(verify=trusted) as client:
        sender = HttpWebhookSender(client, attempts=1, total_seconds=5, allow_loopback=True)
        result = await sender.send(request(receiver.url))
    assert (result.status_code, result.reason) == (204, None)
    assert receiver.server_names == ["localhost"]
    assert receiver.hosts == [receiver.url.split("/")[2]]


async def test_a_name_rebinding_to_an_inside_address_after_the_check_reaches_nothing_inside(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding: the name answers an allowed address to the check and an internal one afterwards.
    The request goes to the checked address; the name is looked up once."""
    server, receiver = await serve_receiver("127.0.0.1", "http", "rebinding.example")
    loop = asyncio.get_running_loop()
    resolve = loop.getaddrinfo
    lookups: list[str] = []

    async def rebinding(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        if host != "rebinding.example":
            return await resolve(host, port, *args, **kwargs)
        lookups.append(host)
        inside = "127.0.0.1" if len(lookups) == 1 else "10.20.30.40"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (inside, port))]

    monkeypatch.setattr(loop, "getaddrinfo", rebinding)
    async with server, httpx.AsyncClient() as client:
        sender = HttpWebhookSender(client, attempts=1, total_seconds=5, allow_loopback=True)
        result = await sender.send(request(receiver.url))
    assert (result.status_code, result.reason) == (204, None)
    assert lookups == ["rebinding.example"]
    assert receiver.hosts == [receiver.url.split("/")[2]]


async def test_a_name_that_does_not_resolve_is_a_connection_failure_without_a_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = asyncio.get_running_loop()

    async def unknown(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(loop, "getaddrinfo", unknown)
    async with httpx.AsyncClient() as client:
        sender = HttpWebhookSender(client, attempts=1, total_seconds=5)
        result = await sender.send(request("https://receiver.example/hooks"))
    assert (result.status_code, result.reason) == (None, "connection")
