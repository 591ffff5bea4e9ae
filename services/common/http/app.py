"""The one way a Helhet service builds its FastAPI app."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.telemetry import TelemetryConfig
from starlette.types import Lifespan

from services.common.collector import settle_collector
from services.common.http.auth import OAUTH2_SCHEME_NAME, TokenVerifier, set_token_verifier
from services.common.http.health import MetricsMiddleware, ReadinessCheck, health_router
from services.common.http.problems import (
    BodyLimitMiddleware,
    UnhandledErrorMiddleware,
    install_problem_handlers,
)
from services.common.settings import CommonSettings
from services.common.telemetry import instrument_fastapi

# FastAPI's built-in telemetry would add a second server span, spans per dependency and serialisation
# step (a tenth of a request's CPU here), and logs of validation failures with the offending input.
# The OpenTelemetry instrumentation (raw URLs blanked) and our Prometheus middleware cover it.
_NO_NATIVE_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "operation_spans": False,
    "metrics": False,
    "logs": False,
}


def create_app(
    settings: CommonSettings,
    *,
    title: str,
    readiness: Mapping[str, ReadinessCheck],
    routers: Sequence[APIRouter],
    lifespan: Lifespan[FastAPI] | None = None,
) -> FastAPI:
    """A FastAPI app with bearer-token auth, problem details, a body limit, health and metrics."""
    app = FastAPI(title=title, lifespan=lifespan, telemetry=_NO_NATIVE_TELEMETRY)
    set_token_verifier(app, TokenVerifier.from_settings(settings))
    install_problem_handlers(app)
    app.include_router(health_router(readiness, timeout_seconds=settings.readiness_timeout_seconds))
    for router in routers:
        app.include_router(router)
    # add_middleware puts each new one outside the previous: metrics see every answer including the
    # 413 and 500 problems; the body limit replaces whatever the inner layers made of its error.
    app.add_middleware(UnhandledErrorMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware)
    _document_token_url(app, settings.oidc_token_url or settings.oidc_issuer.rstrip("/") + "/oauth/token")
    instrument_fastapi(app)
    return app


def _document_token_url(app: FastAPI, token_url: str) -> None:
    # The security scheme is declared once at import time, before settings exist; patch this app's
    # OpenAPI document so Swagger's "Authorize" asks the configured issuer.
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        scheme = schema.get("components", {}).get("securitySchemes", {}).get(OAUTH2_SCHEME_NAME)
        if scheme is not None:
            scheme["flows"]["clientCredentials"]["tokenUrl"] = token_url
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def serve_api(factory: str, settings: CommonSettings, port: int) -> None:
    """Serve the app ``factory`` builds (``module:function``, called in every API process) in the
    foreground, in ``settings.api_processes`` processes sharing ``port``: uvloop and httptools (the C
    event loop and parser), and no access log (raw paths and queries can hold personal data; /metrics
    counts by route template)."""
    uvicorn.run(
        factory,
        factory=True,
        workers=settings.api_processes,
        host=settings.api_host,
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
    )


def settled(app: FastAPI) -> FastAPI:
    """``app``, once the collector is settled: the end of every API factory."""
    settle_collector()
    return app
