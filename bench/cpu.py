"""CPU used by each process of a benchmark run (service, database, broker), as a share of one core: with
the broker and the database on the same 2 cores, this says which of them set a figure's limit."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.report import Figure
from deploy.local.config import StackConfig
from deploy.local.procs import read_pid

_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system time so far; 0 once the process is gone."""
    try:
        # Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_S


def platform_pids() -> dict[str, int]:
    """The local stack's database and broker, when they run (``make bench`` starts them)."""
    cfg = StackConfig.from_env()
    found = {
        label: read_pid(cfg.run_dir, name) for label, name in (("database", "mongo"), ("broker", "kafka"))
    }
    return {label: pid for label, pid in found.items() if pid is not None}


@dataclass
class CpuShares:
    """Per process, the share of one core used while the block ran (filled in when it ends)."""

    label: str
    shares: dict[str, float] = field(default_factory=dict)

    def figures(self) -> list[Figure]:
        return [
            Figure(f"{self.label}: CPU of the {name} process", 100 * share, "% of a core")
            for name, share in self.shares.items()
        ]


@contextmanager
def cpu_shares(label: str, pids: Mapping[str, int]) -> Iterator[CpuShares]:
    result = CpuShares(label)
    before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
    started = time.monotonic()
    yield result
    elapsed = time.monotonic() - started
    for name, pid in pids.items():
        result.shares[name] = (_cpu_seconds(pid) - before[name]) / elapsed
