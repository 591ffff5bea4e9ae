"""Webhook deliveries over HTTP: one signed POST per attempt (Standard Webhooks headers ``webhook-id``,
``webhook-timestamp``, ``webhook-signature`` over the structured-mode CloudEvent body).

Redirects are not followed (a receiver must name its final URL; following would let it point us at any
host). The host is resolved once per attempt and the request goes to the address that was checked (with
the URL's Host header and, for TLS, its name for SNI and certificate checks): a name that answers a
public address to the check and an internal one to the connection (DNS rebinding) reaches nothing
inside. The response body is never read (a hostile receiver could send without end). A refused or
lost connection and 429/502/503/504 are tried again within the call (tenacity, a few seconds at most);
the long schedule (hours) is the core's. URLs and secrets never reach a log line: receivers put tokens in
them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from dataclasses import dataclass
from math import floor
from urllib.parse import urlsplit, urlunsplit

import httpx
from standardwebhooks import Webhook
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from services.profile.core.webhooks import CONTENT_TYPE
from services.profile.ports import AttemptResult, WebhookRequest

_log = logging.getLogger(__name__)
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address

USER_AGENT = "Helhet-Webhooks/1"
# Answers that say "not now" rather than "no": worth one more try within the call.
_BUSY = frozenset({429, 502, 503, 504})


class _RetryableError(Exception):
    def __init__(self, result: AttemptResult) -> None:
        super().__init__(result.reason)
        self.result = result


class HttpWebhookSender:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        attempts: int,
        total_seconds: float,
        allow_loopback: bool = False,
        initial_seconds: float = 0.5,
        max_seconds: float = 2.0,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self._client = client
        self._attempts = attempts
        # httpx's timeout bounds each read, not the request: a receiver trickling bytes would hold a
        # send past its lease (and another dispatcher would send it again).
        self._total_seconds = total_seconds
        self._allow_loopback = allow_loopback
        self._initial = initial_seconds
        self._max = max_seconds

    async def send(self, request: WebhookRequest) -> AttemptResult:
        try:
            async with asyncio.timeout(self._total_seconds):
                addresses = await self._resolve(request.url)
                if not addresses:
                    return AttemptResult(None, "connection")  # not resolvable now: the schedule retries
                # A name with one foot inside the network is not sent to.
                if not all(self._allowed(address) for address in addresses):
                    return AttemptResult(None, "address_refused")
                return await self._tries(_pinned(request, addresses[0]))
        except TimeoutError:
            return AttemptResult(None, "timeout")
        except Exception as error:  # an unusable URL or an unexpected failure: a failed attempt, settled
            _log.warning("webhook attempt failed (%s)", type(error).__name__)
            return AttemptResult(None, "error")

    async def _resolve(self, url: str) -> list[_Address]:
        """Every address the URL's host resolves to now (none when it does not resolve)."""
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
        try:
            found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError:
            return []
        return [ipaddress.ip_address(info[4][0]) for info in found]

    def _allowed(self, address: _Address) -> bool:
        return address.is_global or (self._allow_loopback and address.is_loopback)

    async def _tries(self, request: _PinnedRequest) -> AttemptResult:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_RetryableError),
            stop=stop_after_attempt(self._attempts),
            wait=wait_random_exponential(multiplier=self._initial, max=self._max),
            before_sleep=_log_retry,
            reraise=True,
        )
        result = AttemptResult(None, "not_attempted")
        try:
            async for attempt in retrying:
                with attempt:
                    result = await self._post(request)
        except _RetryableError as error:
            return error.result
        return result

    async def _post(self, pinned: _PinnedRequest) -> AttemptResult:
        request = pinned.request
        headers = {
            "host": pinned.host_header,
            "content-type": CONTENT_TYPE,
            "user-agent": USER_AGENT,
            "webhook-id": request.message_id,
            "webhook-timestamp": str(floor(request.sent_at.timestamp())),
            "webhook-signature": Webhook(request.secret).sign(
                request.message_id, request.sent_at, request.body
            ),
        }
        try:
            async with self._client.stream(
                "POST",
                pinned.url,
                content=request.body.encode(),
                headers=headers,
                extensions={"sni_hostname": pinned.hostname},
            ) as response:
                code = response.status_code
        except httpx.TimeoutException:
            raise _RetryableError(AttemptResult(None, "timeout")) from None
        except httpx.TransportError:  # refused, reset, TLS, DNS
            raise _RetryableError(AttemptResult(None, "connection")) from None
        result = AttemptResult(code, None if 200 <= code < 300 else f"http_{code}")
        if code in _BUSY:
            raise _RetryableError(result)
        return result


@dataclass(frozen=True)
class _PinnedRequest:
    request: WebhookRequest
    url: str  # the receiver's URL with the checked address in place of its host
    host_header: str
    hostname: str  # for SNI and the certificate check


def _pinned(request: WebhookRequest, address: _Address) -> _PinnedRequest:
    parts = urlsplit(request.url)
    userinfo, _, host_and_port = parts.netloc.rpartition("@")
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = (f"{userinfo}@" if userinfo else "") + literal + (f":{parts.port}" if parts.port else "")
    return _PinnedRequest(
        request, urlunsplit(parts._replace(netloc=netloc)), host_and_port, parts.hostname or ""
    )


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    reason = error.result.reason if isinstance(error, _RetryableError) else "unknown"
    wait = state.next_action.sleep if state.next_action is not None else 0.0
    _log.info("webhook attempt %d failed (%s); retrying in %.2f s", state.attempt_number, reason, wait)
