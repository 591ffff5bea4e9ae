"""Ingest's API served over real HTTP against the real broker and database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from services.common.http import set_token_verifier
from services.common.http.testing import LocalIssuer, serve
from services.common.settings import CommonSettings
from services.ingest.inject import create_api
from services.ingest.settings import IngestSettings


@pytest.fixture(scope="session")
def issuer() -> LocalIssuer:
    return LocalIssuer()


def ingest_app(settings: IngestSettings, issuer: LocalIssuer) -> FastAPI:
    app = create_api(settings)
    set_token_verifier(app, issuer.verifier())
    return app


@pytest.fixture
def ingest_url(infra: CommonSettings, issuer: LocalIssuer) -> Iterator[str]:
    settings = IngestSettings(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers, mongodb_uri=infra.mongodb_uri
    )
    with serve(ingest_app(settings, issuer)) as url:
        yield url
