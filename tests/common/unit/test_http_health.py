"""Liveness, readiness with timeouts, and Prometheus metrics labelled by route template."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from fastapi import APIRouter, Request
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from services.common.http import PROBLEM_JSON, ReadinessCheck, create_app
from services.common.settings import CommonSettings

CANARY = "kari.canary@example.org"


async def _ok() -> None:
    return None


async def _broken() -> None:
    raise ConnectionError("mongodb://helhet:hunter2@db.internal:27017 refused")


async def _hangs() -> None:
    await asyncio.sleep(30)


def _router() -> APIRouter:
    router = APIRouter()

    @router.get("/v1/health-test/items/{item_id}")
    async def get_item(item_id: str) -> dict[str, int]:
        return {"length": len(item_id)}

    @router.post("/v1/health-test/upload")
    async def upload(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @router.get("/v1/health-test/fail")
    async def fail() -> None:
        raise RuntimeError("boom")

    return router


def _client(readiness: dict[str, ReadinessCheck]) -> TestClient:
    settings = CommonSettings(readiness_timeout_seconds=0.2, max_body_bytes=100)
    return TestClient(create_app(settings, title="health-test", readiness=readiness, routers=[_router()]))


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with _client({"kafka": _ok}) as client:
        yield client


def _count(route: str, method: str, status: str) -> float:
    labels = {"route": route, "method": method, "status": status}
    return REGISTRY.get_sample_value("helhet_http_requests_total", labels) or 0.0


def test_healthz_is_ok_even_when_dependencies_are_down() -> None:
    with _client({"mongo": _broken}) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_200_when_every_check_passes() -> None:
    with _client({"kafka": _ok, "mongo": _ok}) as client:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"kafka": "ok", "mongo": "ok"}}


def test_readyz_is_503_naming_the_failed_and_timed_out_checks() -> None:
    with _client({"kafka": _ok, "mongo": _broken, "smtp": _hangs}) as client:
        started = time.monotonic()
        response = client.get("/readyz")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["checks"] == {"kafka": "ok", "mongo": "failed", "smtp": "timeout"}
    assert "mongo" in body["detail"]
    assert "smtp" in body["detail"]
    assert "hunter2" not in response.text  # exception messages can hold credentials
    assert elapsed < 2  # checks run concurrently, each bounded by its timeout


def test_metrics_use_the_route_template_never_the_raw_path(client: TestClient) -> None:
    route = "/v1/health-test/items/{item_id}"
    before = _count(route, "GET", "200")
    assert client.get(f"/v1/health-test/items/{CANARY}").status_code == 200
    assert _count(route, "GET", "200") == before + 1
    duration = REGISTRY.get_sample_value(
        "helhet_http_request_duration_seconds_count", {"route": route, "method": "GET", "status": "200"}
    )
    assert duration is not None
    assert duration >= 1
    exposition = client.get("/metrics")
    assert exposition.status_code == 200
    assert exposition.headers["content-type"].startswith("text/plain")
    assert 'route="/v1/health-test/items/{item_id}"' in exposition.text
    assert CANARY not in exposition.text


def test_unmatched_paths_odd_methods_and_errors_get_bounded_labels(client: TestClient) -> None:
    unmatched = _count("<unmatched>", "GET", "404")
    other = _count("/v1/health-test/fail", "OTHER", "405")
    failed = _count("/v1/health-test/fail", "GET", "500")
    assert client.get(f"/v1/nothing-here/{CANARY}").status_code == 404
    assert client.request("BREW", "/v1/health-test/fail").status_code == 405
    assert client.get("/v1/health-test/fail").status_code == 500
    assert _count("<unmatched>", "GET", "404") == unmatched + 1
    assert _count("/v1/health-test/fail", "OTHER", "405") == other + 1
    assert _count("/v1/health-test/fail", "GET", "500") == failed + 1
    assert CANARY not in client.get("/metrics").text
    assert "BREW" not in client.get("/metrics").text


def test_413_is_counted_under_its_route(client: TestClient) -> None:
    route = "/v1/health-test/upload"
    before = _count(route, "POST", "413")
    assert client.post(route, content=b"x" * 101).status_code == 413
    assert _count(route, "POST", "413") == before + 1


def test_health_endpoints_stay_out_of_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not {"/healthz", "/readyz", "/metrics"} & set(paths)
