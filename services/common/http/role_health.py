"""Health for the roles that serve no API (consumers, dispatchers): in a pod, with ``HELHET_HEALTH_PORT``
set, they answer ``/healthz``, ``/readyz`` and ``/metrics`` like the APIs do, so one probe shape fits
every container."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from faust.contrib.asgi import AsgiService

from services.common.connections import ApiConnections
from services.common.http.app import create_app
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import create_mongo_client
from services.common.settings import CommonSettings


def create_health_app(settings: CommonSettings, role: str) -> FastAPI:
    """Ready when the broker and the database answer through connections of its own (a quiet consumer
    may not have opened its clients yet, and must not hold a rollout back for that)."""
    connections = ApiConnections()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        client = connections.client = create_mongo_client(settings)
        publisher = connections.publisher = AsyncEventPublisher(
            settings, client_id=f"{settings.service_name}-{role}-health"
        )
        await publisher.start()
        try:
            yield
        finally:
            await publisher.stop()
            await client.close()

    return create_app(
        settings,
        title=f"Helhet {settings.service_name} {role} health",
        readiness=connections.readiness(),
        routers=[],
        lifespan=lifespan,
    )


def health_server(settings: CommonSettings, role: str, port: int) -> type[AsgiService]:
    """The health app served by uvicorn on the role's own loop, as a service class to start and stop (a
    faust worker starts it as its web server). It installs no signal handlers, so the role's own shutdown
    stays in charge; spans come from ``create_app``'s instrumentation, not a second one."""
    attributes: dict[str, Any] = {
        "asgi_app": create_health_app(settings, role),
        "host": settings.api_host,
        "port": port,
        "uvicorn_options": {"access_log": False},
        "opentelemetry": False,
    }
    return type("HealthServer", (AsgiService,), attributes)
