"""Where the local stack lives and which ports it uses, all overridable by ``HELHET_*`` variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_DIR = REPO_ROOT / "deploy" / "local"
HOST = "127.0.0.1"


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from None


def _path_env(name: str, default: Path) -> Path:
    raw = os.environ.get(name, "").strip()
    return Path(raw).expanduser().resolve() if raw else default


@dataclass(frozen=True)
class StackConfig:
    """Ports and paths of one local stack; tests build their own to stay off a running stack."""

    var_dir: Path
    cache_dir: Path
    kafka_port: int
    kafka_controller_port: int
    mongodb_port: int
    smtp_sink_port: int
    dev_issuer_port: int
    health_timeout_s: float

    @classmethod
    def from_env(cls) -> StackConfig:
        kafka_port = _int_env("HELHET_KAFKA_PORT", 9092)
        return cls(
            var_dir=_path_env("HELHET_VAR_DIR", REPO_ROOT / "var"),
            cache_dir=_path_env("HELHET_CACHE_DIR", Path.home() / ".cache" / "helhet"),
            kafka_port=kafka_port,
            kafka_controller_port=_int_env("HELHET_KAFKA_CONTROLLER_PORT", kafka_port + 1),
            mongodb_port=_int_env("HELHET_MONGODB_PORT", 27017),
            smtp_sink_port=_int_env("HELHET_SMTP_SINK_PORT", 1025),
            dev_issuer_port=_int_env("HELHET_DEV_ISSUER_PORT", 8000),
            health_timeout_s=float(_int_env("HELHET_STACK_HEALTH_TIMEOUT", 90)),
        )

    @property
    def kafka_bootstrap(self) -> str:
        return f"{HOST}:{self.kafka_port}"

    @property
    def mongodb_uri(self) -> str:
        return f"mongodb://{HOST}:{self.mongodb_port}/?directConnection=true"

    @property
    def run_dir(self) -> Path:
        return self.var_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.var_dir / "log"

    @property
    def mail_dir(self) -> Path:
        return self.var_dir / "mail"

    @property
    def kafka_dir(self) -> Path:
        return self.var_dir / "kafka"

    @property
    def mongo_file(self) -> Path:
        # Named by its format (MongoLauncher: BsonValues, documents under insertion order): a file of an
        # earlier format reads wrongly with it, so a new format starts a new file.
        return self.var_dir / "mongo" / "helhet-bson-ordered.mv"

    def child_env(self) -> dict[str, str]:
        """What every process we start needs to find the broker and the database."""
        return {
            "HELHET_KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "HELHET_MONGODB_URI": self.mongodb_uri,
            "HELHET_SMTP_SINK_PORT": str(self.smtp_sink_port),
            "HELHET_DEV_ISSUER_PORT": str(self.dev_issuer_port),
        }
