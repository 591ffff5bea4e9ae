"""Ingest's collections. Dedupe keys live in ``_id`` (unique by nature); claims and receipts expire
after the dedupe window, longer than any channel retries a delivery (SMTP senders give up after 5 days)."""

from __future__ import annotations

from services.common.mongo import IndexSpec

DEDUPE_COLLECTION = "ingest_dedupe"
RECEIPTS_COLLECTION = "ingest_receipts"
DEDUPE_WINDOW_SECONDS = 14 * 24 * 3600

INDEXES: tuple[IndexSpec, ...] = (
    IndexSpec(
        DEDUPE_COLLECTION, [("claimed_at", 1)], name="expire", expire_after_seconds=DEDUPE_WINDOW_SECONDS
    ),
    IndexSpec(
        RECEIPTS_COLLECTION, [("published_at", 1)], name="expire", expire_after_seconds=DEDUPE_WINDOW_SECONDS
    ),
)
