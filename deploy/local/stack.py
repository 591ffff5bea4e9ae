"""The local platform: ``python -m deploy.local.stack fetch|up|down|status|run``.

Apache Kafka (KRaft) and mongo-java-server run as plain Java processes from jars cached outside the
repository; their state, logs and pid files live under ``HELHET_VAR_DIR`` (default ``<repo>/var``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from deploy.local import infra, runner
from deploy.local.config import StackConfig
from deploy.local.fetch import FetchError
from deploy.local.procs import Running, StackError, log_path

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console(highlight=False, soft_wrap=True)

P = ParamSpec("P")
R = TypeVar("R")


def _say(message: str) -> None:
    console.print(message)


def _clear_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Show problems the user can fix as one red message and exit 1, not as a traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (StackError, FetchError) as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(1) from None

    return wrapper


@app.command()
@_clear_errors
def fetch() -> None:
    """Resolve the Kafka and mongo-java-server jars from Maven Central (cached; fast when present)."""
    t0 = time.monotonic()
    infra.fetch(StackConfig.from_env(), _say)
    console.print(f"done in {time.monotonic() - t0:.1f} s")


@app.command()
@_clear_errors
def up() -> None:
    """Start Kafka and the MongoDB-wire server detached, wait until healthy, provision topics and indexes."""
    cfg = StackConfig.from_env()
    t0 = time.monotonic()
    infra.up(cfg, _say)
    console.print(f"[green]up[/] in {time.monotonic() - t0:.1f} s: {_addresses(cfg)}")


@app.command()
@_clear_errors
def down() -> None:
    """Stop everything the stack started (SIGTERM, then SIGKILL after a grace period)."""
    cfg = StackConfig.from_env()
    infra.down(cfg, _say)
    console.print("[green]down[/]")


@app.command()
@_clear_errors
def status() -> None:
    """Show which of the stack's processes run and whether they answer."""
    cfg = StackConfig.from_env()
    table = Table("process", "pid", "state")
    for row in infra.status(cfg):
        state = "[green]healthy[/]" if row.healthy else ("[yellow]not answering[/]" if row.pid else "stopped")
        table.add_row(row.name, str(row.pid or "-"), state)
    console.print(table)
    console.print(_addresses(cfg))


@app.command()
@_clear_errors
def run() -> None:
    """Start everything in the foreground (broker, database, helpers, services); Ctrl-C stops it all."""
    cfg = StackConfig.from_env()

    def show(running: list[tuple[runner.Child, Running]]) -> None:
        # Plain lines rather than a table: a narrow terminal must not cut paths short.
        console.print("[bold]Helhet local stack[/] (Ctrl-C stops everything started here)")
        console.print(f"  kafka       {cfg.kafka_bootstrap}  log {log_path(cfg.log_dir, 'kafka-server')}")
        console.print(f"  mongo       {cfg.mongodb_uri}  log {log_path(cfg.log_dir, 'mongo')}")
        for child, proc in running:
            console.print(f"  {child.spec.name:<11} {child.where}  log {proc.log}")

    runner.run(cfg, _say, show)


def _addresses(cfg: StackConfig) -> str:
    return f"Kafka {cfg.kafka_bootstrap}, MongoDB {cfg.mongodb_uri}, logs in {cfg.log_dir}"


if __name__ == "__main__":
    app()
