"""Detached child processes tracked by pid files, and the port checks that guard their start."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from deploy.local.config import HOST


class StackError(RuntimeError):
    """A problem the user can act on; the CLI prints it without a traceback."""


@dataclass(frozen=True)
class ProcessSpec:
    """How to start one long-running process of the local stack."""

    name: str
    argv: Sequence[str]
    cwd: Path
    # Must appear in the process's command line for a pid file to count as ours, so a pid reused by
    # an unrelated process after a crash is never signalled.
    marker: str
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Running:
    name: str
    pid: int
    log: Path


def pid_path(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}.pid"


def log_path(log_dir: Path, name: str) -> Path:
    return log_dir / f"{name}.log"


def is_alive(pid: int) -> bool:
    try:
        # Reap it first if it is our own exited child; a zombie still answers kill(0).
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cmdline(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except FileNotFoundError:
        return None
    except OSError:
        return ""


def api_workers(pid: int) -> tuple[int, ...]:
    """The processes serving an API started with ``HELHET_API_PROCESSES`` > 1: uvicorn's workers, the
    children of ``pid`` that multiprocessing spawned (its resource tracker beside them serves nothing)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return tuple(int(child) for child in children if "spawn_main" in (_cmdline(int(child)) or ""))


def read_pid(run_dir: Path, name: str) -> int | None:
    """The pid of our running process ``name``; stale pid files are removed."""
    path = pid_path(run_dir, name)
    try:
        pid_text, marker = path.read_text().splitlines()[:2]
        pid = int(pid_text)
    except (FileNotFoundError, ValueError):
        path.unlink(missing_ok=True)
        return None
    cmdline = _cmdline(pid)
    # Without /proc (not Linux) fall back to liveness alone.
    ours = cmdline is None or marker in cmdline
    if is_alive(pid) and ours:
        return pid
    path.unlink(missing_ok=True)
    return None


def tracked_names(run_dir: Path) -> list[str]:
    return sorted(p.stem for p in run_dir.glob("*.pid"))


def start(spec: ProcessSpec, run_dir: Path, log_dir: Path) -> Running:
    """Start ``spec`` in its own session (so signals reach its whole tree) with output to its log."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_path(log_dir, spec.name)
    with log.open("ab") as out:
        out.write(f"--- started {datetime.now(UTC).isoformat()} ---\n".encode())
        out.flush()
        proc = subprocess.Popen(
            list(spec.argv),
            cwd=spec.cwd,
            env={**os.environ, **spec.env},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pid_path(run_dir, spec.name).write_text(f"{proc.pid}\n{spec.marker}\n")
    return Running(spec.name, proc.pid, log)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not is_alive(pid):
            return True
        time.sleep(0.1)
    return not is_alive(pid)


def stop(run_dir: Path, name: str, timeout_s: float) -> bool:
    """SIGTERM ``name``'s process group, SIGKILL it after ``timeout_s``; False if it was not running."""
    pid = read_pid(run_dir, name)
    if pid is None:
        return False
    _signal_group(pid, signal.SIGTERM)
    if not _wait_gone(pid, timeout_s):
        _signal_group(pid, signal.SIGKILL)
        _wait_gone(pid, 5.0)
    # Children that outlived the leader (same group) go too.
    _signal_group(pid, signal.SIGKILL)
    pid_path(run_dir, name).unlink(missing_ok=True)
    return True


def port_in_use(port: int) -> bool:
    """True if something listens on ``port`` on the loopback interface (or on all interfaces)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Same option the servers use, so a socket in TIME_WAIT does not count as taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def require_free(port: int, what: str, env_var: str) -> None:
    if port_in_use(port):
        raise StackError(
            f"Port {port} ({what}) on {HOST} is already in use by another process. "
            f"Stop that process (`ss -ltnp 'sport = :{port}'` shows which), "
            f"or pick another port with {env_var}=<port>."
        )


_JAVA_FRAME = re.compile(r"\s+(at \S+\(.*\)|\.\.\. \d+ more)$")


def log_tail(log: Path, lines: int = 15) -> str:
    """The log's last lines, without Java stack frames: they would push the exception itself out of view."""
    try:
        text = log.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log written)"
    kept = [line for line in text.splitlines() if not _JAVA_FRAME.match(line)]
    return "\n".join(kept[-lines:])
