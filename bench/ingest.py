"""Ingest through its real HTTP API: single requests at a fixed arrival rate (oha, open loop) and the
batch endpoint closed-loop, both with dedupe and normalisation on. The API and a development token
issuer run as their own processes, as under ``make run``."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.report import Figure
from services.common.settings import CommonSettings

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer")


@contextmanager
def running_ingest(settings: CommonSettings) -> Iterator[tuple[str, str]]:
    """Issuer and ingest API on free ports; yields (ingest base URL, bearer token)."""
    issuer_port, api_port = _free_port(), _free_port()
    issuer = f"http://127.0.0.1:{issuer_port}"
    env = {
        **os.environ,
        "HELHET_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "HELHET_MONGODB_URI": settings.mongodb_uri.get_secret_value(),
        "HELHET_DEV_ISSUER_URL": issuer,
        "HELHET_DEV_ISSUER_KEY_DIR": str(REPO / "var" / "bench-issuer"),
        "HELHET_OIDC_ISSUER": issuer,
        "HELHET_OIDC_JWKS_URL": f"{issuer}/.well-known/jwks.json",
        "HELHET_API_PORT": str(api_port),
        "HELHET_SMTP_PORT": "0",
        "HELHET_LOG_LEVEL": "WARNING",
    }
    py = sys.executable
    processes = [
        subprocess.Popen(
            [
                py,
                "-m",
                "uvicorn",
                "deploy.local.dev_issuer:app",
                "--port",
                str(issuer_port),
                "--no-access-log",
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [py, "-m", "services.ingest.main", "api"], cwd=REPO, env=env, stdout=subprocess.DEVNULL
        ),
    ]
    try:
        base = f"http://127.0.0.1:{api_port}"
        _wait_for(f"{issuer}/.well-known/jwks.json")
        _wait_for(f"{base}/readyz")
        token = httpx.post(
            f"{issuer}/oauth/token",
            data={"grant_type": "client_credentials", "scope": "interactions:write"},
            auth=("helhet-dev", "helhet-dev-secret"),
        ).json()["access_token"]
        yield base, token
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


def interaction(message_id: str | None) -> dict[str, Any]:
    return {
        "channel": "web_form",
        "direction": "inbound",
        "identifiers": [
            {"kind": "phone", "value": "912 34 567"},
            {"kind": "email", "value": "Kari@Example.no"},
        ],
        "subject": "Levering",
        "text": "Hvor er pakken min? " * 10,
        "occurred_at": "2026-11-23T10:00:00+01:00",
        "source_message_id": message_id,
    }


def single_at_fixed_rate(
    oha: Path, base: str, token: str, rate: int, seconds: int, *, duplicates: bool
) -> list[Figure]:
    """Open loop: oha offers ``rate`` requests/s with one fixed body. oha cannot vary the body, so one
    run sends no dedupe key (every request normalised and published) and one sends the same key every
    time (every request after the first is a dedupe hit: claim, answer, no publish)."""
    body = json.dumps(interaction(f"bench-{uuid.uuid4()}" if duplicates else None))
    label = "ingest single POST, " + ("all duplicates" if duplicates else "all new")
    result = subprocess.run(
        [
            str(oha),
            "-q",
            str(rate),
            "-z",
            f"{seconds}s",
            "-c",
            "64",
            "--no-tui",
            "--output-format",
            "json",
            "-m",
            "POST",
            "-T",
            "application/json",
            "-H",
            f"Authorization: Bearer {token}",
            "-d",
            body,
            f"{base}/v1/interactions",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    report = json.loads(result.stdout)
    summary, percentiles = report["summary"], report["latencyPercentiles"]
    statuses = report.get("statusCodeDistribution", {})
    ok = sum(count for code, count in statuses.items() if code == "202")
    return [
        Figure(f"{label}: offered ({seconds} s)", float(rate), "req/s"),
        Figure(f"{label}: achieved", summary["requestsPerSec"], "req/s"),
        Figure(f"{label}: p50", percentiles["p50"] * 1000, "ms"),
        Figure(f"{label}: p99", percentiles["p99"] * 1000, "ms"),
        Figure(f"{label}: not 202", float(sum(statuses.values()) - ok), "requests"),
    ]


async def batch_closed_loop(base: str, token: str, batches: int, size: int, connections: int) -> list[Figure]:
    """Closed loop over the batch endpoint: every item is new (unique source message id)."""
    run = uuid.uuid4().hex[:8]
    bodies = [
        json.dumps({"interactions": [interaction(f"{run}-{b}-{i}") for i in range(size)]}).encode()
        for b in range(batches)
    ]
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    failures = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal failures
        while not queue.empty():
            body = queue.get_nowait()
            started = time.perf_counter()
            response = await client.post("/v1/interactions:batch", content=body)
            latencies.append(time.perf_counter() - started)
            failures += response.status_code != 202

    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return [
        Figure(
            f"ingest batch ({size}/request, {connections} connections) rate",
            batches * size / elapsed,
            "interactions/s",
        ),
        Figure("ingest batch request p50", latencies[len(latencies) // 2] * 1000, "ms"),
        Figure("ingest batch request p99", latencies[int(len(latencies) * 0.99) - 1] * 1000, "ms"),
        Figure("ingest batch requests failed", float(failures), "requests"),
    ]
