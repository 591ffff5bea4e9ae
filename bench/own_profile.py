"""What profile's benchmarks run on: a database of their own and profile's roles as their own processes
(as under ``make run``), started and stopped the same way by each benchmark."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from bench.ingest import REPO, service_env
from services.common.mongo import create_mongo_client, database, ensure_indexes
from services.common.settings import CommonSettings
from services.profile.indexes import INDEXES


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """These environment variables while the block runs (processes started meanwhile inherit them)."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def own_database(settings: CommonSettings, name: str) -> Iterator[CommonSettings]:
    """A fresh database with profile's indexes, dropped afterwards; the worker and API processes started
    meanwhile use it."""
    own = settings.model_copy(update={"mongodb_database": name})
    asyncio.run(_indexes(own))
    try:
        with environment(HELHET_MONGODB_DATABASE=name):
            yield own
    finally:
        asyncio.run(_drop(own))


@contextmanager
def running_role(settings: CommonSettings, role: str, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m services.profile.main <role>`` with these extra environment variables."""
    process = subprocess.Popen(
        [sys.executable, "-m", "services.profile.main", role],
        cwd=REPO,
        env=service_env(settings, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # stuck in a database write
            process.kill()
            process.wait()


async def _indexes(settings: CommonSettings) -> None:
    client = create_mongo_client(settings)
    try:
        await ensure_indexes(database(client, settings), INDEXES)
    finally:
        await client.close()


async def _drop(settings: CommonSettings) -> None:
    client = create_mongo_client(settings)
    try:
        await client.drop_database(settings.mongodb_database)
    finally:
        await client.close()
