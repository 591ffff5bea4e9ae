"""Profile's integration fixtures: a publisher on the real broker (the database is `db`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.common.kafka.publisher import AsyncEventPublisher
from services.common.settings import CommonSettings


@pytest.fixture
async def publisher(infra: CommonSettings) -> AsyncIterator[AsyncEventPublisher]:
    publisher = AsyncEventPublisher(infra)
    await publisher.start()
    try:
        yield publisher
    finally:
        await publisher.stop()
