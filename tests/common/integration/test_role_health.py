"""Roles without an API answer the same probes as the APIs when ``HELHET_HEALTH_PORT`` is set (as in a
pod), and stop cleanly on SIGTERM (what Kubernetes sends): exit code 0, the port released."""

from __future__ import annotations

import signal
import uuid

import httpx
import pytest

from services.common.kafka.groups import start_group_at_the_end
from services.common.settings import CommonSettings
from services.profile.adapters.inbound.webhook_consumer import WEBHOOK_TOPICS
from services.routing.adapters.inbound.worker import ROUTING_TOPICS
from tests.support.network import free_port
from tests.support.processes import start_role, wait_until_ready

pytestmark = pytest.mark.integration

# A faust worker (the shape of every service's worker) and the plain-aiokafka webhook dispatcher.
ROLES = {
    "routing-worker": (("services.routing.main", "worker"), "HELHET_WORKER_APP_ID", ROUTING_TOPICS),
    "profile-webhooks": (("services.profile.main", "webhooks"), "HELHET_WEBHOOK_GROUP_ID", WEBHOOK_TOPICS),
}


@pytest.mark.parametrize("role", sorted(ROLES))
def test_a_role_without_an_api_answers_probes_and_stops_cleanly(infra: CommonSettings, role: str) -> None:
    (module, command), group_variable, topics = ROLES[role]
    group = f"test-role-health-{uuid.uuid4().hex[:8]}"
    start_group_at_the_end(infra, group, topics)  # only this test's (no) events, not the suite's backlog
    port = free_port()
    process = start_role(infra, module, command, HELHET_HEALTH_PORT=str(port), **{group_variable: group})
    base = f"http://127.0.0.1:{port}"
    try:
        ready = wait_until_ready(base, process)
        assert ready.json()["checks"] == {"kafka": "ok", "mongodb": "ok"}
        alive = httpx.get(f"{base}/healthz", timeout=5)
        assert (alive.status_code, alive.json()) == (200, {"status": "ok"})
        metrics = httpx.get(f"{base}/metrics", timeout=5)
        assert metrics.status_code == 200
        assert 'helhet_http_requests_total{method="GET",route="/readyz",status="200"}' in metrics.text

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/healthz", timeout=2)
