"""Ingest's collections. Dedupe keys live in ``_id`` (unique by nature): no secondary index needed."""

from __future__ import annotations

from services.common.mongo import IndexSpec

DEDUPE_COLLECTION = "ingest_dedupe"

INDEXES: tuple[IndexSpec, ...] = (
    # Lets an operator expire old published keys (filtering on published_at) without a collection scan.
    IndexSpec(DEDUPE_COLLECTION, [("published_at", 1)], name="published_at", sparse=True),
)
