"""The local Apache Kafka broker: single-node KRaft, configured from a template, formatted once."""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path
from string import Template

from kafka import KafkaAdminClient
from kafka.errors import RetriableError

from deploy.local.config import HOST, LOCAL_DIR, REPO_ROOT, StackConfig
from deploy.local.fetch import KAFKA
from deploy.local.procs import ProcessSpec, StackError
from deploy.local.runtime import java

TEMPLATE = LOCAL_DIR / "kafka-server.properties.template"
LOG4J = LOCAL_DIR / "log4j.properties"
HEAP = ("-Xms256m", "-Xmx768m")


def _properties(cfg: StackConfig) -> Path:
    return cfg.kafka_dir / "server.properties"


def _data_dir(cfg: StackConfig) -> Path:
    return cfg.kafka_dir / "data"


def new_cluster_id() -> str:
    """A random 22-character base64url id, as Kafka's own ``Uuid.randomUuid`` makes them."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        # Kafka avoids a leading '-' too: the CLI would read the id as an option.
        if not cid.startswith("-"):
            return cid


def _jvm(cfg: StackConfig, main_class: str) -> list[str]:
    return [
        java(),
        *HEAP,
        # The GC flags Kafka's own start scripts pass (kafka-run-class.sh): short pauses, not G1's 200 ms.
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:InitiatingHeapOccupancyPercent=35",
        "-XX:+ExplicitGCInvokesConcurrent",
        "-Djava.awt.headless=true",
        f"-Dlog4j.configuration=file:{LOG4J}",
        f"-Dkafka.logs.dir={cfg.log_dir}",
        "-cp",
        KAFKA.classpath(cfg.cache_dir),
        main_class,
    ]


def render_properties(cfg: StackConfig) -> str:
    return Template(TEMPLATE.read_text()).substitute(
        host=HOST,
        port=cfg.kafka_port,
        controller_port=cfg.kafka_controller_port,
        log_dirs=_data_dir(cfg),
    )


def prepare(cfg: StackConfig) -> ProcessSpec:
    """Render the broker config, format the storage on first use, and return how to start it."""
    cfg.kafka_dir.mkdir(parents=True, exist_ok=True)
    cfg.log_dir.mkdir(parents=True, exist_ok=True)
    props = _properties(cfg)
    props.write_text(render_properties(cfg))
    if not (_data_dir(cfg) / "meta.properties").is_file():
        result = subprocess.run(
            [*_jvm(cfg, "kafka.tools.StorageTool"), "format", "-t", new_cluster_id(), "-c", str(props)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            output = result.stdout + result.stderr
            raise StackError(f"Formatting Kafka storage in {_data_dir(cfg)} failed:\n{output}")
    return ProcessSpec(
        name="kafka",
        argv=[*_jvm(cfg, "kafka.Kafka"), str(props)],
        cwd=REPO_ROOT,
        marker=str(props),
    )


def healthy(cfg: StackConfig) -> bool:
    """The broker answers a metadata request."""
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=cfg.kafka_bootstrap,
            client_id="helhet-stack-health",
            # The caller polls until its own deadline; each try must give up quickly.
            bootstrap_timeout_ms=1000,
            request_timeout_ms=3000,
        )
    except (RetriableError, OSError):
        return False
    try:
        admin.describe_cluster()
    except (RetriableError, OSError):
        return False
    finally:
        admin.close()
    return True
