"""Broker down: the API answers 503 with Retry-After, claims nothing, and the refused interaction never
appears on the topic once the broker is back."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deploy.local import infra as local_infra
from deploy.local.config import StackConfig
from schemas.interactions import InteractionReceived
from services.common.http.testing import LocalIssuer, serve
from services.common.kafka.admin import provision_topics
from services.common.settings import CommonSettings
from services.ingest.settings import IngestSettings
from tests.ingest.integration.conftest import ingest_app
from tests.ingest.integration.test_rest_intake import an_interaction, headers
from tests.support.kafka import events_on
from tests.support.network import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[StackConfig]:
    """A broker of this test's own, so stopping it disturbs no other test."""
    cfg = dataclasses.replace(
        StackConfig.from_env(),
        var_dir=tmp_path / "var",
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
    )
    broker = local_infra.KAFKA_COMPONENT
    running = local_infra.start_component(cfg, broker)
    local_infra.wait_healthy(cfg, broker, running.pid, time.monotonic() + 90)
    yield cfg
    local_infra.stop_component(cfg, broker)


def restart(cfg: StackConfig) -> None:
    running = local_infra.start_component(cfg, local_infra.KAFKA_COMPONENT)
    local_infra.wait_healthy(cfg, local_infra.KAFKA_COMPONENT, running.pid, time.monotonic() + 90)


async def test_broker_down_is_503_and_nothing_appears_later(
    infra: CommonSettings, private_broker: StackConfig, issuer: LocalIssuer
) -> None:
    settings = IngestSettings(
        kafka_bootstrap_servers=private_broker.kafka_bootstrap,
        mongodb_uri=infra.mongodb_uri,
        kafka_publish_timeout_ms=2_000,
    )
    provision_topics(settings)
    accepted_id = f"up-{uuid.uuid4()}"
    refused_id = f"down-{uuid.uuid4()}"
    with serve(ingest_app(settings, issuer)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            accepted = await client.post(
                "/v1/interactions", json=an_interaction(accepted_id), headers=headers(issuer)
            )
            local_infra.stop_component(private_broker, local_infra.KAFKA_COMPONENT)
            refused = await client.post(
                "/v1/interactions", json=an_interaction(refused_id), headers=headers(issuer)
            )
            restart(private_broker)
            # The same delivery again, now that the broker is back: accepted, as a first delivery.
            retried = await client.post(
                "/v1/interactions", json=an_interaction(refused_id), headers=headers(issuer)
            )

    assert accepted.status_code == 202
    assert refused.status_code == 503
    assert refused.headers["Retry-After"]
    assert retried.status_code == 202
    assert retried.json()["duplicate"] is False

    events = await events_on(settings, "interactions.v1", wanted=2, timeout_s=15)
    message_ids = [e.data.source_message_id for e in events if isinstance(e.data, InteractionReceived)]
    assert message_ids.count(accepted_id) == 1
    assert message_ids.count(refused_id) == 1  # the retry only: the refused attempt never surfaced
