"""The local MongoDB-wire server: mongo-java-server with an H2 file, started by MongoLauncher.java."""

from __future__ import annotations

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from deploy.local.config import LOCAL_DIR, REPO_ROOT, StackConfig
from deploy.local.fetch import MONGO
from deploy.local.procs import ProcessSpec
from deploy.local.runtime import java

LAUNCHER = LOCAL_DIR / "MongoLauncher.java"


def prepare(cfg: StackConfig) -> ProcessSpec:
    cfg.mongo_file.parent.mkdir(parents=True, exist_ok=True)
    return ProcessSpec(
        name="mongo",
        argv=[
            java(),
            "-Xmx2g",
            # ZGC: G1's young pauses here were 80-270 ms (a page cache of live documents to copy on 2
            # cores), every 2-3 s: the p99 of every write. ZGC pauses stay under a millisecond.
            "-XX:+UseZGC",
            # The server logs through slf4j-simple; INFO would log every client connection.
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-cp",
            MONGO.classpath(cfg.cache_dir),
            str(LAUNCHER),
            str(cfg.mongodb_port),
            str(cfg.mongo_file),
        ],
        cwd=REPO_ROOT,
        marker=str(cfg.mongo_file),
    )


def healthy(cfg: StackConfig) -> bool:
    """The server answers ``ping``."""
    client: MongoClient[dict[str, object]] = MongoClient(
        cfg.mongodb_uri, serverSelectionTimeoutMS=1000, connectTimeoutMS=1000
    )
    try:
        client.admin.command("ping")
    except PyMongoError:
        return False
    finally:
        client.close()
    return True


def start_up_advice(cfg: StackConfig, log_tail: str) -> str | None:
    """H2 refusing its own file (e.g. "Chunk … not found", seen once after a clean stop) needs a person:
    the data in it cannot be served, and only they know whether it matters."""
    if "MVStoreException" not in log_tail:
        return None
    return (
        f"The database file {cfg.mongo_file} cannot be read. Move it away (to keep it for H2's recovery "
        f"tool) or delete {cfg.mongo_file.parent} to start with an empty database."
    )
