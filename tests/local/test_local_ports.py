"""A port already in use stops `up` at once with a message naming the port and what to do."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from deploy.local import infra
from deploy.local.config import HOST, REPO_ROOT, StackConfig
from deploy.local.procs import StackError, port_in_use

pytestmark = pytest.mark.integration


@pytest.fixture
def occupied(isolated_cfg: StackConfig) -> Iterator[int]:
    """A foreign listener on the isolated config's MongoDB port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, isolated_cfg.mongodb_port))
        sock.listen()
        yield isolated_cfg.mongodb_port


def test_port_in_use_is_detected(occupied: int) -> None:
    assert port_in_use(occupied)


def test_up_refuses_before_starting_anything(fetched: None, isolated_cfg: StackConfig, occupied: int) -> None:
    with pytest.raises(StackError, match=rf"Port {occupied} \(MongoDB-wire server\).*HELHET_MONGODB_PORT"):
        infra.up(isolated_cfg)
    assert not list(isolated_cfg.run_dir.glob("*.pid"))


def test_cli_reports_the_port_and_exits_1(fetched: None, isolated_cfg: StackConfig, occupied: int) -> None:
    env = {
        **os.environ,
        "HELHET_VAR_DIR": str(isolated_cfg.var_dir),
        "HELHET_KAFKA_PORT": str(isolated_cfg.kafka_port),
        "HELHET_KAFKA_CONTROLLER_PORT": str(isolated_cfg.kafka_controller_port),
        "HELHET_MONGODB_PORT": str(occupied),
    }
    result = subprocess.run(
        [sys.executable, "-m", "deploy.local.stack", "up"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert f"Port {occupied}" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
