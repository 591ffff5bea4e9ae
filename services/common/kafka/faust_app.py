"""A faust app with settings that fit Helhet's consumers: at-least-once, topics provisioned by us (never
auto-declared), no standby replicas, and, in a pod, a small health app instead of faust's
own web pages."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import faust

from services.common.http.role_health import health_server
from services.common.kafka.connection import aiokafka_options
from services.common.settings import CommonSettings


def create_faust_app(settings: CommonSettings, app_id: str, **overrides: Any) -> faust.App:
    options = aiokafka_options(settings)
    credentials: faust.SASLCredentials | faust.SSLCredentials | None = None
    if settings.kafka_sasl_mechanism is not None:
        credentials = faust.SASLCredentials(
            username=options["sasl_plain_username"],
            password=options["sasl_plain_password"],
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=options.get("ssl_context"),
        )
    elif "ssl_context" in options:
        credentials = faust.SSLCredentials(options["ssl_context"])
    # Tables live in memory; faust still creates its data directory, which must not litter the working
    # directory (and faust makes only the last folder of the path).
    datadir = Path(tempfile.gettempdir()) / "helhet-faust" / f"{app_id}-data"
    datadir.parent.mkdir(parents=True, exist_ok=True)
    defaults: dict[str, Any] = {
        "broker": [f"kafka://{server}" for server in settings.kafka_bootstrap_servers.split(",")],
        "broker_credentials": credentials,
        "broker_client_id": f"{app_id}-worker",
        # Commits follow processing: an event is acked once its batch is written (``taking.ack_all``).
        "broker_commit_interval": 1.0,
        "broker_session_timeout": settings.kafka_session_timeout_seconds,
        "broker_heartbeat_interval": min(3.0, settings.kafka_session_timeout_seconds / 3),
        "consumer_auto_offset_reset": "earliest",
        "producer_acks": -1,
        "processing_guarantee": "at_least_once",
        "topic_allow_declare": False,
        "topic_replication_factor": settings.kafka_topic_replication_factor,
        "table_standby_replicas": 0,
        "store": "memory://",
        "datadir": datadir,
        # The health app below, when there is one; never faust's own aiohttp pages.
        "web_enabled": settings.health_port is not None,
        "key_serializer": "raw",
        "value_serializer": "raw",
    }
    defaults.update(overrides)
    app = faust.App(app_id, **defaults)
    if settings.health_port is not None:
        app.web_server(health_server(settings, "worker", settings.health_port))
    return app
