"""``HELHET_API_PROCESSES`` runs a service's API in that many processes sharing its ports (uvicorn's
workers; one per core on a host without an orchestrator): ingest's HTTP port and its SMTP port are
each served by every process, and SIGTERM stops them all."""

from __future__ import annotations

import signal
import smtplib
from pathlib import Path

import httpx
import pytest

from deploy.local.procs import api_workers
from services.common.settings import CommonSettings
from tests.support.network import free_port
from tests.support.processes import start_role, wait_until_listening, wait_until_ready

pytestmark = pytest.mark.integration


def test_ingest_in_two_processes_serves_http_and_smtp_from_both(infra: CommonSettings) -> None:
    http_port, smtp_port = free_port(), free_port()
    supervisor = start_role(
        infra,
        "services.ingest.main",
        "api",
        HELHET_API_PORT=str(http_port),
        HELHET_SMTP_LISTEN_PORT=str(smtp_port),
        HELHET_API_PROCESSES="2",
    )
    base = f"http://127.0.0.1:{http_port}"
    try:
        wait_until_ready(base, supervisor)
        apis = api_workers(supervisor.pid)
        assert len(apis) == 2
        for pid in apis:
            wait_until_listening(pid, {http_port, smtp_port})
        for _ in range(20):
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as smtp:
            assert smtp.noop()[0] == 250

        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=60) == 0
        assert all(not Path(f"/proc/{pid}").exists() for pid in apis)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()
