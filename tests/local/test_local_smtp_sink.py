"""The local SMTP sink keeps each message it receives as an .eml file."""

from __future__ import annotations

import smtplib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

import pytest

from deploy.local.config import HOST, REPO_ROOT, StackConfig
from deploy.local.procs import port_in_use

pytestmark = pytest.mark.integration


def _wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def sink(isolated_cfg: StackConfig) -> Iterator[StackConfig]:
    """The sink as ``run`` starts it: ``python -m deploy.local.smtp_sink`` on a free port."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "deploy.local.smtp_sink",
            "--port",
            str(isolated_cfg.smtp_sink_port),
            "--mail-dir",
            str(isolated_cfg.mail_dir),
        ],
        cwd=REPO_ROOT,
    )
    try:
        _wait_for(lambda: port_in_use(isolated_cfg.smtp_sink_port))
        yield isolated_cfg
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def _eml_files(mail_dir: Path) -> list[Path]:
    return sorted(mail_dir.glob("*.eml")) if mail_dir.is_dir() else []


def test_stores_each_message_as_eml(sink: StackConfig) -> None:
    for n in (1, 2):
        msg = EmailMessage()
        msg["From"] = "helhet@example.test"
        msg["To"] = "customer@example.test"
        msg["Subject"] = f"Takk for henvendelsen {n}"
        msg.set_content("Vi svarer innen to timer.")
        with smtplib.SMTP(HOST, sink.smtp_sink_port, timeout=10) as smtp:
            smtp.send_message(msg, to_addrs=["customer@example.test", "bcc@example.test"])

    _wait_for(lambda: len(_eml_files(sink.mail_dir)) == 2)
    stored = [BytesParser(policy=default).parsebytes(p.read_bytes()) for p in _eml_files(sink.mail_dir)]
    assert sorted(str(m["Subject"]) for m in stored) == ["Takk for henvendelsen 1", "Takk for henvendelsen 2"]
    assert stored[0]["X-Envelope-To"] == "<customer@example.test>, <bcc@example.test>"
    assert stored[0].get_content().strip() == "Vi svarer innen to timer."
    # Written atomically: no temporary files are left behind.
    assert sorted(p.name for p in sink.mail_dir.iterdir()) == [p.name for p in _eml_files(sink.mail_dir)]
