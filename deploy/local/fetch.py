"""Resolves the broker and database jars from Maven Central into a cache outside the repository."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from deploy.local.config import LOCAL_DIR


class FetchError(RuntimeError):
    """Maven is missing or could not resolve a jar set."""


@dataclass(frozen=True)
class JarSet:
    """One pom under deploy/local/maven/ whose dependencies make up a runnable classpath."""

    name: str
    version_property: str

    @property
    def pom(self) -> Path:
        return LOCAL_DIR / "maven" / self.name / "pom.xml"

    @property
    def version(self) -> str:
        match = re.search(rf"<{re.escape(self.version_property)}>([^<]+)<", self.pom.read_text())
        if match is None:
            raise FetchError(f"{self.pom} has no <{self.version_property}>")
        return match.group(1).strip()

    def home(self, cache_dir: Path) -> Path:
        return cache_dir / f"{self.name}-{self.version}"

    def libs(self, cache_dir: Path) -> Path:
        return self.home(cache_dir) / "libs"

    def classpath(self, cache_dir: Path) -> str:
        # The JVM expands the wildcard itself; no shell is involved.
        return str(self.libs(cache_dir) / "*")

    def _pom_digest(self) -> str:
        return hashlib.sha256(self.pom.read_bytes()).hexdigest()

    def is_fetched(self, cache_dir: Path) -> bool:
        marker = self.home(cache_dir) / ".complete"
        return marker.is_file() and marker.read_text().strip() == self._pom_digest()

    def fetch(self, cache_dir: Path) -> bool:
        """Resolve the jars unless an earlier complete run left them; True when Maven ran."""
        if self.is_fetched(cache_dir):
            return False
        mvn = shutil.which("mvn")
        if mvn is None:
            raise FetchError("Maven (mvn) is not installed: run `apt-get install -y maven` (needs Java 17).")
        home = self.home(cache_dir)
        partial = home / "libs.partial"
        shutil.rmtree(partial, ignore_errors=True)
        home.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(self.pom),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={partial}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-20:])
            raise FetchError(f"mvn could not resolve {self.name} {self.version}:\n{tail}")
        # Swap in the new folder only once Maven succeeded, so an interrupted fetch is retried.
        shutil.rmtree(self.libs(cache_dir), ignore_errors=True)
        partial.rename(self.libs(cache_dir))
        (home / ".complete").write_text(self._pom_digest() + "\n")
        return True


KAFKA = JarSet("kafka", "kafka.version")
MONGO = JarSet("mongo-java-server", "mongo-java-server.version")
