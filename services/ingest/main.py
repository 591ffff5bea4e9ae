"""Entrypoints of ingest: ``python -m services.ingest.main api``."""

from __future__ import annotations

import typer
from fastapi import FastAPI

from services.common.http import serve_api, settled
from services.ingest.inject import create_api
from services.ingest.settings import IngestSettings

cli = typer.Typer(add_completion=False, no_args_is_help=True)


@cli.callback()
def entrypoints() -> None:
    """Helhet ingest. Each command is one process role."""


@cli.command()
def api() -> None:
    """Serve the REST intake (and, as they land, the channel webhooks)."""
    settings = IngestSettings()
    serve_api("services.ingest.main:app", settings, settings.api_port)


def app() -> FastAPI:
    """The API, as each of its processes builds it."""
    return settled(create_api(IngestSettings()))


if __name__ == "__main__":
    cli()
