"""The development issuer, started as `make run` starts it, issues tokens a real service accepts.

Only needs local processes (no Kafka or MongoDB): the issuer runs under uvicorn in a subprocess, the
service under uvicorn in a thread, and everything talks real HTTP.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI

from deploy.local.dev_issuer import check_environment, load_or_create_signing_key
from services.common.http import ALL_SCOPES, Principal, create_app, require_scopes
from services.common.http.testing import serve
from services.common.settings import CommonSettings
from tests.support.network import free_port

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[3]
DEV_CLIENT = ("helhet-dev", "helhet-dev-secret")
CC = {"grant_type": "client_credentials"}
InteractionsWriter = Annotated[Principal, Depends(require_scopes("interactions:write"))]


def _issuer_command(port: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "deploy.local.dev_issuer:app",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def issuer_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "HELHET_ENVIRONMENT": "test",
        "HELHET_DEV_ISSUER_URL": url,
        "HELHET_DEV_ISSUER_KEY_DIR": str(tmp_path_factory.mktemp("dev-issuer")),
    }
    process = subprocess.Popen(
        _issuer_command(port), cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/.well-known/openid-configuration", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"dev issuer did not start:\n{output}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def service_url(issuer_url: str) -> Iterator[str]:
    router = APIRouter()

    @router.post("/v1/interactions")
    async def submit(interaction: dict[str, str], principal: InteractionsWriter) -> dict[str, str]:
        return {"client_id": principal.client_id, "channel": interaction["channel"]}

    settings = CommonSettings(oidc_issuer=issuer_url, oidc_jwks_url=f"{issuer_url}/.well-known/jwks.json")
    app: FastAPI = create_app(settings, title="probe", readiness={}, routers=[router])
    with serve(app) as url:
        yield url


def _token(issuer_url: str, **kwargs: object) -> httpx.Response:
    return httpx.post(f"{issuer_url}/oauth/token", timeout=5, **kwargs)  # type: ignore[arg-type]


def test_token_by_basic_auth_is_accepted_by_a_service(issuer_url: str, service_url: str) -> None:
    response = _token(issuer_url, data={"grant_type": "client_credentials"}, auth=DEV_CLIENT)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    grant = response.json()
    assert grant["token_type"] == "Bearer"
    assert grant["expires_in"] == 3600
    assert grant["scope"].split() == list(ALL_SCOPES)  # no scope asked: all of them

    call = httpx.post(
        f"{service_url}/v1/interactions",
        json={"channel": "sms"},
        headers={"Authorization": f"Bearer {grant['access_token']}"},
        timeout=5,
    )
    assert call.status_code == 200, call.text
    assert call.json() == {"client_id": "helhet-dev", "channel": "sms"}


def test_token_by_form_credentials_without_the_scope_is_403(issuer_url: str, service_url: str) -> None:
    response = _token(
        issuer_url,
        data={
            "grant_type": "client_credentials",
            "client_id": DEV_CLIENT[0],
            "client_secret": DEV_CLIENT[1],
            "scope": "customers:read interactions:read",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "interactions:read customers:read"
    call = httpx.post(
        f"{service_url}/v1/interactions",
        json={"channel": "sms"},
        headers={"Authorization": f"Bearer {response.json()['access_token']}"},
        timeout=5,
    )
    assert call.status_code == 403
    assert call.headers["content-type"] == "application/problem+json"


def test_service_rejects_requests_without_a_token_and_oversized_bodies(service_url: str) -> None:
    assert httpx.post(f"{service_url}/v1/interactions", json={"channel": "sms"}, timeout=5).status_code == 401

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * 65_536  # 1.25 MiB in total, over the 1 MiB default

    oversized = httpx.post(
        f"{service_url}/v1/interactions",
        content=chunks(),
        headers={"content-type": "application/json"},
        timeout=5,
    )
    # FastAPI reads a declared body before it resolves dependencies, so the limit answers before auth.
    assert oversized.status_code == 413
    assert oversized.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("kwargs", "status", "error"),
    [
        ({"data": CC, "auth": ("helhet-dev", "x")}, 401, "invalid_client"),
        ({"data": CC, "auth": ("nobody", DEV_CLIENT[1])}, 401, "invalid_client"),
        ({"data": CC}, 401, "invalid_client"),
        ({"data": {"grant_type": "client_credentials", "scope": "customers:delete"}, "auth": DEV_CLIENT},
         400, "invalid_scope"),
        ({"data": {"grant_type": "password"}, "auth": DEV_CLIENT}, 400, "unsupported_grant_type"),
        ({"data": {}, "auth": DEV_CLIENT}, 400, "invalid_request"),
        ({"json": {"grant_type": "client_credentials"}, "auth": DEV_CLIENT}, 400, "invalid_request"),
        ({"data": {"grant_type": "client_credentials", "client_id": "helhet-dev"}, "auth": DEV_CLIENT},
         400, "invalid_request"),
    ],
    ids=["wrong-secret", "unknown-client", "no-client", "unknown-scope", "password-grant", "no-grant-type",
         "json-body", "two-auth-methods"],
)  # fmt: skip
def test_token_errors_follow_rfc_6749(
    issuer_url: str, kwargs: dict[str, object], status: int, error: str
) -> None:
    response = _token(issuer_url, **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert "access_token" not in response.json()
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Basic")


def test_discovery_and_jwks(issuer_url: str) -> None:
    discovery = httpx.get(f"{issuer_url}/.well-known/openid-configuration", timeout=5).json()
    assert discovery["issuer"] == issuer_url
    assert discovery["token_endpoint"] == f"{issuer_url}/oauth/token"
    assert discovery["jwks_uri"] == f"{issuer_url}/.well-known/jwks.json"
    (key,) = httpx.get(discovery["jwks_uri"], timeout=5).json()["keys"]
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    assert key["kid"]
    assert not {"d", "p", "q"} & set(key)  # public members only


def test_issuer_refuses_to_start_in_production() -> None:
    env = {**os.environ, "HELHET_ENVIRONMENT": "production"}
    result = subprocess.run(
        _issuer_command(free_port()), cwd=REPO_ROOT, env=env, capture_output=True, timeout=30, check=False
    )
    assert result.returncode != 0
    assert b"HELHET_ENVIRONMENT" in result.stderr


@pytest.mark.parametrize("environment", [None, "", "development", "test"])
def test_development_environments_are_allowed(environment: str | None) -> None:
    check_environment(environment)


@pytest.mark.parametrize("environment", ["production", "staging", "Development"])
def test_other_environments_are_refused(environment: str) -> None:
    with pytest.raises(RuntimeError, match="refuses"):
        check_environment(environment)


def test_signing_key_is_persisted_privately_and_reused(tmp_path: Path) -> None:
    first = load_or_create_signing_key(tmp_path / "keys")
    second = load_or_create_signing_key(tmp_path / "keys")
    assert first.kid == second.kid
    key_file = tmp_path / "keys" / "signing-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [path.name for path in (tmp_path / "keys").iterdir()] == ["signing-key.pem"]  # no temp files left
