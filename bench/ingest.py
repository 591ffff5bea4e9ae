"""Ingest through its real HTTP API: single requests at a fixed arrival rate (open loop) and the batch
endpoint closed-loop, both with dedupe and normalisation on, driven by ``bench/loadgen`` (Go: it sends a
different body every request and does not compete with the service for a Python interpreter). The API
and a development token issuer run as their own processes, as under ``make run``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.cpu import cpu_shares, platform_pids
from bench.report import Figure
from deploy.local.procs import api_workers
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


WARM_UP_S = 3


@dataclass(frozen=True)
class RunningApi:
    base: str  # the API's base URL
    token: str  # a bearer token with the scope asked for
    pid: int  # the API's process, for its CPU share
    workers: tuple[int, ...] = ()  # with HELHET_API_PROCESSES > 1: the processes serving under ``pid``

    def serving(self, name: str) -> dict[str, int]:
        """The processes that serve requests, for their CPU shares."""
        if not self.workers:
            return {name: self.pid}
        return {f"{name} ({number})": pid for number, pid in enumerate(self.workers, 1)}

    def described(self, label: str) -> str:
        return f"{label}, {len(self.workers)} API processes" if self.workers else label


@contextmanager
def running_ingest(settings: CommonSettings, processes: int = 1) -> Iterator[RunningApi]:
    """Issuer and ingest API on free ports."""
    with running_api(settings, "services.ingest.main", "interactions:write", processes) as api:
        yield api


def service_env(settings: CommonSettings, **extra: str) -> dict[str, str]:
    """The environment of a service process started by a benchmark: this run's broker and database."""
    return {
        **os.environ,
        "HELHET_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "HELHET_MONGODB_URI": settings.mongodb_uri.get_secret_value(),
        "HELHET_SMTP_LISTEN_PORT": "0",
        "HELHET_LOG_LEVEL": "WARNING",
        **extra,
    }


@contextmanager
def running_api(
    settings: CommonSettings, module: str, scope: str, processes: int = 1
) -> Iterator[RunningApi]:
    """A development token issuer and ``python -m <module> api`` (in ``processes`` processes) on free
    ports, and a token with ``scope``."""
    issuer_port, api_port = _free_port(), _free_port()
    issuer = f"http://127.0.0.1:{issuer_port}"
    env = service_env(
        settings,
        HELHET_DEV_ISSUER_URL=issuer,
        HELHET_DEV_ISSUER_KEY_DIR=str(REPO / "var" / "bench-issuer"),
        HELHET_OIDC_ISSUER=issuer,
        HELHET_OIDC_JWKS_URL=f"{issuer}/.well-known/jwks.json",
        HELHET_API_PORT=str(api_port),
        HELHET_API_PROCESSES=str(processes),
    )
    py = sys.executable
    started = [
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
        subprocess.Popen([py, "-m", module, "api"], cwd=REPO, env=env, stdout=subprocess.DEVNULL),
    ]
    try:
        base = f"http://127.0.0.1:{api_port}"
        _wait_for(f"{issuer}/.well-known/jwks.json")
        _wait_for(f"{base}/readyz")
        token = httpx.post(
            f"{issuer}/oauth/token",
            data={"grant_type": "client_credentials", "scope": scope},
            auth=("helhet-dev", "helhet-dev-secret"),
        ).json()["access_token"]
        served_by = started[1].pid
        yield RunningApi(base, token, served_by, api_workers(served_by) if processes > 1 else ())
    finally:
        for process in started:
            process.terminate()
            process.wait(timeout=30)


def _loadgen(loadgen: Path, url: str, token: str, *flags: str) -> dict[str, Any]:
    return run_loadgen(loadgen, "-url", url, "-token", token, *flags)


def run_loadgen(loadgen: Path, *flags: str) -> dict[str, Any]:
    """``bench/loadgen`` with ``flags``; its JSON summary."""
    result = subprocess.run([str(loadgen), *flags], check=True, capture_output=True, text=True)
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def single_at_fixed_rate(
    loadgen: Path, api: RunningApi, rate: int, seconds: int, *, duplicates: bool
) -> list[Figure]:
    """Open loop at ``rate`` requests/s. Every request of the "all new" run is a different interaction
    (its own message id, phone and email: a dedupe claim and two normalisations each); the other run
    repeats one message, so every request after the first is a dedupe hit. Measured after a few
    seconds at the same rate, not counted: a service that just started grows its connection pools
    during its first requests, which a running one has done long ago."""
    label = api.described("ingest single POST, " + ("all duplicates" if duplicates else "all new"))
    flags = ["-rate", str(rate), "-duration", f"{seconds}s", "-connections", "64"]
    url = f"{api.base}/v1/interactions"
    _loadgen(loadgen, url, api.token, "-rate", str(rate), "-duration", f"{WARM_UP_S}s", "-connections", "64")
    with cpu_shares(label, {**api.serving("ingest"), **platform_pids()}) as cpu:
        report = _loadgen(loadgen, url, api.token, *flags, *(["-duplicate"] if duplicates else []))
    not_accepted = sum(count for status, count in report["statuses"].items() if status != "202")
    return [
        Figure(f"{label}: offered ({seconds} s)", float(rate), "req/s"),
        Figure(f"{label}: achieved", report["achieved_requests_per_s"], "req/s"),
        Figure(f"{label}: p50", report["p50_ms"], "ms"),
        Figure(f"{label}: p99", report["p99_ms"], "ms"),
        Figure(f"{label}: not 202 or not sent", float(not_accepted + report["unsent"]), "requests"),
        *cpu.figures(),
    ]


def batch_closed_loop(
    loadgen: Path, api: RunningApi, *, seconds: int, size: int, connections: int
) -> list[Figure]:
    """Closed loop over the batch endpoint: every item is a new interaction."""
    flags = ["-rate", "0", "-duration", f"{seconds}s", "-connections", str(connections), "-batch", str(size)]
    label = api.described(f"ingest batch ({size}/request, {connections} connections)")
    with cpu_shares(label, {**api.serving("ingest"), **platform_pids()}) as cpu:
        report = _loadgen(loadgen, f"{api.base}/v1/interactions:batch", api.token, *flags)
    failed = sum(count for status, count in report["statuses"].items() if status != "202")
    return [
        Figure(f"{label} rate", report["achieved_items_per_s"], "interactions/s"),
        Figure(api.described("ingest batch request p50"), report["p50_ms"], "ms"),
        Figure(api.described("ingest batch request p99"), report["p99_ms"], "ms"),
        Figure(api.described("ingest batch requests failed"), float(failed), "requests"),
        *cpu.figures(),
    ]
