"""The composition root of ingest: settings → adapters → service → entrypoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI

from services.common.connections import ApiConnections
from services.common.http import create_app
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import create_mongo_client, database
from services.common.telemetry import configure_telemetry
from services.ingest.adapters.inbound.commerce import commerce_router
from services.ingest.adapters.inbound.contact_channels import contact_channels_router
from services.ingest.adapters.inbound.feedback import feedback_router
from services.ingest.adapters.inbound.rest import interactions_router, too_large
from services.ingest.adapters.inbound.smtp import (
    INTAKE_TRANSIENT_ERRORS,
    InboundMailHandler,
    bound_port,
    intake_submitter,
    start_smtp_server,
)
from services.ingest.adapters.inbound.webhooks import channels_router
from services.ingest.adapters.outbound.kafka_publisher import KafkaEventPublisher
from services.ingest.adapters.outbound.mongo_dedupe import MongoDedupeStore
from services.ingest.service import FeedbackService, IntakeService, ItemTooLargeError
from services.ingest.settings import IngestSettings


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_api(settings: IngestSettings) -> FastAPI:
    configure_telemetry(settings)
    connections = ApiConnections()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # aiokafka and the async Mongo client bind to the running loop: build them here.
        publisher = connections.publisher = AsyncEventPublisher(settings, expire_undelivered=True)
        client = connections.client = create_mongo_client(settings)
        await publisher.start()
        dedupe = MongoDedupeStore(
            database(client, settings),
            stale_after=timedelta(seconds=settings.dedupe_stale_after_seconds),
            remembered=settings.dedupe_remembered_keys,
        )
        events = KafkaEventPublisher(publisher)
        intake = app.state.intake = IntakeService(dedupe, events, utc_now)
        app.state.feedback = FeedbackService(
            dedupe, events, utc_now, secret=settings.survey_secret.get_secret_value()
        )
        handler = InboundMailHandler(
            intake_submitter(intake),
            transient_errors=INTAKE_TRANSIENT_ERRORS,
            mailbox=settings.email_mailbox,
            max_bytes=settings.smtp_max_bytes,
        )
        try:
            smtp = await start_smtp_server(
                handler,
                host=settings.smtp_listen_host,
                port=settings.smtp_listen_port,
                shared=settings.api_processes > 1,
            )
        except BaseException:
            await publisher.stop()
            await client.close()
            raise
        app.state.smtp_port = bound_port(smtp)  # the real port when smtp_listen_port is 0 (tests)
        try:
            yield
        finally:
            smtp.close()  # no new mail first, then the clients the open sessions still need
            await smtp.wait_closed()
            await dedupe.settle()
            await publisher.stop()
            await client.close()

    app = create_app(
        settings,
        title="Helhet ingest",
        readiness=connections.readiness(),
        routers=[
            interactions_router(settings.default_phone_region),
            commerce_router(settings.default_phone_region),
            contact_channels_router(settings.default_phone_region),
            channels_router(settings, clock=utc_now),
            feedback_router(),
        ],
        lifespan=lifespan,
    )
    app.add_exception_handler(ItemTooLargeError, too_large)
    return app
