"""Entrypoints of profile: ``python -m services.profile.main api``, ``... worker`` and ``... webhooks``."""

from __future__ import annotations

import asyncio

import faust
import typer
from fastapi import FastAPI

from services.common.http import serve_api, settled
from services.profile.inject import create_api, create_webhook_deliverer, create_worker
from services.profile.settings import ProfileSettings

cli = typer.Typer(add_completion=False, no_args_is_help=True)


@cli.callback()
def entrypoints() -> None:
    """Helhet profile. Each command is one process role."""


@cli.command()
def api() -> None:
    """Serve the read API: profiles by id or identifier, and timelines."""
    settings = ProfileSettings()
    serve_api("services.profile.main:app", settings, settings.api_port)


@cli.command()
def worker() -> None:
    """Consume interactions, orders and web activity into the profiles (scale out: run more)."""
    settings = ProfileSettings()
    runtime = create_worker(settings)
    faust.Worker(runtime.app, loglevel=settings.log_level.lower()).execute_from_commandline()


@cli.command()
def webhooks() -> None:
    """Deliver customer and case changes to subscribed CRMs as signed webhooks (consumes profiles.v1 and
    cases.v1; scale out: run more)."""
    settings = ProfileSettings()
    asyncio.run(create_webhook_deliverer(settings).serve())


def app() -> FastAPI:
    """The API, as each of its processes builds it."""
    return settled(create_api(ProfileSettings()))


if __name__ == "__main__":
    cli()
