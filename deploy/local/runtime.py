"""The Java runtime the broker and the database run on."""

from __future__ import annotations

import shutil

from deploy.local.procs import StackError


def java() -> str:
    path = shutil.which("java")
    if path is None:
        raise StackError("Java 17 is not installed: run `apt-get install -y openjdk-17-jre-headless`.")
    return path
