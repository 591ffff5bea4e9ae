"""A long-running process settles the cyclic collector once it is up."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

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
