"""Fixtures for the local-platform tests: each starts its own processes on free ports and tmp paths,
so a running stack is never disturbed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from deploy.local import infra
from deploy.local.config import StackConfig
from tests.support.network import free_port


@pytest.fixture(scope="session")
def fetched() -> None:
    """The jars are in the shared cache (a no-op after the first fetch)."""
    infra.fetch(StackConfig.from_env())


@pytest.fixture
def isolated_cfg(tmp_path: Path) -> StackConfig:
    """The stack's config with state under tmp_path and free ports instead of the defaults."""
    kafka_port = free_port()
    return dataclasses.replace(
        StackConfig.from_env(),
        var_dir=tmp_path / "var",
        kafka_port=kafka_port,
        kafka_controller_port=free_port(),
        mongodb_port=free_port(),
        smtp_sink_port=free_port(),
        dev_issuer_port=free_port(),
        health_timeout_s=60.0,
    )
