"""Routing's MongoDB indexes (created by ``services.common.bootstrap``)."""

from __future__ import annotations

from services.common.mongo import IndexSpec
from services.routing.adapters.outbound.mongo_store import AGENTS, CASES

INDEXES = (
    # Compare-and-set filters on exactly these keys; mongo-java-server scans unless an index matches them.
    IndexSpec(AGENTS, [("_id", 1), ("version", 1)], "compare_and_set", unique=True),
    IndexSpec(CASES, [("_id", 1), ("version", 1)], "compare_and_set", unique=True),
)
