"""Profile's integration fixtures: a publisher on the real broker (the database is `db`), and profile's
whole API served over real HTTP with a local token issuer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest

from services.common.http import set_token_verifier
from services.common.http.testing import LocalIssuer, serve
from services.common.settings import CommonSettings
from services.profile.inject import WorkerRuntime, create_api
from services.profile.settings import ProfileSettings
from tests.profile.integration.profile_flow import running_worker, worker_settings


@pytest.fixture
async def worker(infra: CommonSettings) -> AsyncIterator[WorkerRuntime]:
    """A running profile worker in a consumer group of its own."""
    async with running_worker(worker_settings(infra)) as runtime:
        yield runtime


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer()


@pytest.fixture
def profile_url(infra: CommonSettings, issuer: LocalIssuer) -> Iterator[str]:
    settings = ProfileSettings(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers, mongodb_uri=infra.mongodb_uri
    )
    app = create_api(settings)
    set_token_verifier(app, issuer.verifier())
    with serve(app) as url:
        yield url


@asynccontextmanager
async def api_client(
    url: str, issuer: LocalIssuer, scopes: Iterable[str], *, subject: str = "test-client"
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of profile's API holding a token with these scopes."""
    headers = {"Authorization": f"Bearer {issuer.token(list(scopes), subject=subject)}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        yield client
