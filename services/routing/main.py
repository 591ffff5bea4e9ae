"""Entrypoints of routing: ``python -m services.routing.main api`` and ``... worker``."""

from __future__ import annotations

import faust
import typer
from fastapi import FastAPI

from services.common.http import serve_api, settled
from services.routing.inject import create_api, create_worker
from services.routing.settings import RoutingSettings

cli = typer.Typer(add_completion=False, no_args_is_help=True)


@cli.callback()
def entrypoints() -> None:
    """Helhet routing. Each command is one process role."""


@cli.command()
def api() -> None:
    """Serve the API: agents, presence, offers, queues, decisions, staffing and the dashboard."""
    settings = RoutingSettings()
    serve_api("services.routing.main:app", settings, settings.api_port)


@cli.command()
def worker() -> None:
    """Consume cases.v1 and tick the clock: offers, expiries, requeues, queue figures (scale out)."""
    settings = RoutingSettings()
    runtime = create_worker(settings)
    faust.Worker(runtime.app, loglevel=settings.log_level.lower()).execute_from_commandline()


def app() -> FastAPI:
    """The API, as each of its processes builds it."""
    return settled(create_api(RoutingSettings()))


if __name__ == "__main__":
    cli()
