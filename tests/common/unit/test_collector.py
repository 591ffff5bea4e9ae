"""A long-running process settles the cyclic collector once it is up."""

from __future__ import annotations

import gc
import importlib
from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from services.common.collector import settle_collector


@pytest.fixture
def default_collector() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        yield
    finally:
        gc.set_threshold(*before)


@pytest.mark.usefixtures("default_collector")
def test_a_settled_collector_leaves_what_exists_alone_and_looks_for_cycles_less_often() -> None:
    alive_since_start = [object() for _ in range(100)]

    settle_collector()

    assert gc.get_threshold()[0] >= 10_000
    assert gc.get_freeze_count() >= len(alive_since_start)


@pytest.mark.usefixtures("default_collector")
@pytest.mark.parametrize("service", ["ingest", "notify", "profile", "routing"])
def test_every_api_process_builds_its_app_and_settles_the_collector(service: str) -> None:
    """uvicorn calls the factory in each API process (``HELHET_API_PROCESSES``); the app's clients
    open later, in its lifespan, so building it needs no broker or database."""
    factory = importlib.import_module(f"services.{service}.main").app

    app = factory()

    assert isinstance(app, FastAPI)
    assert gc.get_threshold()[0] >= 10_000
