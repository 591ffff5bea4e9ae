"""Starting, checking and stopping the broker and the database as detached processes."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import SecretStr

from deploy.local import kafka_broker, mongo_server
from deploy.local.config import StackConfig
from deploy.local.fetch import KAFKA, MONGO
from deploy.local.procs import (
    ProcessSpec,
    Running,
    StackError,
    is_alive,
    log_path,
    log_tail,
    read_pid,
    require_free,
    start,
    stop,
    tracked_names,
)
from services.common.bootstrap import bootstrap
from services.common.settings import CommonSettings

Say = Callable[[str], None]


def _quiet(_: str) -> None:
    """Default reporter: say nothing."""


@dataclass(frozen=True)
class Component:
    name: str
    label: str
    ports: Callable[[StackConfig], list[tuple[int, str]]]
    prepare: Callable[[StackConfig], ProcessSpec]
    healthy: Callable[[StackConfig], bool]
    stop_timeout_s: float
    # What to do about a start-up failure, judged from the log's last lines; None when it has no idea.
    advice: Callable[[StackConfig, str], str | None] = lambda _cfg, _tail: None


KAFKA_COMPONENT = Component(
    name="kafka",
    label="Kafka",
    ports=lambda c: [
        (c.kafka_port, "HELHET_KAFKA_PORT"),
        (c.kafka_controller_port, "HELHET_KAFKA_CONTROLLER_PORT"),
    ],
    prepare=kafka_broker.prepare,
    healthy=kafka_broker.healthy,
    # A controlled shutdown flushes logs and writes a clean-shutdown marker: give it time.
    stop_timeout_s=30.0,
)
MONGO_COMPONENT = Component(
    name="mongo",
    label="MongoDB-wire server",
    ports=lambda c: [(c.mongodb_port, "HELHET_MONGODB_PORT")],
    prepare=mongo_server.prepare,
    healthy=mongo_server.healthy,
    stop_timeout_s=15.0,
    advice=mongo_server.start_up_advice,
)
INFRA = (KAFKA_COMPONENT, MONGO_COMPONENT)


def fetch(cfg: StackConfig, say: Say = _quiet) -> None:
    for jars in (KAFKA, MONGO):
        if jars.fetch(cfg.cache_dir):
            say(f"fetched {jars.name} {jars.version} into {jars.libs(cfg.cache_dir)}")
        else:
            say(f"{jars.name} {jars.version} already in {jars.libs(cfg.cache_dir)}")


def check_ports(cfg: StackConfig, comp: Component) -> None:
    for port, env_var in comp.ports(cfg):
        require_free(port, comp.label, env_var)


def start_component(cfg: StackConfig, comp: Component) -> Running:
    """Start ``comp`` detached after checking its ports; does not wait for health."""
    check_ports(cfg, comp)
    return start(comp.prepare(cfg), cfg.run_dir, cfg.log_dir)


def wait_healthy(cfg: StackConfig, comp: Component, pid: int, deadline: float) -> None:
    log = log_path(cfg.log_dir, comp.name)
    while not comp.healthy(cfg):
        if not is_alive(pid):
            tail = log_tail(log)
            advice = comp.advice(cfg, tail)
            raise StackError(
                f"{comp.label} exited during start-up. Last lines of {log}:\n{tail}"
                + (f"\n{advice}" if advice else "")
            )
        if time.monotonic() > deadline:
            raise StackError(
                f"{comp.label} did not become healthy within {cfg.health_timeout_s:.0f} s "
                f"(HELHET_STACK_HEALTH_TIMEOUT). See {log}."
            )
        time.sleep(0.25)


def stop_component(cfg: StackConfig, comp: Component) -> bool:
    return stop(cfg.run_dir, comp.name, comp.stop_timeout_s)


def up(cfg: StackConfig, say: Say = _quiet) -> list[Component]:
    """Start whatever of the broker and database is not running, wait for both, provision them.

    Returns the components this call started; on failure those are stopped again.
    """
    fetch(cfg, say)
    running = {comp.name: read_pid(cfg.run_dir, comp.name) for comp in INFRA}
    # Every port is checked before anything starts, so a conflict leaves nothing half-started.
    for comp in INFRA:
        if running[comp.name] is None:
            check_ports(cfg, comp)
    started: list[tuple[Component, int]] = []
    waiting: list[tuple[Component, int]] = []
    try:
        for comp in INFRA:
            pid = running[comp.name]
            if pid is not None:
                say(f"{comp.label} already running (pid {pid})")
            else:
                pid = start_component(cfg, comp).pid
                started.append((comp, pid))
                say(f"started {comp.label} (pid {pid}, log {log_path(cfg.log_dir, comp.name)})")
            waiting.append((comp, pid))
        deadline = time.monotonic() + cfg.health_timeout_s
        t0 = time.monotonic()
        for comp, pid in waiting:
            wait_healthy(cfg, comp, pid, deadline)
            say(f"{comp.label} healthy after {time.monotonic() - t0:.1f} s")
        provision(cfg, say)
    except BaseException:
        for comp, _ in reversed(started):
            stop_component(cfg, comp)
        raise
    return [comp for comp, _ in started]


def provision(cfg: StackConfig, say: Say = _quiet) -> None:
    """Create topics and indexes once, from this one process (see field-notes on concurrent index builds)."""
    t0 = time.monotonic()
    bootstrap(
        CommonSettings(kafka_bootstrap_servers=cfg.kafka_bootstrap, mongodb_uri=SecretStr(cfg.mongodb_uri))
    )
    say(f"provisioned topics and indexes in {time.monotonic() - t0:.1f} s")


def down(cfg: StackConfig, say: Say = _quiet) -> None:
    """Stop every process the stack tracks: services and helpers first, then the broker and database."""
    infra = {comp.name: comp for comp in INFRA}
    for name in tracked_names(cfg.run_dir):
        if name not in infra and stop(cfg.run_dir, name, 10.0):
            say(f"stopped {name}")
    for comp in reversed(INFRA):
        if stop_component(cfg, comp):
            say(f"stopped {comp.label}")


@dataclass(frozen=True)
class Status:
    name: str
    pid: int | None
    healthy: bool


def status(cfg: StackConfig) -> list[Status]:
    rows = []
    infra = {comp.name: comp for comp in INFRA}
    for name in sorted({*infra, *tracked_names(cfg.run_dir)}):
        pid = read_pid(cfg.run_dir, name)
        comp = infra.get(name)
        ok = pid is not None and (comp is None or comp.healthy(cfg))
        rows.append(Status(name, pid, ok))
    return rows
