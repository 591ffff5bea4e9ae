"""Entrypoints of notify: ``python -m services.notify.main api`` and ``... worker``."""

from __future__ import annotations

import faust
import typer
from fastapi import FastAPI

from services.common.http import serve_api, settled
from services.notify.inject import create_api, create_worker
from services.notify.settings import NotifySettings

cli = typer.Typer(add_completion=False, no_args_is_help=True)


@cli.callback()
def entrypoints() -> None:
    """Helhet notify. Each command is one process role."""


@cli.command()
def api() -> None:
    """Serve the API: calendars, notifications, promises and templates."""
    settings = NotifySettings()
    serve_api("services.notify.main:app", settings, settings.api_port)


@cli.command()
def worker() -> None:
    """Consume cases.v1, assignments.v1 and queue-stats.v1 and tick the clock: acknowledgements, status
    updates, callbacks moved, surveys (scale out)."""
    settings = NotifySettings()
    runtime = create_worker(settings)
    faust.Worker(runtime.app, loglevel=settings.log_level.lower()).execute_from_commandline()


def app() -> FastAPI:
    """The API, as each of its processes builds it."""
    return settled(create_api(NotifySettings()))


if __name__ == "__main__":
    cli()
