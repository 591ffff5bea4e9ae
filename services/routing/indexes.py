"""Routing's MongoDB indexes (created by ``services.common.bootstrap``)."""

from __future__ import annotations

from services.common.mongo import IndexSpec

# None beyond ``_id``: every read and compare-and-set ({_id, version}) goes by it.
INDEXES: tuple[IndexSpec, ...] = ()
