"""Figures printed by ``make bench`` and kept as JSON under ``bench/results/``."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results"


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str


def publish(title: str, figures: list[Figure]) -> Path:
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("unit")
    for figure in figures:
        table.add_row(
            figure.name,
            f"{figure.value:,.0f}" if abs(figure.value) >= 10 else f"{figure.value:.2f}",
            figure.unit,
        )
    Console().print(table)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC)
    document = {
        "title": title,
        "at": stamp.isoformat(),
        "machine": {"cpus": _cpus(), "python": platform.python_version()},
        "figures": [asdict(figure) for figure in figures],
    }
    path = RESULTS / f"{stamp:%Y%m%dT%H%M%SZ}.json"
    text = json.dumps(document, indent=2)
    path.write_text(text)
    (RESULTS / "latest.json").write_text(text)
    return path


def _cpus() -> int:
    return len(os.sched_getaffinity(0))
