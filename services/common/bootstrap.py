"""Provision Kafka topics and MongoDB indexes once, before the services start.

Run by ``make infra-up``/``make run`` locally and by the Helm pre-install/pre-upgrade hook in a cluster:
``helhet-provision`` (``python -m services.common.bootstrap``). Each service declares its indexes in
``services/<name>/indexes.py`` as ``INDEXES``; this module finds them by that convention so the shared
runtime never imports service code directly.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import pkgutil

import typer

import services
from services.common.kafka.admin import provision_topics
from services.common.mongo import IndexSpec, create_mongo_client, database, ensure_indexes
from services.common.settings import CommonSettings

_log = logging.getLogger(__name__)


def declared_indexes() -> list[IndexSpec]:
    specs: list[IndexSpec] = []
    for service in pkgutil.iter_modules(services.__path__):
        try:
            module = importlib.import_module(f"services.{service.name}.indexes")
        except ModuleNotFoundError as error:
            if error.name != f"services.{service.name}.indexes":
                raise
            continue
        specs.extend(module.INDEXES)
    return specs


async def _bootstrap_indexes(settings: CommonSettings) -> None:
    client = create_mongo_client(settings)
    try:
        names = await ensure_indexes(database(client, settings), declared_indexes())
        _log.info("indexes ensured: %d", len(names))
    finally:
        await client.close()


def bootstrap(settings: CommonSettings, *, topics: bool = True) -> None:
    if topics:
        provision_topics(settings)
    asyncio.run(_bootstrap_indexes(settings))


cli = typer.Typer(add_completion=False)


@cli.command()
def provision(
    topics: bool = typer.Option(
        True, help="Also create and align the Kafka topics (off where Strimzi KafkaTopic resources own them)."
    ),
) -> None:
    """Create or align Kafka topics and MongoDB indexes from the HELHET_* environment; safe to repeat."""
    logging.basicConfig(level=logging.INFO)
    bootstrap(CommonSettings(), topics=topics)


if __name__ == "__main__":
    cli()
