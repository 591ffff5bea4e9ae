"""Liveness, readiness and Prometheus metrics for every service."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, Request, Response
from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.http._asgi import route_template
from services.common.http.problems import problem

ReadinessCheck = Callable[[], Awaitable[None]]
"""Returns when the dependency is usable, raises otherwise."""

_log = logging.getLogger(__name__)

# Module-level: prometheus-client registers metrics once per process, and all apps in a process share
# them (a service has one app; tests build several).
HTTP_REQUESTS = Counter(
    "helhet_http_requests",
    "HTTP requests answered, by route template (never the raw path), method and status.",
    ["route", "method", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "helhet_http_request_duration_seconds",
    "Time from request start to the last response byte, by route template, method and status.",
    ["route", "method", "status"],
)
# Anything else becomes OTHER so clients cannot mint label values (and series) at will.
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def health_router(readiness: Mapping[str, ReadinessCheck], *, timeout_seconds: float = 2.0) -> APIRouter:
    """``/healthz``, ``/readyz`` and ``/metrics``; kept out of the OpenAPI document (they are for the
    platform, not for API clients)."""
    router = APIRouter(include_in_schema=False)
    checks = dict(readiness)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        # Liveness must stay cheap and independent of Kafka/Mongo: a restart does not fix a broker outage.
        return {"status": "ok"}

    @router.get("/readyz", response_model=None)
    async def readyz() -> Response | dict[str, object]:
        results = await asyncio.gather(
            *(_run_check(name, check, timeout_seconds) for name, check in checks.items())
        )
        outcome = dict(zip(checks, results, strict=True))
        if all(result == "ok" for result in results):
            return {"status": "ready", "checks": outcome}
        failed = sorted(name for name, result in outcome.items() if result != "ok")
        return problem(503, f"Not ready: {', '.join(failed)}.", checks=outcome)

    @router.get("/metrics")
    async def metrics(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(REGISTRY), media_type=content_type)

    return router


async def _run_check(name: str, check: ReadinessCheck, timeout_seconds: float) -> str:
    try:
        await asyncio.wait_for(check(), timeout_seconds)
    except TimeoutError:
        _log.warning("readiness check %s timed out after %.1f s", name, timeout_seconds)
        return "timeout"
    except Exception as exc:
        # The type only: messages can hold connection strings with credentials.
        _log.warning("readiness check %s failed: %s", name, type(exc).__name__)
        return "failed"
    return "ok"


class MetricsMiddleware:
    """Counts and times every HTTP request; pure ASGI so streaming responses are timed to the end."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # if the app fails without answering, the server answers 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            # The router put the matched route into this same scope dict on the way in.
            method = scope["method"] if scope["method"] in _KNOWN_METHODS else "OTHER"
            labels = (route_template(scope), method, str(status))
            HTTP_REQUESTS.labels(*labels).inc()
            HTTP_REQUEST_DURATION.labels(*labels).observe(time.perf_counter() - start)
