"""Entrypoints of ingest: ``python -m services.ingest.main api``."""

from __future__ import annotations

import typer
import uvicorn

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
    # No access log: raw paths and queries can hold personal data; /metrics counts by route template.
    uvicorn.run(create_api(settings), host=settings.api_host, port=settings.api_port, access_log=False)


if __name__ == "__main__":
    cli()
