"""Service processes a test starts on its own: when they are ready, and what they listen on."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from services.common.settings import CommonSettings

_LISTEN = "0A"  # the TCP state LISTEN in /proc/net/tcp
_REPO = Path(__file__).resolve().parents[2]


def start_role(infra: CommonSettings, module: str, command: str, **env: str) -> subprocess.Popen[bytes]:
    """``python -m <module> <command>`` on the test platform, with these extra environment variables."""
    return subprocess.Popen(
        [sys.executable, "-m", module, command],
        cwd=_REPO,
        env={
            **os.environ,
            "HELHET_KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
            "HELHET_MONGODB_URI": infra.mongodb_uri.get_secret_value(),
            "HELHET_LOG_LEVEL": "WARNING",
            **env,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_until_ready(base: str, process: subprocess.Popen[bytes], timeout_s: float = 90.0) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    last: httpx.Response | None = None
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the role exited early with {process.returncode}"
        try:
            last = httpx.get(f"{base}/readyz", timeout=5)
            if last.status_code == 200:
                return last
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"not ready within {timeout_s} s (last answer: {last and last.status_code})")


def wait_until_listening(pid: int, ports: set[int], timeout_s: float = 60.0) -> None:
    """Until process ``pid`` listens on all of ``ports``: a worker process opens its own listeners
    (ingest's SMTP) while a sibling may already answer on the shared HTTP port."""
    deadline = time.monotonic() + timeout_s
    while not ports <= (held := listening_ports(pid)):
        assert time.monotonic() < deadline, f"process {pid} listens on {sorted(held)}, not {sorted(ports)}"
        time.sleep(0.2)


def listening_ports(pid: int) -> set[int]:
    """The IPv4 TCP ports process ``pid`` holds a listening socket on (Linux)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == _LISTEN and inode in inodes:
            ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports
