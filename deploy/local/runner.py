"""``stack run``: the broker and database plus the helpers and every service, in the foreground."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from deploy.local import infra
from deploy.local.config import HOST, REPO_ROOT, StackConfig, _int_env
from deploy.local.procs import ProcessSpec, Running, StackError, is_alive, read_pid, require_free, start, stop

PROVIDER_SINK_PORT_VARIABLE = "HELHET_PROVIDER_SINK_PORT"


@dataclass(frozen=True)
class Service:
    name: str
    api_port: int
    entrypoints: tuple[str, ...] = ("api", "worker")


SERVICES = (
    Service("ingest", 8001, ("api",)),
    Service("profile", 8002, ("api", "worker", "webhooks")),
    Service("routing", 8003),
    Service("notify", 8004),
)


@dataclass(frozen=True)
class Child:
    spec: ProcessSpec
    where: str
    port: tuple[int, str] | None = None  # (port, env var) checked before anything starts


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: unwind and stop what was started."""


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def _child_env(cfg: StackConfig) -> dict[str, str]:
    env = cfg.child_env()
    issuer = f"http://{HOST}:{cfg.dev_issuer_port}"
    # The issuer names itself after the port it really listens on, and the services follow a moved
    # issuer port unless the user pointed them elsewhere.
    env["HELHET_DEV_ISSUER_URL"] = issuer
    env["HELHET_DEV_ISSUER_KEY_DIR"] = str(cfg.var_dir / "dev-issuer")
    sink = f"http://{HOST}:{provider_sink_port()}"
    defaults = {
        "HELHET_OIDC_ISSUER": issuer,
        "HELHET_OIDC_JWKS_URL": f"{issuer}/.well-known/jwks.json",
        # notify sends mail to the SMTP sink and SMS, Messenger, Instagram and chat to the provider sink.
        "HELHET_SMTP_HOST": HOST,
        "HELHET_SMTP_PORT": str(cfg.smtp_sink_port),
        "HELHET_SMS_BASE_URL": sink,
        "HELHET_META_BASE_URL": sink,
        "HELHET_CHAT_CALLBACK_URL": sink,
        # Survey links open ingest's own answer page.
        "HELHET_SURVEY_URL": f"http://{HOST}:{os.environ.get('HELHET_INGEST_PORT', '8001')}/v1/feedback/form",
        # Webhook receivers may be http on 127.0.0.1 locally (a CRM stand-in); https only elsewhere.
        "HELHET_WEBHOOK_ALLOW_INSECURE_URLS": "true",
    }
    env.update({k: v for k, v in defaults.items() if k not in os.environ})
    return env


def provider_sink_port() -> int:
    """Where the provider sink (Twilio, Meta's Send API, the chat callback) listens."""
    return _int_env(PROVIDER_SINK_PORT_VARIABLE, 1080)


def children(cfg: StackConfig) -> list[Child]:
    """The helpers and the entrypoints of every service that exists in this tree."""
    env = _child_env(cfg)
    py = sys.executable
    app = "deploy.local.dev_issuer:app"
    result = [
        Child(
            ProcessSpec(
                "dev-issuer",
                [
                    py,
                    "-m",
                    "uvicorn",
                    app,
                    "--host",
                    HOST,
                    "--port",
                    str(cfg.dev_issuer_port),
                    "--no-access-log",
                ],
                REPO_ROOT,
                app,
                env,
            ),
            f"http://{HOST}:{cfg.dev_issuer_port}",
            (cfg.dev_issuer_port, "HELHET_DEV_ISSUER_PORT"),
        )
    ]
    result.append(
        Child(
            ProcessSpec(
                "smtp-sink",
                [
                    py,
                    "-m",
                    "deploy.local.smtp_sink",
                    "--port",
                    str(cfg.smtp_sink_port),
                    "--mail-dir",
                    str(cfg.mail_dir),
                ],
                REPO_ROOT,
                "deploy.local.smtp_sink",
                env,
            ),
            f"smtp://{HOST}:{cfg.smtp_sink_port} → {cfg.mail_dir}",
            (cfg.smtp_sink_port, "HELHET_SMTP_SINK_PORT"),
        )
    )
    sink_port = provider_sink_port()
    outbox = cfg.var_dir / "outbox"
    result.append(
        Child(
            ProcessSpec(
                "provider-sink",
                [
                    py,
                    "-m",
                    "deploy.local.provider_sink",
                    "--port",
                    str(sink_port),
                    "--out-dir",
                    str(outbox),
                ],
                REPO_ROOT,
                "deploy.local.provider_sink",
                env,
            ),
            f"http://{HOST}:{sink_port} (SMS, Meta, chat) → {outbox}",
            (sink_port, PROVIDER_SINK_PORT_VARIABLE),
        )
    )
    for svc in SERVICES:
        if not (REPO_ROOT / "services" / svc.name / "main.py").is_file():
            continue
        module = f"services.{svc.name}.main"
        port_variable = f"HELHET_{svc.name.upper()}_PORT"
        port = int(os.environ.get(port_variable, svc.api_port))
        for entry in svc.entrypoints:
            api = entry == "api"
            where = f"http://{HOST}:{port}/docs" if api else "consumes Kafka"
            child_env = {**env, "HELHET_API_PORT": str(port)} if api else env
            spec = ProcessSpec(
                f"{svc.name}-{entry}", [py, "-m", module, entry], REPO_ROOT, f"{module} {entry}", child_env
            )
            result.append(Child(spec, where, (port, port_variable) if api else None))
    result.append(_demo(cfg, env, py))
    return result


def _demo(cfg: StackConfig, env: dict[str, str], py: str) -> Child:
    """Demo opening hours, agents and contacts, and the agents' desktops kept alive
    (``deploy/local/demo.py``)."""

    def url(service: Service) -> str:
        return f"http://{HOST}:{os.environ.get(f'HELHET_{service.name.upper()}_PORT', service.api_port)}"

    by_name = {svc.name: svc for svc in SERVICES}
    arguments = [
        "--issuer",
        f"http://{HOST}:{cfg.dev_issuer_port}",
        "--ingest",
        url(by_name["ingest"]),
        "--routing",
        url(by_name["routing"]),
        "--notify",
        url(by_name["notify"]),
        "--profile",
        url(by_name["profile"]),
        "--crm-key-file",
        str(cfg.var_dir / "demo-crm-api-key"),
    ]
    spec = ProcessSpec(
        "demo", [py, "-m", "deploy.local.demo", *arguments], REPO_ROOT, "deploy.local.demo", env
    )
    return Child(spec, "demo agents, contacts and desktops")


def _check_startable(cfg: StackConfig, planned: list[Child]) -> None:
    for child in planned:
        if read_pid(cfg.run_dir, child.spec.name) is not None:
            raise StackError(
                f"{child.spec.name} is still running from an earlier run; "
                "stop everything with `python -m deploy.local.stack down` first."
            )
        if child.port is not None:
            require_free(child.port[0], child.spec.name, child.port[1])


def run(cfg: StackConfig, say: infra.Say, show: Callable[[list[tuple[Child, Running]]], None]) -> None:
    """Start everything, report children that exit, stop all of it on SIGINT or SIGTERM."""
    previous = {sig: signal.signal(sig, _raise_interrupted) for sig in (signal.SIGINT, signal.SIGTERM)}
    started_infra: list[infra.Component] = []
    running: list[tuple[Child, Running]] = []
    try:
        started_infra = infra.up(cfg, say)
        planned = children(cfg)
        _check_startable(cfg, planned)
        for child in planned:
            running.append((child, start(child.spec, cfg.run_dir, cfg.log_dir)))
        show(running)
        _supervise(running, say)
    except Interrupted:
        say("stopping…")
    finally:
        # A second Ctrl-C must not abandon half-stopped processes.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        for child, _ in reversed(running):
            stop(cfg.run_dir, child.spec.name, 10.0)
        for comp in reversed(started_infra):
            infra.stop_component(cfg, comp)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    say("stopped everything this run started")
    kept = [comp.label for comp in infra.INFRA if comp not in started_infra]
    if kept:
        say(f"{' and '.join(kept)} ran before this run and stay up (`stack down` stops them)")


def _supervise(running: list[tuple[Child, Running]], say: infra.Say) -> None:
    """Wait for a signal; a child that exits is reported once (not restarted: its log says why)."""
    reported: set[str] = set()
    while True:
        for child, proc in running:
            if child.spec.name not in reported and not is_alive(proc.pid):
                reported.add(child.spec.name)
                say(f"[red]{child.spec.name} exited[/]; see {proc.log}")
        time.sleep(0.5)
